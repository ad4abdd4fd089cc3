#include "stream_decoder.hpp"

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
