// JSON body -> data area (the encode direction). Mirrors body_out.cpp form for form, so that
// every body the decoder writes encodes back to the data it came from; on top of that it
// takes the input conveniences (text payloads, text passwords, parameter numbers, aliases).
#include <cctype>
#include <cstdio>

#include "core/gbk.hpp"
#include "m2m/json.hpp"
#include "m2m/json_input.hpp"
#include "m2m/messages.hpp"

namespace m2m::ai {
namespace {

using namespace detail;

constexpr std::string_view kBody = "body";

std::string at(std::string_view key) { return field_path(kBody, key); }

void put_string(Bytes& out, const std::string& s, std::string_view path) {
  if (auto r = put_gbk_string(out, s); !r) bad_input(std::string(path) + ": " + r.error().message);
}

void put_password(Bytes& out, const json& body) {
  const std::string path = at("password");
  auto p = parse_password(get_string(required(body, kBody, "password"), path));
  if (!p) bad_input(path + ": " + p.error().message);
  out.insert(out.end(), p->begin(), p->end());
}

// Exactly one of several aliases, e.g. "payload" / "text", "peer" / "target" / "sender".
const json* one_of(const json& body, std::initializer_list<std::string_view> names) {
  const json* found = nullptr;
  std::string_view found_name;
  for (auto n : names) {
    const json* v = member(body, n);
    if (!v) continue;
    if (found) bad_input(at(n) + ": give either " + std::string(found_name) + " or " + std::string(n) + ", not both");
    found = v;
    found_name = n;
  }
  return found;
}

// "payload": hex, or "text": string (its UTF-8 bytes as they are: payloads are opaque).
void put_payload(Bytes& out, const json& body) {
  const json* p = member(body, "payload");
  const json* t = member(body, "text");
  if (p && t) bad_input(at("text") + ": give either payload or text, not both");
  if (t) {
    const std::string& s = get_string(*t, at("text"));
    out.insert(out.end(), s.begin(), s.end());
  } else if (p) {
    Bytes b = get_hex(*p, at("payload"));
    out.insert(out.end(), b.begin(), b.end());
  } else {
    bad_input(at("payload") + ": missing (hex bytes; or give \"text\")");
  }
}

void put_device_field(Bytes& out, const json& body, std::string_view key) {
  put_be64(out, get_device(required(body, kBody, key), at(key)));
}

PeerRecord peer_record(const json& r, const std::string& path) {
  expect_object(r, path);
  only_keys(r, path, {"id", "token", "ip", "port"});
  PeerRecord p;
  p.id = get_device(required(r, path, "id"), field_path(path, "id"));
  p.token = get_hex(required(r, path, "token"), field_path(path, "token"));
  if (p.token.size() > 255) bad_input(field_path(path, "token") + ": at most 255 bytes");
  if (const json* ip = member(r, "ip")) {
    auto a = parse_ipv4(get_string(*ip, field_path(path, "ip")));
    if (!a) bad_input(field_path(path, "ip") + ": " + a.error().message);
    p.ip = *a;
  }
  if (const json* port = member(r, "port")) p.port = static_cast<std::uint16_t>(get_uint(*port, field_path(path, "port"), 65535));
  return p;
}

std::uint16_t param_of(const json& body) {
  const json& p = required(body, kBody, "param");
  if (p.is_string()) {
    if (auto id = find_param(p.get_ref<const std::string&>())) return *id;
    const std::string& s = p.get_ref<const std::string&>();
    if (s.empty() || !(std::isdigit(static_cast<unsigned char>(s[0]))))
      bad_input(at("param") + ": unknown parameter '" + s +
                "' (version, server, fallback_server, dns, send_wait, heartbeat_interval, rtc, write_timeout, "
                "read_timeout, or a number)");
  }
  return static_cast<std::uint16_t>(get_uint(p, at("param"), 65535));
}

// ISO weekday (1 = Monday .. 7 = Sunday) of a Gregorian date.
int iso_weekday(int y, int m, int d) {
  static constexpr int t[] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};
  if (m < 3) y -= 1;
  int dow = (y + y / 4 - y / 100 + y / 400 + t[(m - 1) % 12] + d) % 7;  // 0 = Sunday
  return dow == 0 ? 7 : dow;
}

RtcTime rtc_value(const json& v, const std::string& path) {
  expect_object(v, path);
  only_keys(v, path, {"datetime", "weekday"});
  const std::string dpath = field_path(path, "datetime");
  const std::string& s = get_string(required(v, path, "datetime"), dpath);
  RtcTime t;
  char sep = 0;
  int used = 0;
  if (s.size() != 19 ||
      std::sscanf(s.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d%n", &t.year, &t.month, &t.day, &sep, &t.hour, &t.minute,
                  &t.second, &used) != 7 ||
      used != 19 || (sep != 'T' && sep != ' ') || s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':')
    bad_input(dpath + ": expected YYYY-MM-DDTHH:MM:SS, got \"" + s + "\"");
  for (std::size_t i : {0u, 1u, 2u, 3u, 5u, 6u, 8u, 9u, 11u, 12u, 14u, 15u, 17u, 18u})
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) bad_input(dpath + ": expected YYYY-MM-DDTHH:MM:SS, got \"" + s + "\"");
  if (const json* wd = member(v, "weekday")) {
    t.weekday = static_cast<int>(get_uint(*wd, field_path(path, "weekday"), 7));
    if (t.weekday < 1) bad_input(field_path(path, "weekday") + ": expected a number 1-7 (1 = Monday), got 0");
  } else if (t.month >= 1 && t.month <= 12) {
    t.weekday = iso_weekday(t.year, t.month, t.day);
  }
  return t;
}

