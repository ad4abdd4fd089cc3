#include "stream_decoder.hpp"

#include <algorithm>
#include <cstdio>

#include "cli/cli.hpp"
#include "cli/json_pretty.hpp"
#include "m2m/json.hpp"

namespace m2m::decode {

StreamDecoder::StreamDecoder(const Options& opt, Totals& totals, cli::RecordOutput& out, std::string file)
    : opt_(opt), totals_(totals), out_(out), file_(std::move(file)), deframer_(opt.crc, ai::kGarbageRawLimit) {
  if (!file_.empty()) extra_["file"] = file_;
}

const nlohmann::json* StreamDecoder::extra() {
  if (opt_.ts) extra_["ts"] = cli::timestamp_now();
  return extra_.empty() ? nullptr : &extra_;
}

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
  std::string& out = out_.buffer();
  if (opt_.text) {
    if (opt_.ts) out.append(cli::timestamp_now()).push_back(' ');
    if (!file_.empty()) out.append(file_).append(": ");
    out += ai::frame_summary(ev.frame);
  } else {
    const ByteView raw = opt_.raw ? ev.raw : ByteView{};
    if (opt_.pretty) {
      scratch_.clear();
      ai::append_frame_json(scratch_, ev.frame, raw, extra());
      cli::append_pretty_json(out, scratch_);
    } else {
      ai::append_frame_json(out, ev.frame, raw, extra());
    }
  }
  out.push_back('\n');
  out_.end_record();
}

void StreamDecoder::emit_error(const Error& e, ByteView raw, std::uint64_t skipped) {
  ++totals_.errors;
  if (opt_.quiet) return;
  std::string& out = out_.buffer();
  if (opt_.text) {
    if (opt_.ts) out.append(cli::timestamp_now()).push_back(' ');
    if (!file_.empty()) out.append(file_).append(": ");
    out.append("error ").append(to_string(e.kind)).append(" offset=").append(std::to_string(e.offset));
    out.append(": ").append(e.message);
    if (!raw.empty()) out.append(" raw=").append(to_hex(raw));
  } else {
    // Extra members first, as append_frame_json puts them, so every record reads alike.
    std::string body;  // keys in the documented order: v, error, offset, …
    ai::append_error_json(body, e, raw, skipped);
    scratch_.clear();
    if (const nlohmann::json* x = extra()) {
      const std::string head = x->dump();
      scratch_.append(head, 0, head.size() - 1).push_back(',');
      scratch_.append(body, 1);
    } else {
      scratch_ = body;
    }
    if (opt_.pretty) cli::append_pretty_json(out, scratch_);
    else out += scratch_;
  }
  out.push_back('\n');
  out_.end_record();
}

}  // namespace m2m::decode
