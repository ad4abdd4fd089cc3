// The server's observability: JSON Lines events on stdout ({"ts":…,"event":…,…}), one per
// line, flushed; or the same fields as readable text ("TS EVENT key=value …", --format text). Session events (login, relay, …) are silenced by -q; lifecycle lines
// (listening, stats, shutdown) are always written. A test (or the fuzz target) passes a sink
// to read the events instead of stdout.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace m2m::platform {

enum class EventFormat : std::uint8_t { json, text };

class EventLog {
 public:
  using Sink = std::function<void(const std::string& line)>;
  explicit EventLog(bool quiet = false, Sink sink = {}) : quiet_(quiet), sink_(std::move(sink)) {}
  bool session_events() const { return !quiet_; }
  void set_format(EventFormat f) { format_ = f; }

  // A line under construction: fields keep their insertion order after ts and event.
  class Line {
   public:
    explicit Line(std::string_view event);
    template <class T>
    Line& add(std::string_view key, T&& value) {
      j_[std::string(key)] = std::forward<T>(value);
      return *this;
    }
    std::string text() const;      // the JSON line
    std::string readable() const;  // "TS EVENT key=value …": strings bare unless they need quotes

   private:
    nlohmann::ordered_json j_;
  };

  void write(const Line& line);  // always written
  void session(const Line& line) {
    if (!quiet_) write(line);
  }

 private:
  bool quiet_;
  EventFormat format_ = EventFormat::json;
  Sink sink_;
};

// Resident set size of this process in KiB (from /proc/self/statm), 0 when unknown.
std::uint64_t resident_kib();

}  // namespace m2m::platform
