#include "platform/events.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "core/units.hpp"

namespace m2m::platform {


EventLog::Line::Line(std::string_view event) {
  j_["ts"] = timestamp_now();
  j_["event"] = std::string(event);
}

std::string EventLog::Line::text() const { return j_.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

std::string EventLog::Line::readable() const {
  std::string out;
  for (const auto& [key, v] : j_.items()) {
    if (key == "ts" || key == "event") {
      if (!out.empty()) out += ' ';
      out += v.get<std::string>();
      continue;
    }
    out += ' ';
    out += key;
    out += '=';
    if (v.is_string()) {
      const std::string& sv = v.get_ref<const std::string&>();
      const bool bare = !sv.empty() && sv.find_first_of(" \t\"'=\\") == std::string::npos &&
                        std::all_of(sv.begin(), sv.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x20; });
      out += bare ? sv : v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } else {
      out += v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
  }
  return out;
}

void EventLog::write(const Line& line) {
  const std::string text = format_ == EventFormat::text ? line.readable() : line.text();
  if (sink_) return sink_(text);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

std::uint64_t resident_kib() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, resident = 0;
  int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  if (n != 2) return 0;
  return static_cast<std::uint64_t>(resident) * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE)) / 1024;
}

}  // namespace m2m::platform
