#include "cli/record_writer.hpp"

#include "cli/cli.hpp"
#include "cli/json_pretty.hpp"
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
      append_pretty_json(out, scratch_);
    } else {
      ai::append_frame_json(out, f, shown, extra(meta));
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
