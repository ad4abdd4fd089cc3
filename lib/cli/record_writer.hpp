// The one writer of frame records and error records, for every program that prints frames
// (m2m-decode, m2m-send, and the coming m2m-simdevice and m2m-loadtest).
//
// Formats: json (one object per line: the decoded-frame or decode-error object of
// m2m-protocol(7) JSON INTERCHANGE), pretty (the same object indented), text (one summary line).
// Stream members: `ts` (ISO-8601 UTC, milliseconds), `peer` (ip:port), `dir` (rx/tx) and
// `file`, each present when the record's Meta gives it. In JSON they come first, in that
// order, in frame and error records alike; in text they prefix the line:
// "TS PEER DIR FILE: summary". A data-class frame whose payload is printable UTF-8 also gets a
// last member "text", the payload as text (the hex in body.payload stays).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "cli/output.hpp"
#include "core/error.hpp"
#include "m2m/frame.hpp"

namespace m2m::cli {

enum class RecordFormat : std::uint8_t { json, pretty, text };

class RecordWriter {
 public:
  struct Meta {
    bool ts = false;           // stamp the record with the current time
    std::string_view peer;     // empty: no member
    std::string_view dir;
    std::string_view file;
  };

  // `raw`: frame objects carry their wire bytes in "raw" (m2m-decode --no-raw turns it off).
  RecordWriter(RecordOutput& out, RecordFormat format, bool raw = true) : out_(out), format_(format), raw_(raw) {}

  // One record each, with its newline; returns false once the output is gone.
  bool frame(const ai::FrameView& f, ByteView raw, const Meta& meta);
  bool error(const Error& e, ByteView raw, std::uint64_t skipped, const Meta& meta);

  RecordFormat format() const { return format_; }

 private:
  const nlohmann::json* extra(const Meta& meta);  // null when the record has no stream member
  void text_prefix(std::string& out, const Meta& meta) const;

  RecordOutput& out_;
  RecordFormat format_;
  bool raw_;
  nlohmann::json extra_ = nlohmann::json::object();  // reused: members are updated in place
  std::string scratch_;  // compact JSON before `pretty` indents it
  std::string body_;
};

}  // namespace m2m::cli
