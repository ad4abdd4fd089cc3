#include "telematics/json.hpp"

#include <cctype>
#include <cstdio>

#include "telematics/messages.hpp"

namespace m2m::telematics {
namespace {

using ojson = nlohmann::ordered_json;
using nlohmann::json;

struct BadInput {
  std::string message;
};
[[noreturn]] void bad(std::string m) { throw BadInput{std::move(m)}; }

void dump_into(std::string& out, const ojson& o) {
  // Hex and our own names are ASCII; replace keeps any odd text (messages) valid UTF-8.
  out += o.dump(-1, ' ', false, json::error_handler_t::replace);
}

void put_extra(ojson& o, const json* extra) {
  if (!extra) return;
  for (auto it = extra->begin(); it != extra->end(); ++it) o[it.key()] = *it;
}

// The header members shared by a frame and a reassembled message.
void put_header(ojson& o, const FrameView& f) {
  o["type"] = type_name(f.id);
  o["id"] = f.id;
  o["terminal"] = format_terminal(f.terminal);
  o["seq"] = f.seq;
  if (f.subpackage) {
    o["packets"] = f.total;
    o["packet"] = f.number;
  }
  if (f.encryption <= encryption::idea) o["encryption"] = encryption_name(f.encryption);
  else o["encryption"] = f.encryption;
  if (f.reserved) o["reserved"] = f.reserved;
  o["additional"] = f.additional;
}

void put_body(ojson& o, const FrameView& f) {
  o["data"] = to_hex(f.body);
  const TypeInfo* t = find_type(f.id);
  if (!t || f.encryption != encryption::none || f.subpackage) return;
  switch (t->body) {
    case BodyKind::opaque:
      return;
    case BodyKind::empty:
      if (f.body.empty()) o["body"] = ojson::object();
      else o["body_error"] = "the body of " + std::string(t->name) + " is empty, not " + std::to_string(f.body.size()) + " bytes";
      return;
    case BodyKind::general_reply: {
      auto r = get_general_reply(f.body);
      if (!r) {
        o["body_error"] = r.error().message;
        return;
      }
      ojson b;
      b["reply_seq"] = r->reply_seq;
      b["reply_id"] = r->reply_id;
      b["result"] = r->result <= 3 ? ojson(result_name(r->result)) : ojson(r->result);
      o["body"] = std::move(b);
      return;
    }
  }
}

const json* member(const json& o, const char* key) {
  auto it = o.find(key);
  return it == o.end() || it->is_null() ? nullptr : &*it;
}

std::uint64_t get_uint(const json& v, const std::string& path, std::uint64_t max) {
  std::uint64_t n = 0;
  if (v.is_number_unsigned()) {
    n = v.get<std::uint64_t>();
  } else if (v.is_number_integer() && v.get<std::int64_t>() >= 0) {
    n = static_cast<std::uint64_t>(v.get<std::int64_t>());
  } else if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    std::string_view d = s;
    int base = 10;
    if (d.starts_with("0x") || d.starts_with("0X")) {
      base = 16;
      d.remove_prefix(2);
    }
    if (d.empty() || d.size() > 16) bad(path + ": expected a number 0-" + std::to_string(max) + ", got \"" + s + "\"");
    for (char c : d) {
      const int x = (c >= '0' && c <= '9') ? c - '0' : (base == 16 && c >= 'a' && c <= 'f') ? c - 'a' + 10
                  : (base == 16 && c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
      if (x < 0) bad(path + ": expected a number 0-" + std::to_string(max) + ", got \"" + s + "\"");
      n = n * static_cast<unsigned>(base) + static_cast<unsigned>(x);
    }
  } else {
    bad(path + ": expected a number 0-" + std::to_string(max) + ", got " + v.dump());
  }
  if (n > max) bad(path + ": expected a number 0-" + std::to_string(max) + ", got " + std::to_string(n));
  return n;
}

Bytes get_hex(const json& v, const std::string& path) {
  if (!v.is_string()) bad(path + ": expected a hex string");
  std::string digits;
  for (char c : v.get_ref<const std::string&>())
    if (c != ' ' && c != '\t') digits += c;
  auto b = parse_hex(digits);
  if (!b) bad(path + ": " + b.error().message);
  return std::move(*b);
}

std::uint8_t get_encryption(const json& v) {
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (s == "none") return encryption::none;
    if (s == "idea") return encryption::idea;
  }
  return static_cast<std::uint8_t>(get_uint(v, "encryption", 7));
}

Bytes body_bytes(const TypeInfo& t, const json& body) {
  if (!body.is_object()) bad("body: expected an object");
  Bytes out;
  switch (t.body) {
    case BodyKind::opaque:
      bad("body: the layout of " + std::string(t.name) + " is not known (telematics-protocol(7)); give \"data\" as hex");
    case BodyKind::empty:
      if (!body.empty()) bad("body: " + std::string(t.name) + " has an empty body; unexpected member \"" + body.begin().key() + "\"");
      return out;
    case BodyKind::general_reply: {
      for (auto it = body.begin(); it != body.end(); ++it)
        if (it.key() != "reply_seq" && it.key() != "reply_id" && it.key() != "result")
          bad("body: unexpected member \"" + it.key() + "\" (reply_seq, reply_id, result)");
      GeneralReply r;
      const json* s = member(body, "reply_seq");
      const json* i = member(body, "reply_id");
      if (!s) bad("body.reply_seq: missing");
      if (!i) bad("body.reply_id: missing");
      r.reply_seq = static_cast<std::uint16_t>(get_uint(*s, "body.reply_seq", 0xffff));
      if (i->is_string() && find_type(i->get_ref<const std::string&>()))
        r.reply_id = find_type(i->get_ref<const std::string&>())->id;
      else
        r.reply_id = static_cast<std::uint16_t>(get_uint(*i, "body.reply_id", 0xffff));
      if (const json* res = member(body, "result")) {
        if (res->is_string() && !res->get_ref<const std::string&>().empty() &&
            !std::isdigit(static_cast<unsigned char>(res->get_ref<const std::string&>()[0]))) {
          auto p = parse_result(res->get_ref<const std::string&>());
          if (!p) bad("body.result: " + p.error().message);
          r.result = *p;
        } else {
          r.result = static_cast<std::uint8_t>(get_uint(*res, "body.result", 255));
        }
      }
      put_general_reply(out, r);
      return out;
    }
  }
  return out;
}

Frame build(const json& j) {
  if (!j.is_object()) bad("expected a JSON object");
  Frame f;
  const json* type = member(j, "type");
  const json* id = member(j, "id");
  const TypeInfo* info = nullptr;
  if (type) {
    if (!type->is_string()) bad("type: expected a string");
    const std::string& name = type->get_ref<const std::string&>();
    if (name != "unknown") {
      info = find_type(name);
      if (!info) bad("type: unknown message type \"" + name + "\" (see telematics-protocol(7), or give \"id\")");
      f.id = info->id;
    }
  }
  if (id) {
    const auto n = static_cast<std::uint16_t>(get_uint(*id, "id", 0xffff));
    if (info && n != info->id) bad("id: " + std::to_string(n) + " is not the id of type " + std::string(info->name));
    f.id = n;
    info = find_type(n);
  } else if (!info) {
    bad("no message type: give \"type\" (login, working_data, …) or \"id\"");
  }
  if (const json* t = member(j, "terminal")) {
    std::string s;
    if (t->is_number_unsigned()) s = std::to_string(t->get<std::uint64_t>());
    else if (t->is_string()) s = t->get<std::string>();
    else bad("terminal: expected 1-12 BCD digits");
    auto p = parse_terminal(s);
    if (!p) bad("terminal: " + p.error().message);
    f.terminal = *p;
  }
  if (const json* s = member(j, "seq")) f.seq = static_cast<std::uint16_t>(get_uint(*s, "seq", 0xffff));
  const json* packets = member(j, "packets");
  const json* packet = member(j, "packet");
  if (packets || packet) {
    if (!packets || !packet) bad("packets and packet go together (the sub-package words)");
    f.subpackage = true;
    f.total = static_cast<std::uint16_t>(get_uint(*packets, "packets", 0xffff));
    f.number = static_cast<std::uint16_t>(get_uint(*packet, "packet", 0xffff));
  }
  if (const json* e = member(j, "encryption")) f.encryption = get_encryption(*e);
  if (const json* r = member(j, "reserved")) f.reserved = static_cast<std::uint8_t>(get_uint(*r, "reserved", 3));
  if (const json* a = member(j, "additional")) f.additional = static_cast<std::uint32_t>(get_uint(*a, "additional", 0xffffffff));
  if (const json* b = member(j, "body")) {
    if (!info) bad("body: message id " + std::to_string(f.id) + " is outside the catalogue; give \"data\" as hex");
    if (f.encryption != encryption::none) bad("body: an encrypted body is given as \"data\" (hex); the tools do not encrypt");
    if (f.subpackage) bad("body: a sub-package carries part of a body; give \"data\" as hex");
    f.body = body_bytes(*info, *b);
  } else if (const json* d = member(j, "data")) {
    f.body = get_hex(*d, "data");
  }
  if (f.body.size() > kMaxBody)
    bad("body is " + std::to_string(f.body.size()) + " bytes; the length field holds at most " + std::to_string(kMaxBody));
  return f;
}

}  // namespace

