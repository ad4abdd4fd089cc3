#include "cli/record_writer.hpp"

#include "cli/cli.hpp"
#include "cli/json_pretty.hpp"
#include "core/bytes.hpp"
#include "m2m/data.hpp"
#include "m2m/json.hpp"

namespace m2m::cli {
namespace {

// Sets or removes one member without reallocating a member that stays.
void put(nlohmann::json& j, const char* key, std::string_view value) {
  if (value.empty()) {
    j.erase(key);
    return;
  }
  auto& slot = j[key];
  if (slot.is_string()) slot.get_ref<std::string&>().assign(value);
  else slot = std::string(value);
}

// Valid UTF-8 without control characters other than tab and line ends: worth showing as text.
bool printable_utf8(ByteView b) {
  std::size_t i = 0;
  while (i < b.size()) {
    const std::uint8_t c = b[i];
    if (c < 0x80) {
      if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F) return false;
      ++i;
      continue;
    }
    const std::size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
    if (n == 0 || (n == 3 && c >= 0xF0) || i + n > b.size()) return false;
    std::uint32_t cp = c & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
    for (std::size_t k = 1; k < n; ++k) {
      if ((b[i + k] & 0xC0) != 0x80) return false;
      cp = cp << 6 | (b[i + k] & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
      return false;
    if (cp >= 0x80 && cp < 0xA0) return false;  // C1 controls
    i += n;
  }
  return true;
}

// The payload a data-class frame's JSON body shows (requests of data.relay, data.p2p_send,
// data.uplink and data.downlink), taken from the frame itself: the hex in the record is never
// parsed back (that cost m2m-decode 40% of its speed).
ByteView body_payload(const ai::FrameView& f) {
  if (f.cls != ai::cls::data || f.status != ai::status::request) return {};
  switch (ai::command_key(f.cls, f.cmd)) {
    case ai::cmd::data_relay:
      if (auto r = ai::get_relay(f.data)) return r->payload;
      return {};
    case ai::cmd::data_p2p_send:
      if (auto p = ai::get_p2p_send(f.data)) return p->payload;
      return {};
    case ai::cmd::data_uplink:
    case ai::cmd::data_downlink:
      return ai::get_payload(f.data).payload;
    default:
      return {};
  }
}

// A data-class frame whose body "payload" is printable UTF-8 gets a last member "text" with
// that payload as text (m2m-protocol(7) JSON INTERCHANGE); the other members stay as they are.
// `json` ends with the frame's compact object.
void add_payload_text(std::string& json, const ai::FrameView& f) {
  const ByteView payload = body_payload(f);
  if (payload.empty() || json.empty() || json.back() != '}' || !printable_utf8(payload)) return;
  const std::string text(payload.begin(), payload.end());
  json.pop_back();
  json.append(",\"text\":").append(nlohmann::json(text).dump()).push_back('}');
}

}  // namespace

const nlohmann::json* RecordWriter::extra(const Meta& meta) {
  const bool none = !meta.ts && meta.peer.empty() && meta.dir.empty() && meta.file.empty();
  if (none && extra_.empty()) return nullptr;  // the decoder's hot path: nothing to add
  put(extra_, "ts", meta.ts ? timestamp_now() : std::string());
  put(extra_, "peer", meta.peer);
  put(extra_, "dir", meta.dir);
  put(extra_, "file", meta.file);
  return extra_.empty() ? nullptr : &extra_;
}

void RecordWriter::text_prefix(std::string& out, const Meta& meta) const {
  if (meta.ts) out.append(timestamp_now()).push_back(' ');
  if (!meta.peer.empty()) out.append(meta.peer).push_back(' ');
  if (!meta.dir.empty()) out.append(meta.dir).push_back(' ');
  if (!meta.file.empty()) out.append(meta.file).append(": ");
}

bool RecordWriter::frame(const ai::FrameView& f, ByteView raw, const Meta& meta) {
  std::string& out = out_.buffer();
  if (format_ == RecordFormat::text) {
    text_prefix(out, meta);
    out += ai::frame_summary(f);
  } else {
    const ByteView shown = raw_ ? raw : ByteView{};
    if (format_ == RecordFormat::pretty) {
      scratch_.clear();
      ai::append_frame_json(scratch_, f, shown, extra(meta));
      add_payload_text(scratch_, f);
      append_pretty_json(out, scratch_);
    } else {
      ai::append_frame_json(out, f, shown, extra(meta));
      add_payload_text(out, f);
    }
  }
  out.push_back('\n');
  return out_.end_record();
}

bool RecordWriter::error(const Error& e, ByteView raw, std::uint64_t skipped, const Meta& meta) {
  std::string& out = out_.buffer();
  if (format_ == RecordFormat::text) {
    text_prefix(out, meta);
    out.append("error ").append(to_string(e.kind)).append(" offset=").append(std::to_string(e.offset));
    out.append(": ").append(e.message);
    if (!raw.empty()) out.append(" raw=").append(to_hex(raw));
  } else {
    // Stream members first and in the order append_frame_json puts them (ts, peer, dir,
    // file), then the error object's keys in their documented order: v, error, offset, …
    body_.clear();
    ai::append_error_json(body_, e, raw, skipped);
    scratch_.assign("{");
    const auto member = [this](const char* key, std::string_view value) {
      if (value.empty()) return;
      scratch_.append("\"").append(key).append("\":");
      scratch_.append(nlohmann::json(std::string(value)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      scratch_.push_back(',');
    };
    if (meta.ts) member("ts", timestamp_now());
    member("peer", meta.peer);
    member("dir", meta.dir);
    member("file", meta.file);
    scratch_.append(body_, 1);
    if (format_ == RecordFormat::pretty) append_pretty_json(out, scratch_);
    else out += scratch_;
  }
  out.push_back('\n');
  return out_.end_record();
}

}  // namespace m2m::cli
