// The heart of m2m-decode: wire bytes (or hex text) of one input in, one record per frame or
// error out. One StreamDecoder per input file, so offsets and framing restart per file.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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
  bool crc_hinted = false;  // each hint is given once per run, however many inputs
  bool hex_hinted = false;
  bool limit_reached(const Options& o) const { return o.count != 0 && frames >= o.count; }
};

// What the per-input loop drives: one decoder per input, so offsets and framing restart per
// file. feed() counts its chunk into Totals::bytes.
class InputDecoder {
 public:
  virtual ~InputDecoder() = default;
  virtual void feed(ByteView chunk) = 0;
  virtual void finish() = 0;  // end of this input
  virtual bool done() const = 0;  // -n reached, or the reader went away
};

using MakeDecoder = std::function<std::unique_ptr<InputDecoder>(cli::RecordOutput& out, Totals& totals, std::string file)>;

// Decodes every input in `files` ("-" = stdin) with a decoder from `make` (`file` is the
// input's name when there are several, else empty); with `verbose` prints the totals, `noun` (singular)
// naming what was counted. Returns the exit code.
int decode_files(std::string_view prog, const Options& opt, const std::vector<std::string>& files, bool verbose,
                 std::string_view noun, const MakeDecoder& make);

class StreamDecoder : public InputDecoder {
 public:
  // `file` is added as a "file" member (and a text prefix) when non-empty.
  StreamDecoder(const Options& opt, Totals& totals, cli::RecordOutput& out, std::string file);

  void feed(ByteView chunk) override;  // raw bytes, or hex text with Options::hex
  void finish() override;
  bool done() const override { return totals_.limit_reached(opt_) || !out_.ok(); }

 private:
  void deframe(ByteView bytes);
  void drain();
  void emit_frame(const ai::DeframeEvent& ev);
  void emit_error(const Error& e, ByteView raw, std::uint64_t skipped);
  void check_crc_variants(ByteView unescaped);
  void probe_hex(ByteView chunk);
  void hex_verdict();

  const Options& opt_;
  Totals& totals_;
  cli::RecordOutput& out_;
  cli::RecordWriter writer_;
  std::string file_;
  ai::Deframer deframer_;
  cli::HexTextStream hex_;
  Bytes hex_bytes_;          // decoded hex text of the current chunk
  // Without --hex: the first kHexProbe bytes are also read as hex text, to say "try --hex"
  // when they read cleanly and hold a frame head.
  static constexpr std::size_t kHexProbe = 1024;
  std::size_t probe_left_ = kHexProbe;
  bool probe_head_ = false;  // the probe decoded a 0x55
  cli::HexTextStream probe_;
  Bytes probe_bytes_;
};

}  // namespace m2m::decode
