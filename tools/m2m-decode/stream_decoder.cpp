#include "stream_decoder.hpp"

#include "cli/cli.hpp"

namespace m2m::decode {

StreamDecoder::StreamDecoder(const Options& opt, Totals& totals, cli::RecordOutput& out, std::string file)
    : opt_(opt),
      totals_(totals),
      out_(out),
      writer_(out, opt.text ? cli::RecordFormat::text : opt.pretty ? cli::RecordFormat::pretty : cli::RecordFormat::json, opt.raw),
      file_(std::move(file)),
      deframer_(opt.crc) {}

void StreamDecoder::feed(ByteView chunk) {
  totals_.bytes += chunk.size();
  if (!opt_.hex) {
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
    if (auto e = hex_.finish()) emit_error(*e, {}, 0);
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
    if (ev.ok) emit_frame(ev);
    else emit_error(ev.error, ev.raw, ev.skipped);
  }
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