void put_param_value(Bytes& out, std::uint16_t id, const json& body) {
  const std::string path = at("value");
  const json& v = required(body, kBody, "value");
  ConfigValue cv;
  if (id == param::version) {
    expect_object(v, path);
    only_keys(v, path, {"hardware", "software", "bootloader"});
    VersionInfo x;
    x.hardware = get_string(required(v, path, "hardware"), field_path(path, "hardware"));
    x.software = get_string(required(v, path, "software"), field_path(path, "software"));
    x.bootloader = get_string(required(v, path, "bootloader"), field_path(path, "bootloader"));
    cv = std::move(x);
  } else if (id == param::server || id == param::fallback_server) {
    expect_object(v, path);
    only_keys(v, path, {"host", "port", "transport"});
    ServerAddr x;
    x.host = get_string(required(v, path, "host"), field_path(path, "host"));
    x.port = static_cast<std::uint16_t>(get_uint(required(v, path, "port"), field_path(path, "port"), 65535));
    if (const json* t = member(v, "transport")) {
      const std::string& s = get_string(*t, field_path(path, "transport"));
      if (s != "tcp" && s != "udp") bad_input(field_path(path, "transport") + ": expected \"tcp\" or \"udp\", got \"" + s + "\"");
      x.tcp = s == "tcp";
    }
    cv = std::move(x);
  } else if (id == param::dns) {
    auto a = parse_ipv4(get_string(v, path));
    if (!a) bad_input(path + ": " + a.error().message);
    cv.emplace<std::uint32_t>(*a);
  } else if (id == param::send_wait || id == param::heartbeat_interval || id == param::write_timeout ||
             id == param::read_timeout) {
    cv.emplace<std::uint8_t>(static_cast<std::uint8_t>(get_uint(v, path, 255)));
  } else if (id == param::rtc) {
    cv = rtc_value(v, path);
  } else {
    cv = get_hex(v, path);
  }
  if (auto r = put_config_value(out, id, cv); !r) bad_input(path + ": " + r.error().message);
}

