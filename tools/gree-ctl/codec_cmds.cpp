// decode / encode: offline frame <-> JSON on stdin/stdout, for pipes and log analysis.
#include <iostream>
#include <string>

#include "cli/cli.hpp"
#include "commands.hpp"
#include "core/bytes.hpp"

namespace gree_ctl {

using m2m::cli::Exit;
using namespace m2m::gree;

namespace {

Json error_record(std::string_view kind, std::uint64_t offset, m2m::ByteView raw, const std::string& message) {
  Json j;
  j["v"] = 1;
  j["error"] = kind;
  j["offset"] = offset;
  j["raw"] = m2m::to_hex(raw);
  j["message"] = message;
  return j;
}

// One item of the stream reader as a JSON line; returns false for an error record.
bool emit(const StreamReader::Item& it, Checksum ck, bool at_end) {
  if (!it.is_frame) {
    const bool truncated = at_end && !it.bytes.empty() && (is_request_start(it.bytes[0]) || it.bytes[0] == kStatusStart);
    m2m::cli::write_line(error_record(truncated ? "truncated" : "garbage", it.offset, it.bytes,
                                      truncated ? "input ended inside a frame"
                                                : std::to_string(it.bytes.size()) + " bytes outside any frame")
                             .dump());
    return false;
  }
  Json out;
  if (it.bytes[0] == kStatusStart) {
    auto s = decode_status(it.bytes, ck);
    if (!s) {
      m2m::cli::write_line(error_record(m2m::to_string(s.error().kind), it.offset + s.error().offset, it.bytes, s.error().message).dump());
      return false;
    }
    out = status_to_json(*s, ck);
  } else {
    auto r = decode_request(it.bytes, ck);
    if (!r) {
      m2m::cli::write_line(error_record(m2m::to_string(r.error().kind), it.offset + r.error().offset, it.bytes, r.error().message).dump());
      return false;
    }
    out = request_to_json(*r, ck);
  }
  out["offset"] = it.offset;
  return m2m::cli::write_line(out.dump());
}

}  // namespace

int cmd_decode(Checksum ck) {
  StreamReader reader;
  bool clean = true;
  std::uint64_t text_offset = 0;
  std::string line;
  while (std::getline(std::cin, line)) {
    auto bytes = m2m::parse_hex_text(line);
    if (!bytes) {
      m2m::cli::write_line(error_record("bad_hex", text_offset + bytes.error().offset, {}, bytes.error().message).dump());
      clean = false;
    } else {
      reader.feed(*bytes);
      while (auto it = reader.next()) clean &= emit(*it, ck, false);
    }
    text_offset += line.size() + 1;
  }
  while (auto it = reader.finish()) clean &= emit(*it, ck, true);
  return clean ? Exit::ok : Exit::protocol;
}

int cmd_encode(Checksum ck) {
  bool clean = true;
  std::string line;
  std::uint64_t n = 0;
  while (std::getline(std::cin, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Json j = Json::parse(line, nullptr, false);
    if (j.is_discarded()) {
      m2m::cli::error(kProg, "line " + std::to_string(n) + ": not JSON");
      clean = false;
      continue;
    }
    auto frame = encode_json(j, ck);
    if (!frame) {
      m2m::cli::error(kProg, "line " + std::to_string(n) + ": " + frame.error().message);
      clean = false;
      continue;
    }
    if (!m2m::cli::write_line(m2m::to_hex(*frame))) break;
  }
  return clean ? Exit::ok : Exit::protocol;
}

}  // namespace gree_ctl