std::string encryption_name(std::uint8_t e) {
  if (e == encryption::none) return "none";
  if (e == encryption::idea) return "idea";
  return std::to_string(e);
}

void append_frame_json(std::string& out, const FrameView& f, ByteView raw, const json* extra) {
  ojson o;
  put_extra(o, extra);
  o["v"] = 1;
  put_header(o, f);
  put_body(o, f);
  if (!raw.empty()) o["raw"] = to_hex(raw);
  dump_into(out, o);
}

void append_reassembled_json(std::string& out, const Reassembled& m, const json* extra) {
  ojson o;
  put_extra(o, extra);
  o["v"] = 1;
  o["reassembled"] = m.parts;
  o["offset"] = m.offset;
  const FrameView f = m.frame.view();
  put_header(o, f);
  put_body(o, f);
  dump_into(out, o);
}

void append_error_json(std::string& out, const Error& e, ByteView raw, std::uint64_t skipped, const json* extra) {
  ojson o;
  put_extra(o, extra);
  o["v"] = 1;
  o["error"] = to_string(e.kind);
  o["offset"] = e.offset;
  if (skipped != 0 || e.kind == ErrorKind::garbage) o["skipped"] = skipped;
  o["raw"] = to_hex(raw);
  o["message"] = e.message;
  dump_into(out, o);
}

