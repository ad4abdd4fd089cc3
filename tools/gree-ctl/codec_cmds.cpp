// decode / encode: offline frame <-> JSON on stdin/stdout, for pipes and log analysis.
#include <iostream>
#include <string>

#include "cli/cli.hpp"
#include "cli/hex_stream.hpp"
#include "cli/input.hpp"
#include "commands.hpp"
#include "core/bytes.hpp"

namespace gree_ctl {

using m2m::cli::Exit;
using namespace m2m::gree;

namespace {

// A record with "file" first when several inputs are decoded (as m2m-decode does).
Json labelled(const std::string& file, Json j) {
  if (file.empty()) return j;
  Json out;
  out["file"] = file;
  for (auto& [k, v] : j.items()) out[k] = std::move(v);
  return out;
}

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
bool emit(const StreamReader::Item& it, Checksum ck, bool at_end, const std::string& file) {
  if (!it.is_frame) {
    const bool truncated = at_end && !it.bytes.empty() && (is_request_start(it.bytes[0]) || it.bytes[0] == kStatusStart);
    m2m::cli::write_line(labelled(file, error_record(truncated ? "truncated" : "garbage", it.offset, it.bytes,
                                                     truncated ? "input ended inside a frame"
                                                               : m2m::cli::plural(it.bytes.size(), "byte") + " outside any frame"))
                             .dump());
    return false;
  }
  Json out;
  if (it.bytes[0] == kStatusStart) {
    auto s = decode_status(it.bytes, ck);
    if (!s) {
      m2m::cli::write_line(
          labelled(file, error_record(m2m::to_string(s.error().kind), it.offset + s.error().offset, it.bytes, s.error().message)).dump());
      return false;
    }
    out = status_to_json(*s, ck);
  } else {
    auto r = decode_request(it.bytes, ck);
    if (!r) {
      m2m::cli::write_line(
          labelled(file, error_record(m2m::to_string(r.error().kind), it.offset + r.error().offset, it.bytes, r.error().message)).dump());
      return false;
    }
    out = request_to_json(*r, ck);
  }
  out["offset"] = it.offset;
  return m2m::cli::write_line(labelled(file, std::move(out)).dump());
}

// A bad_hex error: offset is the character's position in the text; the message gives its
// line and column (m2m::cli::HexTextStream, shared with m2m-decode --hex).
bool emit_hex_error(const m2m::Error& e, const std::string& file) {
  m2m::cli::write_line(labelled(file, error_record("bad_hex", e.offset, {}, e.message)).dump());
  return false;
}

}  // namespace

int cmd_decode(Checksum ck, const std::vector<std::string>& names) {
  std::vector<std::string> files = names;
  if (files.empty()) files.push_back("-");
  const bool label = files.size() > 1;  // offsets restart at 0 in each file
  bool clean = true, io_failed = false;
  std::vector<std::uint8_t> buf(m2m::cli::kInputChunk);
  for (const std::string& name : files) {
    auto in = m2m::cli::InputFile::open(name);
    if (!in) {
      m2m::cli::error(kProg, in.error().message);
      io_failed = true;
      continue;
    }
    const std::string file = label ? in->name() : std::string();
    StreamReader reader;
    m2m::cli::HexTextStream hex;
    m2m::Bytes bytes;
    for (;;) {
      auto n = in->read(buf);
      if (!n) {
        m2m::cli::error(kProg, n.error().message);
        io_failed = true;
        break;
      }
      if (*n == 0) break;
      m2m::ByteView chunk(buf.data(), *n);
      while (!chunk.empty()) {
        bytes.clear();
        chunk = chunk.subspan(hex.feed(chunk, bytes));
        reader.feed(bytes);  // the bytes before a bad character come first
        while (auto it = reader.next()) clean &= emit(*it, ck, false, file);
        if (auto& e = hex.error()) clean &= emit_hex_error(*e, file);
      }
    }
    bytes.clear();
    auto tail_error = hex.finish(bytes);  // a held-back last word may still yield bytes
    reader.feed(bytes);
    while (auto it = reader.next()) clean &= emit(*it, ck, false, file);
    if (tail_error) clean &= emit_hex_error(*tail_error, file);
    while (auto it = reader.finish()) clean &= emit(*it, ck, true, file);
  }
  if (io_failed) return Exit::failure;
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
