#include "stream_decoder.hpp"

#include <algorithm>
#include <cstdio>

#include "cli/cli.hpp"
#include "cli/input.hpp"

namespace m2m::decode {

int decode_files(std::string_view prog, const Options& opt, const std::vector<std::string>& files, bool verbose,
                 std::string_view noun, const MakeDecoder& make) {
  cli::RecordOutput out;
  Totals totals;
  bool io_failed = false;
  std::vector<std::uint8_t> buf(cli::kInputChunk);
  const bool label = files.size() > 1;
  for (const std::string& name : files) {
    if (totals.limit_reached(opt) || !out.ok() || cli::interrupted()) break;
    auto in = cli::InputFile::open(name);
    if (!in) {
      cli::error(prog, in.error().message);
      io_failed = true;
      continue;
    }
    std::unique_ptr<InputDecoder> dec = make(out, totals, label ? in->name() : std::string());
    for (;;) {
      auto n = in->read(buf);
      if (!n) {
        cli::error(prog, n.error().message);
        io_failed = true;
        break;
      }
      if (*n == 0) break;
      dec->feed(m2m::ByteView(buf.data(), *n));
      out.flush();  // every record of this chunk is out before we wait for the next one
      if (dec->done() || cli::interrupted()) break;
    }
    if (!cli::interrupted()) dec->finish();
    out.flush();
  }
  out.flush();
  if (verbose) {
    std::fprintf(stderr, "%.*s: %s, %s, %s\n", static_cast<int>(prog.size()), prog.data(),
                 cli::plural(totals.frames, noun).c_str(), cli::plural(totals.errors, "error").c_str(),
                 cli::plural(totals.bytes, "input byte").c_str());
  }
  if (cli::interrupted()) return cli::interrupted_exit;
  if (io_failed) return cli::failure;
  if (!out.ok()) return cli::ok;  // the reader went away (head, less): not our failure
  return totals.errors > 0 ? cli::protocol : cli::ok;
}

StreamDecoder::StreamDecoder(const Options& opt, Totals& totals, cli::RecordOutput& out, std::string file)
    : opt_(opt),
      totals_(totals),
      out_(out),
      writer_(out, opt.text ? cli::RecordFormat::text : opt.pretty ? cli::RecordFormat::pretty : cli::RecordFormat::json, opt.raw),
      file_(std::move(file)),
      deframer_(opt.crc, ai::kGarbageRawLimit) {}

void StreamDecoder::feed(ByteView chunk) {
  totals_.bytes += chunk.size();
  if (!opt_.hex) {
    if (probe_left_ > 0) probe_hex(chunk);
    deframe(chunk);
    return;
  }
  while (!chunk.empty() && !done()) {
    hex_bytes_.clear();
    const std::size_t used = hex_.feed(chunk, hex_bytes_);
    chunk = chunk.subspan(used);
    deframe(hex_bytes_);  // the bytes before a bad character come first
    if (auto& e = hex_.error(); e && !done()) emit_error(*e, {}, 0);
  }
}

void StreamDecoder::finish() {
  if (opt_.hex && !done()) {
    hex_bytes_.clear();
    auto e = hex_.finish(hex_bytes_);  // a held first word of the last line
    deframe(hex_bytes_);
    if (e && !done()) emit_error(*e, {}, 0);
  }
  if (!opt_.hex && probe_left_ > 0) {
    probe_bytes_.clear();
    (void)probe_.finish(probe_bytes_);  // an odd digit at the end still reads as hex text
    probe_head_ |= std::find(probe_bytes_.begin(), probe_bytes_.end(), ai::kHead) != probe_bytes_.end();
    hex_verdict();
  }
  deframer_.finish();
  drain();
}

void StreamDecoder::deframe(ByteView bytes) {
  if (bytes.empty()) return;
  deframer_.feed(bytes);
  drain();
}

void StreamDecoder::drain() {
  ai::DeframeEvent ev;
  while (!done() && deframer_.next(ev)) {
    if (ev.ok) {
      emit_frame(ev);
      continue;
    }
    if (ev.error.kind == ErrorKind::bad_crc && !totals_.crc_hinted) check_crc_variants(ev.unescaped);
    emit_error(ev.error, ev.raw, ev.skipped);
  }
}

// Only frames that failed their CRC are checked, against the variants not chosen: the
// valid-frame path pays nothing, and the hint stops the checks once given.
void StreamDecoder::check_crc_variants(ByteView u) {
  if (u.size() < ai::kMinFrame) return;
  const std::uint16_t want = get_le16(&u[u.size() - 3]);
  for (CrcVariant v : {CrcVariant::modbus, CrcVariant::ccitt_false, CrcVariant::xmodem}) {
    if (v == opt_.crc || crc16(v, u.first(u.size() - 3)) != want) continue;
    const std::string name(to_string(v));
    std::fprintf(stderr, "m2m-decode: hint: the CRC matches %s: try --crc %s\n", name.c_str(), name.c_str());
    totals_.crc_hinted = true;
    return;
  }
}

// Hex text read as raw bytes is all garbage (its characters never include 0x55). Reading the
// start of the input as hex text as well tells that apart: it must parse without a bad
// character and hold a frame head.
void StreamDecoder::probe_hex(ByteView chunk) {
  if (totals_.hex_hinted) {
    probe_left_ = 0;
    return;
  }
  const ByteView text = chunk.first(std::min(chunk.size(), probe_left_));
  probe_bytes_.clear();
  probe_.feed(text, probe_bytes_);
  if (probe_.error()) {  // not hex text: stop looking
    probe_left_ = 0;
    return;
  }
  probe_head_ |= std::find(probe_bytes_.begin(), probe_bytes_.end(), ai::kHead) != probe_bytes_.end();
  probe_left_ -= text.size();
  if (probe_left_ == 0) hex_verdict();
}

void StreamDecoder::hex_verdict() {
  probe_left_ = 0;
  if (!probe_head_ || totals_.hex_hinted) return;
  std::fputs("m2m-decode: hint: this looks like hex text: try --hex\n", stderr);
  totals_.hex_hinted = true;
}

void StreamDecoder::emit_frame(const ai::DeframeEvent& ev) {
  ++totals_.frames;
  writer_.frame(ev.frame, ev.raw, {opt_.ts, {}, {}, file_});
}

void StreamDecoder::emit_error(const Error& e, ByteView raw, std::uint64_t skipped) {
  ++totals_.errors;
  if (opt_.quiet) return;
  writer_.error(e, raw, skipped, {opt_.ts, {}, {}, file_});
}

}  // namespace m2m::decode