Bytes request_data(std::uint16_t key, const json& body) {
  Bytes out;
  switch (key) {
    case cmd::link_login:
    case cmd::platform_login:
      only_keys(body, kBody, {"password"});
      put_password(out, body);
      break;
    case cmd::link_heartbeat:
    case cmd::platform_heartbeat:
    case cmd::term_reboot:
      only_keys(body, kBody, {});
      break;
    case cmd::link_p2p_request:
      if (member(body, "target")) {
        only_keys(body, kBody, {"target"});
        put_device_field(out, body, "target");
      } else {
        only_keys(body, kBody, {"id", "token", "ip", "port"});
        put_peer_record(out, peer_record(body, std::string(kBody)));
      }
      break;
    case cmd::link_p2p_confirm:
      only_keys(body, kBody, {"sender"});
      put_device_field(out, body, "sender");
      break;
    case cmd::data_group_list:
      only_keys(body, kBody, {"start"});
      if (const json* s = member(body, "start")) put_le16(out, static_cast<std::uint16_t>(get_uint(*s, at("start"), 65535)));
      break;
    case cmd::data_relay:
    case cmd::data_p2p_send: {
      only_keys(body, kBody, {"peer", "target", "sender", "payload", "text"});
      const json* id = key == cmd::data_relay ? one_of(body, {"peer", "target", "sender"}) : one_of(body, {"sender"});
      const char* main = key == cmd::data_relay ? "peer" : "sender";
      if (!id) bad_input(at(main) + ": missing");
      if (key == cmd::data_p2p_send && (member(body, "peer") || member(body, "target")))
        bad_input(at(member(body, "peer") ? "peer" : "target") + ": data.p2p_send takes sender");
      put_be64(out, get_device(*id, at(main)));
      put_payload(out, body);
      break;
    }
    case cmd::data_uplink:
    case cmd::data_downlink:
      only_keys(body, kBody, {"payload", "text"});
      put_payload(out, body);
      break;
    case cmd::term_ota_start: {
      only_keys(body, kBody, {"file", "checksum"});
      put_string(out, get_string(required(body, kBody, "file"), at("file")), at("file"));
      out.push_back(static_cast<std::uint8_t>(get_uint(required(body, kBody, "checksum"), at("checksum"), 255)));
      break;
    }
    case cmd::term_ota_frame:
      only_keys(body, kBody, {"file", "frame", "size"});
      put_string(out, get_string(required(body, kBody, "file"), at("file")), at("file"));
      put_le16(out, static_cast<std::uint16_t>(get_uint(required(body, kBody, "frame"), at("frame"), 65535)));
      put_le16(out, static_cast<std::uint16_t>(get_uint(required(body, kBody, "size"), at("size"), 65535)));
      break;
    case cmd::term_config_read:
      only_keys(body, kBody, {"param"});
      put_le16(out, param_of(body));
      break;
    case cmd::term_config_write: {
      only_keys(body, kBody, {"param", "value"});
      const std::uint16_t id = param_of(body);
      put_le16(out, id);
      put_param_value(out, id, body);
      break;
    }
    case cmd::term_event: {
      only_keys(body, kBody, {"code", "event", "description"});
      const json* code = member(body, "code");
      const json* event = member(body, "event");
      if (!code && !event) bad_input(at("code") + ": missing (a number, or give \"event\": \"upgrade\" | \"working\")");
      int by_name = -1;
      if (event) {
        const std::string& e = get_string(*event, at("event"));
        if (e == "upgrade") by_name = event_code::upgrade;
        else if (e == "working") by_name = event_code::working;
        else bad_input(at("event") + ": expected \"upgrade\" or \"working\" (or give \"code\"), got \"" + e + "\"");
      }
      std::uint8_t c = code ? static_cast<std::uint8_t>(get_uint(*code, at("code"), 255)) : static_cast<std::uint8_t>(by_name);
      if (code && event && by_name != c)
        bad_input(at("event") + ": \"" + event->get<std::string>() + "\" disagrees with code " + std::to_string(c));
      out.push_back(c);
      const json* d = member(body, "description");
      put_string(out, d ? get_string(*d, at("description")) : std::string(), at("description"));
      break;
    }
    case cmd::platform_add_terminal:
      only_keys(body, kBody, {"id", "password"});
      put_device_field(out, body, "id");
      put_password(out, body);
      break;
  }
  return out;
}

