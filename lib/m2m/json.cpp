// Frame <-> JSON object in the interchange schema (DESIGN.md "Interchange formats").
//
// append_frame_json is the single source of truth for the decoded-frame object: it writes
// text directly (fast path for m2m-decode), and frame_to_json parses that text, so the two
// can never disagree about field names or order. The same holds for append_error_json and
// error_to_json.
#include "m2m/json.hpp"

#include <cctype>
#include <cstdio>

#include "m2m/json_input.hpp"
#include "m2m/json_text.hpp"
#include "m2m/messages.hpp"

namespace m2m::ai {

using detail::JsonOut;

std::string status_name(std::uint8_t s) {
  switch (s) {
    case status::ok: return "ok";
    case status::fail: return "fail";
    case status::request: return "request";
    case status::unsupported: return "unsupported";
    default: return std::to_string(s);
  }
}

Result<nlohmann::json> body_to_json(const FrameView& f) {
  std::string text;
  if (auto r = detail::append_body(text, f); !r) return unexpected(std::move(r).error());
  // Our own writer's output: parsing it cannot fail, but never throw from the codec.
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return fail(ErrorKind::bad_value, "internal: body JSON does not parse");
  return j;
}

namespace {

// A JSON string that stays valid UTF-8 whatever the bytes (invalid sequences are replaced).
std::string safe_string(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Members of `extra` without its braces: ts, peer, dir first in that order (a json object
// keeps its keys sorted, which would put dir first), then any others.
void append_extra(JsonOut& w, const nlohmann::json* extra) {
  if (!extra || !extra->is_object()) return;
  auto member = [&](const std::string& key, const nlohmann::json& value) {
    w.element();
    w.raw(safe_string(key)).raw(":").raw(value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  };
  static const std::string kLead[] = {"ts", "peer", "dir"};
  for (const auto& key : kLead)
    if (auto it = extra->find(key); it != extra->end()) member(key, *it);
  for (auto it = extra->begin(); it != extra->end(); ++it)
    if (it.key() != "ts" && it.key() != "peer" && it.key() != "dir") member(it.key(), *it);
}

}  // namespace

void append_frame_json(std::string& out, const FrameView& f, ByteView raw, const nlohmann::json* extra) {
  out.reserve(out.size() + 200 + 2 * (f.data.size() + f.token.size()) + 2 * raw.size());
  JsonOut w(out);
  w.open();
  append_extra(w, extra);
  const std::string_view type = type_name(f.cls, f.cmd);
  w.key("v").num(1);
  w.key("type").str(type);
  w.key("class").num(f.cls);
  w.key("cmd").num(f.cmd);
  w.key("seq").num(f.seq);
  w.key("ext").num(f.ext);
  w.key("status");
  switch (f.status) {
    case status::ok: w.str("ok"); break;
    case status::fail: w.str("fail"); break;
    case status::request: w.str("request"); break;
    case status::unsupported: w.str("unsupported"); break;
    default: w.num(f.status);
  }
  std::uint8_t id[8];
  for (int i = 0; i < 8; ++i) id[i] = static_cast<std::uint8_t>(f.device >> (56 - 8 * i));
  w.key("device").hex(ByteView(id, 8));
  if (has_token_field(f.cls, f.cmd)) w.key("token").hex(f.token);
  w.key("data").hex(f.data);
  if (type != "unknown") {
    const std::size_t before = out.size();
    w.key("body");
    if (auto r = detail::append_body(out, f); r) {
      w.raw("");  // the body was a value
    } else {
      out.resize(before);
      w.raw("");  // data was the last value written
      w.key("body_error").raw(safe_string(r.error().message));
    }
  }
  if (!raw.empty()) w.key("raw").hex(raw);
  w.close();
}

nlohmann::json frame_to_json(const FrameView& f, ByteView raw) {
  std::string text;
  append_frame_json(text, f, raw);
  return nlohmann::json::parse(text, nullptr, false);
}

void append_error_json(std::string& out, const Error& e, ByteView raw, std::uint64_t skipped) {
  JsonOut w(out);
  w.open();
  w.key("v").num(1);
  w.key("error").str(to_string(e.kind));
  w.key("offset").num(e.offset);
  if (skipped != 0 || e.kind == ErrorKind::garbage) w.key("skipped").num(skipped);
  w.key("raw").hex(raw);
  // Messages may quote input text; make sure the line stays valid UTF-8.
  w.key("message").raw(safe_string(e.message));
  w.close();
}

nlohmann::json error_to_json(const Error& e, ByteView raw, std::uint64_t skipped) {
  std::string text;
  append_error_json(text, e, raw, skipped);
  return nlohmann::json::parse(text, nullptr, false);
}

// ---- JSON -> frame ---------------------------------------------------------------------
namespace {

using namespace detail;

std::uint8_t status_of(const json& v) {
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (s == "request") return status::request;
    if (s == "ok") return status::ok;
    if (s == "fail") return status::fail;
    if (s == "unsupported") return status::unsupported;
    if (s.empty() || !std::isdigit(static_cast<unsigned char>(s[0])))
      bad_input("status: expected request, ok, fail, unsupported or a number 0-255, got \"" + s + "\"");
  }
  return static_cast<std::uint8_t>(get_uint(v, "status", 255));
}

// class and cmd from `type`, or from `class` + `cmd` when type is "unknown" or absent.
void command_of(const json& j, Frame& f) {
  const json* type = member(j, "type");
  const json* cls = member(j, "class");
  const json* cmd = member(j, "cmd");
  const std::string_view tname = type ? std::string_view(get_string(*type, "type")) : std::string_view("unknown");
  if (tname != "unknown") {
    auto info = find_type(tname);
    if (!info)
      bad_input("type: unknown command type \"" + std::string(tname) +
                "\" (see m2m-protocol(7); or give \"class\" and \"cmd\")");
    f.cls = info->cls;
    f.cmd = info->cmd;
    if ((cls && get_uint(*cls, "class", 255) != f.cls) || (cmd && get_uint(*cmd, "cmd", 255) != f.cmd)) {
      char buf[128];
      std::snprintf(buf, sizeof buf, "class/cmd: disagree with type %s (%02X %02X)", info->type.data(), f.cls,
                    f.cmd);
      bad_input(buf);
    }
    return;
  }
  const char* why = type ? "unknown)" : "not given)";
  if (!cls) bad_input(std::string("class: missing (needed when type is ") + why);
  if (!cmd) bad_input(std::string("cmd: missing (needed when type is ") + why);
  f.cls = static_cast<std::uint8_t>(get_uint(*cls, "class", 255));
  f.cmd = static_cast<std::uint8_t>(get_uint(*cmd, "cmd", 255));
}

Frame frame_from(const json& j) {
  if (!j.is_object()) bad_input("expected a JSON object for a frame, got " + std::string(j.type_name()));
  if (member(j, "error") && !member(j, "type") && !member(j, "class"))
    bad_input("this is a decode error record (\"error\"), not a frame");
  if (const json* v = member(j, "v"); v && get_uint(*v, "v", 255) != 1)
    bad_input("v: this program reads version 1 of the frame format, got " + v->dump());
  Frame f;
  command_of(j, f);
  if (const json* v = member(j, "seq")) f.seq = static_cast<std::uint16_t>(get_uint(*v, "seq", 65535));
  if (const json* v = member(j, "ext")) f.ext = static_cast<std::uint16_t>(get_uint(*v, "ext", 65535));
  if (const json* v = member(j, "status")) f.status = status_of(*v);
  if (const json* v = member(j, "device")) f.device = get_device(*v, "device");
  if (const json* v = member(j, "token")) {
    f.token = get_hex(*v, "token");
    if (!has_token_field(f.cls, f.cmd) && !f.token.empty())
      bad_input("token: " + std::string(type_name(f.cls, f.cmd)) + " frames have no token field");
    if (f.token.size() > 255)
      bad_input("token: " + std::to_string(f.token.size()) + " bytes; the field holds at most 255");
  }
  if (const json* b = member(j, "body")) {
    auto data = body_from_json(f.cls, f.cmd, f.status, *b);
    if (!data) bad_input(std::move(data).error().message);
    f.data = std::move(*data);
  } else if (const json* d = member(j, "data")) {
    f.data = get_hex(*d, "data");
  }
  return f;
}

}  // namespace

Result<Frame> frame_from_json(const nlohmann::json& j) {
  try {
    Frame f = frame_from(j);
    if (std::size_t n = unescaped_size(f.view()); n > kMaxFrame)
      return fail(ErrorKind::too_long,
                  std::string(member(j, "body") ? "body" : "data") + ": " + too_long_message(f.view()));
    return f;
  } catch (const BadInput& e) {
    return fail(ErrorKind::bad_json, e.message);
  } catch (const std::exception& e) {
    // nlohmann type errors on input nobody anticipated: a clean error, never a throw.
    return fail(ErrorKind::bad_json, std::string("not a usable frame object: ") + e.what());
  }
}

// ---- one-line summary ------------------------------------------------------------------
namespace {

std::string compact(const nlohmann::json& v) {
  return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// key=value pairs of a body; nested objects as dotted keys, arrays compact JSON, strings bare
// unless they need quoting.
void summarize(std::string& out, const nlohmann::json& v, const std::string& prefix) {
  for (auto it = v.begin(); it != v.end(); ++it) {
    const std::string k = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (it->is_object() && !it->empty()) {
      summarize(out, *it, k);
      continue;
    }
    out += ' ';
    out += k;
    out += '=';
    if (it->is_string()) {
      const std::string& s = it->get_ref<const std::string&>();
      bool plain = !s.empty() && s.find_first_of(" \"=\\") == std::string::npos;
      for (unsigned char c : s) plain = plain && c >= 0x20;
      out += plain ? s : compact(*it);
    } else {
      out += compact(*it);
    }
  }
}

}  // namespace

std::string frame_summary(const FrameView& f) {
  // "status=7" rather than a bare "7" for statuses without a name.
  const std::string st = status_name(f.status);
  const bool named = !std::isdigit(static_cast<unsigned char>(st[0]));
  char head[96];
  std::snprintf(head, sizeof head, "%02X %02X %s %s%s seq=%u", f.cls, f.cmd, type_name(f.cls, f.cmd).data(),
                named ? "" : "status=", st.c_str(), unsigned{f.seq});
  std::string out = head;
  if (f.ext != 0) out += " ext=" + std::to_string(f.ext);
  out += " dev=" + format_device(f.device);
  // The header token matters when chasing "frames ignored" (token mismatch) problems.
  if (has_token_field(f.cls, f.cmd) && !f.token.empty()) out += " tok=" + to_hex(f.token);
  if (type_name(f.cls, f.cmd) == "unknown") {
    if (!f.data.empty()) out += " data=" + to_hex(f.data);
    return out;
  }
  if (auto body = body_to_json(f)) {
    summarize(out, *body, "");
  } else {
    out += " body_error=" + compact(body.error().message);
    out += " data=" + to_hex(f.data);
  }
  return out;
}

}  // namespace m2m::ai
