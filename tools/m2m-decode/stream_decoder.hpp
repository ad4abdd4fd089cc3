// The heart of m2m-decode: wire bytes (or hex text) of one input in, one record per frame or
// error out. One StreamDecoder per input file, so offsets and framing restart per file.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/hex_stream.hpp"
#include "cli/output.hpp"
#include "cli/record_writer.hpp"
#include "m2m/deframer.hpp"

namespace m2m::decode {

struct Options {
  bool hex = false;      // input is hex text
  bool pretty = false;   // indented JSON
  bool text = false;     // --format text
  bool raw = true;       // "raw" member in frame objects
  bool ts = false;       // "ts" member / timestamp prefix
  bool quiet = false;    // no error records
  std::uint64_t count = 0;  // stop after this many frames; 0 = no limit
  CrcVariant crc = CrcVariant::modbus;
};

// Totals over every input of one run.
struct Totals {
  std::uint64_t frames = 0;
  std::uint64_t errors = 0;
  std::uint64_t bytes = 0;  // input bytes (text bytes with --hex)
  bool limit_reached(const Options& o) const { return o.count != 0 && frames >= o.count; }
};

class StreamDecoder {
 public:
  // `file` is added as a "file" member (and a text prefix) when non-empty.
  StreamDecoder(const Options& opt, Totals& totals, cli::RecordOutput& out, std::string file);

  void feed(ByteView chunk);  // raw bytes, or hex text with Options::hex
  void finish();              // end of this input
  bool done() const { return totals_.limit_reached(opt_) || !out_.ok(); }

 private:
  void deframe(ByteView bytes);
  void drain();
  void emit_frame(const ai::DeframeEvent& ev);
  void emit_error(const Error& e, ByteView raw, std::uint64_t skipped);

  const Options& opt_;
  Totals& totals_;
  cli::RecordOutput& out_;
  cli::RecordWriter writer_;
  std::string file_;
  ai::Deframer deframer_;
  cli::HexTextStream hex_;
  Bytes hex_bytes_;          // decoded hex text of the current chunk
};

}  // namespace m2m::decode