// Status ok, body not empty: the command's specific reply form.
bool ok_reply_data(std::uint16_t key, const json& body, Bytes& out) {
  switch (key) {
    case cmd::link_login:
    case cmd::platform_login: {
      only_keys(body, kBody, {"token"});
      Bytes t = get_hex(required(body, kBody, "token"), at("token"));
      if (t.size() > 255) bad_input(at("token") + ": at most 255 bytes");
      out.push_back(static_cast<std::uint8_t>(t.size()));
      out.insert(out.end(), t.begin(), t.end());
      return true;
    }
    case cmd::link_p2p_request: put_peer_record(out, peer_record(body, std::string(kBody))); return true;
    case cmd::link_p2p_confirm:
      only_keys(body, kBody, {"sender"});
      put_device_field(out, body, "sender");
      return true;
    case cmd::data_group_list: {
      only_keys(body, kBody, {"devices"});
      const json& list = required(body, kBody, "devices");
      if (!list.is_array()) bad_input(at("devices") + ": expected an array of {id, token, ip, port}");
      for (std::size_t i = 0; i < list.size(); ++i)
        put_peer_record(out, peer_record(list[i], at("devices") + "[" + std::to_string(i) + "]"));
      return true;
    }
    case cmd::term_ota_frame: {
      only_keys(body, kBody, {"file", "frame", "count", "bytes"});
      OtaFrameReply b;
      b.file = get_string(required(body, kBody, "file"), at("file"));
      b.frame = static_cast<std::uint16_t>(get_uint(required(body, kBody, "frame"), at("frame"), 65535));
      b.bytes = get_hex(required(body, kBody, "bytes"), at("bytes"));
      if (b.bytes.size() > 65535) bad_input(at("bytes") + ": at most 65535 bytes");
      b.count = static_cast<std::uint16_t>(b.bytes.size());
      if (const json* c = member(body, "count"); c && get_uint(*c, at("count"), 65535) != b.count)
        bad_input(at("count") + ": " + c->dump() + " disagrees with the " + std::to_string(b.count) + " bytes given");
      if (auto r = put_ota_frame_reply(out, b); !r) bad_input(at("file") + ": " + r.error().message);
      return true;
    }
    case cmd::term_config_read: {
      only_keys(body, kBody, {"param", "value"});
      const std::uint16_t id = param_of(body);
      put_le16(out, id);
      put_param_value(out, id, body);
      return true;
    }
  }
  return false;
}

}  // namespace

Result<Bytes> body_from_json(std::uint8_t cls, std::uint8_t cmd, std::uint8_t st, const nlohmann::json& body) {
  try {
    const std::uint16_t key = command_key(cls, cmd);
    const std::string_view type = type_name(cls, cmd);
    if (type == "unknown") {
      char buf[96];
      std::snprintf(buf, sizeof buf, "body: %02X %02X is not a catalogue command; give its bytes as \"data\"", cls, cmd);
      bad_input(buf);
    }
    expect_object(body, kBody);
    if (st == status::request) return request_data(key, body);
    if (body.empty()) return Bytes{};  // generic reply
    Bytes out;
    if (st == status::ok && ok_reply_data(key, body, out)) return out;
    bad_input("body: a " + status_name(st) + " reply of " + std::string(type) +
              " has no fields (generic reply); use {} or give \"data\"");
  } catch (const BadInput& e) {
    return fail(ErrorKind::bad_json, e.message);
  } catch (const std::exception& e) {
    return fail(ErrorKind::bad_json, std::string("body: ") + e.what());
  }
}

}  // namespace m2m::ai