Result<Frame> frame_from_json(const json& j) {
  try {
    return build(j);
  } catch (const BadInput& b) {
    return fail(ErrorKind::bad_json, b.message);
  } catch (const json::exception& e) {
    return fail(ErrorKind::bad_json, e.what());
  }
}

void append_sms_json(std::string& out, const SmsCommand& c, std::string_view raw, const json* extra) {
  ojson o;
  put_extra(o, extra);
  o["v"] = 1;
  o["type"] = "sms";
  o["command"] = c.command;
  o["args"] = c.args;
  if (!raw.empty()) o["raw"] = std::string(raw);
  dump_into(out, o);
}

Result<SmsCommand> sms_from_json(const json& j) {
  if (!j.is_object()) return fail(ErrorKind::bad_json, "expected a JSON object");
  if (auto t = j.find("type"); t != j.end() && *t != "sms")
    return fail(ErrorKind::bad_json, "type: expected \"sms\", got " + t->dump());
  const auto text = [](const json& v, const std::string& path) -> Result<std::string> {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_number_unsigned()) return std::to_string(v.get<std::uint64_t>());
    return fail(ErrorKind::bad_json, path + ": expected a string");
  };
  auto cmd = j.find("command");
  if (cmd == j.end()) return fail(ErrorKind::bad_json, "command: missing");
  auto c = text(*cmd, "command");
  if (!c) return unexpected(std::move(c).error());
  SmsCommand s{*c, {}};
  if (auto a = j.find("args"); a != j.end() && !a->is_null()) {
    if (!a->is_array()) return fail(ErrorKind::bad_json, "args: expected an array of strings");
    for (std::size_t i = 0; i < a->size(); ++i) {
      auto v = text((*a)[i], "args[" + std::to_string(i) + "]");
      if (!v) return unexpected(std::move(v).error());
      s.args.push_back(*v);
    }
  }
  return s;
}

std::string frame_summary(const FrameView& f) {
  char head[32];
  std::snprintf(head, sizeof head, "%04X ", f.id);
  std::string s = head;
  s += type_name(f.id);
  s += " seq=" + std::to_string(f.seq) + " term=" + format_terminal(f.terminal);
  if (f.subpackage) s += " packet=" + std::to_string(f.number) + "/" + std::to_string(f.total);
  if (f.encryption) s += " encryption=" + encryption_name(f.encryption);
  if (f.additional) s += " additional=" + std::to_string(f.additional);
  const TypeInfo* t = find_type(f.id);
  if (t && t->body == BodyKind::general_reply && !f.encryption && !f.subpackage) {
    if (auto r = get_general_reply(f.body)) {
      char rid[8];
      std::snprintf(rid, sizeof rid, "%04X", r->reply_id);
      s += " reply_seq=" + std::to_string(r->reply_seq) + " reply_id=" + rid + " result=" + result_name(r->result);
      return s;
    }
  }
  if (!f.body.empty()) s += " data=" + to_hex(f.body);
  return s;
}

}  // namespace m2m::telematics
