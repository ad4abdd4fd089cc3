// term class bodies (F0); see term.hpp.
#include "m2m/term.hpp"

#include <cctype>
#include <cstdio>
#include <variant>

#include "m2m/body_common.hpp"

namespace m2m::ai {

using namespace detail;

Result<Reboot> get_reboot(ByteView d) {
  if (auto r = get_empty(d); !r) return unexpected(std::move(r).error());
  return Reboot{};
}

Result<void> put_ota_start(Bytes& out, const OtaStart& b) {
  if (auto r = put_gbk_string(out, b.file); !r) return r;
  out.push_back(b.checksum);
  return {};
}

Result<OtaStart> get_ota_start(ByteView in) {
  OtaStart b;
  auto file = get_gbk_string(in);
  if (!file) return unexpected(std::move(file).error());
  b.file = std::move(*file);
  if (auto e = expect_size(in, 1, "the checksum after the file name"); !e) return unexpected(std::move(e).error());
  b.checksum = in[0];
  return b;
}

Result<std::string> get_ota_start_without_checksum(ByteView in) {
  auto file = get_gbk_string(in);
  if (!file) return unexpected(std::move(file).error());
  if (auto e = expect_end(in, "the file name"); !e) return unexpected(std::move(e).error());
  return file;
}

Result<void> put_ota_frame_request(Bytes& out, const OtaFrameRequest& b) {
  if (auto r = put_gbk_string(out, b.file); !r) return r;
  put_le16(out, b.frame);
  put_le16(out, b.size);
  return {};
}

Result<OtaFrameRequest> get_ota_frame_request(ByteView in) {
  OtaFrameRequest b;
  auto file = get_gbk_string(in);
  if (!file) return unexpected(std::move(file).error());
  b.file = std::move(*file);
  if (auto e = expect_size(in, 4, "frame number and size after the file name"); !e)
    return unexpected(std::move(e).error());
  b.frame = get_le16(in.data());
  b.size = get_le16(in.data() + 2);
  return b;
}

Result<void> put_ota_frame_reply(Bytes& out, const OtaFrameReply& b) {
  if (b.count != b.bytes.size())
    return bad("byte count " + std::to_string(b.count) + " disagrees with " + n_bytes(b.bytes.size()) + " of data");
  if (auto r = put_gbk_string(out, b.file); !r) return r;
  put_le16(out, b.frame);
  put_le16(out, b.count);
  out.insert(out.end(), b.bytes.begin(), b.bytes.end());
  return {};
}

Result<OtaFrameReply> get_ota_frame_reply(ByteView in) {
  OtaFrameReply b;
  auto file = get_gbk_string(in);
  if (!file) return unexpected(std::move(file).error());
  b.file = std::move(*file);
  if (in.size() < 4) return bad("data ends inside the frame number and byte count");
  b.frame = get_le16(in.data());
  b.count = get_le16(in.data() + 2);
  in = in.subspan(4);
  if (in.size() != b.count) return bad("byte count says " + n_bytes(b.count) + ", " + n_bytes(in.size()) + " follow");
  b.bytes.assign(in.begin(), in.end());
  return b;
}

void put_config_read(Bytes& out, const ConfigRead& b) { put_le16(out, b.param); }

Result<ConfigRead> get_config_read(ByteView d) {
  if (d.size() != 2) return bad("parameter id is 2 bytes, data has " + n_bytes(d.size()));
  return ConfigRead{get_le16(d.data())};
}

Result<void> put_param_value(Bytes& out, const ParamValue& b) {
  const std::size_t mark = out.size();
  put_le16(out, b.param);
  if (auto r = put_config_value(out, b.param, b.value); !r) {
    out.resize(mark);
    return r;
  }
  return {};
}

Result<ParamValue> get_param_value(ByteView d) {
  if (d.size() < 2) return bad("parameter id is 2 bytes, data has " + n_bytes(d.size()));
  ParamValue b;
  b.param = get_le16(d.data());
  auto v = get_config_value(b.param, d.subspan(2));
  if (!v) return unexpected(std::move(v).error());
  b.value = std::move(*v);
  return b;
}

Result<void> put_event(Bytes& out, const Event& b) {
  out.push_back(b.code);
  if (auto r = put_gbk_string(out, b.description); !r) {
    out.pop_back();
    return r;
  }
  return {};
}

Result<Event> get_event(ByteView in) {
  Event b;
  if (in.empty()) return bad("data ends before the event code (1 byte)");
  b.code = in[0];
  in = in.subspan(1);
  auto d = get_gbk_string(in);
  if (!d) return unexpected(std::move(d).error());
  b.description = std::move(*d);
  if (auto e = expect_end(in, "the event description"); !e) return unexpected(std::move(e).error());
  return b;
}

namespace detail {
namespace {

void param_id_json(JsonOut& w, std::uint16_t id) {
  std::string_view name = param_name(id);
  if (name.empty()) w.key("param").num(id);
  else w.key("param").str(name);
}

void config_value_json(JsonOut& w, const ConfigValue& v) {
  w.key("value");
  if (const auto* x = std::get_if<VersionInfo>(&v)) {
    w.open().key("hardware").str(x->hardware).key("software").str(x->software);
    w.key("bootloader").str(x->bootloader).close();
  } else if (const auto* x = std::get_if<ServerAddr>(&v)) {
    w.open().key("host").str(x->host).key("port").num(x->port);
    w.key("transport").str(x->tcp ? "tcp" : "udp").close();
  } else if (const auto* x = std::get_if<std::uint32_t>(&v)) {
    w.str(format_ipv4(*x));
  } else if (const auto* x = std::get_if<std::uint8_t>(&v)) {
    w.num(*x);
  } else if (const auto* x = std::get_if<RtcTime>(&v)) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", x->year, x->month, x->day, x->hour, x->minute,
                  x->second);
    w.open().key("datetime").str(buf).key("weekday").num(static_cast<std::uint64_t>(x->weekday)).close();
  } else {
    w.hex(std::get<Bytes>(v));
  }
}

// A string field that must be writable in GBK, checked where it is read so that its error
// comes before those of the fields after it.
std::string gbk_field(const json& body, std::string_view key, const json* v = nullptr) {
  std::string s = get_string(v ? *v : required(body, kBody, key), at(key));
  Bytes scratch;
  if (auto r = put_gbk_string(scratch, s); !r) bad_input(at(key) + ": " + r.error().message);
  return s;
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
    if (!std::isdigit(static_cast<unsigned char>(s[i])))
      bad_input(dpath + ": expected YYYY-MM-DDTHH:MM:SS, got \"" + s + "\"");
  if (const json* wd = member(v, "weekday")) {
    t.weekday = static_cast<int>(get_uint(*wd, field_path(path, "weekday"), 7));
    if (t.weekday < 1) bad_input(field_path(path, "weekday") + ": expected a number 1-7 (1 = Monday), got 0");
  } else if (t.month >= 1 && t.month <= 12) {
    t.weekday = iso_weekday(t.year, t.month, t.day);
  }
  return t;
}

ConfigValue config_value_from_json(std::uint16_t id, const json& body) {
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
      if (s != "tcp" && s != "udp")
        bad_input(field_path(path, "transport") + ": expected \"tcp\" or \"udp\", got \"" + s + "\"");
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
  return cv;
}
}  // namespace

void ota_start_json(JsonOut& w, const OtaStart& b) {
  w.open().key("file").str(b.file).key("checksum").num(b.checksum).close();
}
void ota_frame_request_json(JsonOut& w, const OtaFrameRequest& b) {
  w.open().key("file").str(b.file).key("frame").num(b.frame).key("size").num(b.size).close();
}
void ota_frame_reply_json(JsonOut& w, const OtaFrameReply& b) {
  w.open().key("file").str(b.file).key("frame").num(b.frame).key("count").num(b.count);
  w.key("bytes").hex(b.bytes).close();
}
void config_read_json(JsonOut& w, const ConfigRead& b) {
  w.open();
  param_id_json(w, b.param);
  w.close();
}
void param_value_json(JsonOut& w, const ParamValue& b) {
  w.open();
  param_id_json(w, b.param);
  config_value_json(w, b.value);
  w.close();
}
void event_json(JsonOut& w, const Event& b) {
  w.open().key("code").num(b.code).key("event");
  if (b.code == event_code::upgrade) w.str("upgrade");
  else if (b.code == event_code::working) w.str("working");
  else w.null();
  w.key("description").str(b.description).close();
}

OtaStart ota_start_from_json(const json& body) {
  only_keys(body, kBody, {"file", "checksum"});
  OtaStart b;
  b.file = gbk_field(body, "file");
  b.checksum = static_cast<std::uint8_t>(get_uint(required(body, kBody, "checksum"), at("checksum"), 255));
  return b;
}

OtaFrameRequest ota_frame_request_from_json(const json& body) {
  only_keys(body, kBody, {"file", "frame", "size"});
  OtaFrameRequest b;
  b.file = gbk_field(body, "file");
  b.frame = static_cast<std::uint16_t>(get_uint(required(body, kBody, "frame"), at("frame"), 65535));
  b.size = static_cast<std::uint16_t>(get_uint(required(body, kBody, "size"), at("size"), 65535));
  return b;
}

OtaFrameReply ota_frame_reply_from_json(const json& body) {
  only_keys(body, kBody, {"file", "frame", "count", "bytes"});
  OtaFrameReply b;
  b.file = get_string(required(body, kBody, "file"), at("file"));
  b.frame = static_cast<std::uint16_t>(get_uint(required(body, kBody, "frame"), at("frame"), 65535));
  b.bytes = get_hex(required(body, kBody, "bytes"), at("bytes"));
  if (b.bytes.size() > 65535) bad_input(at("bytes") + ": at most 65535 bytes");
  b.count = static_cast<std::uint16_t>(b.bytes.size());
  if (const json* c = member(body, "count"); c && get_uint(*c, at("count"), 65535) != b.count)
    bad_input(at("count") + ": " + c->dump() + " disagrees with the " + std::to_string(b.count) + " bytes given");
  return b;
}

ConfigRead config_read_from_json(const json& body) {
  only_keys(body, kBody, {"param"});
  return {param_of(body)};
}

ParamValue param_value_from_json(const json& body) {
  only_keys(body, kBody, {"param", "value"});
  ParamValue b;
  b.param = param_of(body);
  b.value = config_value_from_json(b.param, body);
  return b;
}

Event event_from_json(const json& body) {
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
  Event b;
  b.code = code ? static_cast<std::uint8_t>(get_uint(*code, at("code"), 255)) : static_cast<std::uint8_t>(by_name);
  if (code && event && by_name != b.code)
    bad_input(at("event") + ": \"" + event->get<std::string>() + "\" disagrees with code " + std::to_string(b.code));
  if (const json* d = member(body, "description")) b.description = gbk_field(body, "description", d);
  return b;
}

Result<void> term_request_json(JsonOut& w, std::uint8_t c, ByteView d) {
  switch (command_key(cls::term, c)) {
    case cmd::term_reboot:
      if (auto r = get_reboot(d); !r) return unexpected(std::move(r).error());
      empty_json(w);
      return {};
    case cmd::term_ota_start:
      if (auto file = get_ota_start_without_checksum(d)) {  // the checksum left to the platform
        w.open().key("file").str(*file).close();
        return {};
      }
      return emit(w, d, get_ota_start, ota_start_json);
    case cmd::term_ota_frame: return emit(w, d, get_ota_frame_request, ota_frame_request_json);
    case cmd::term_config_read: return emit(w, d, get_config_read, config_read_json);
    case cmd::term_config_write: return emit(w, d, get_param_value, param_value_json);
    case cmd::term_event: return emit(w, d, get_event, event_json);
  }
  return bad("not a catalogue command");
}

Result<void> term_ok_reply_json(JsonOut& w, std::uint8_t c, ByteView d) {
  switch (command_key(cls::term, c)) {
    case cmd::term_ota_frame: return emit(w, d, get_ota_frame_reply, ota_frame_reply_json);
    case cmd::term_config_read: return emit(w, d, get_param_value, param_value_json);
  }
  return no_reply_form(d);
}

namespace {
void put_or_throw(Result<void> r, std::string_view key) {
  if (!r) bad_input(at(key) + ": " + r.error().message);
}
}  // namespace

void term_request_from_json(std::uint8_t c, const json& body, Bytes& out) {
  switch (command_key(cls::term, c)) {
    case cmd::term_reboot: only_keys(body, kBody, {}); break;
    case cmd::term_ota_start:
      if (!body.is_object() || !body.contains("checksum")) {  // left for the platform to fill in
        only_keys(body, kBody, {"file", "checksum"});
        put_or_throw(put_gbk_string(out, gbk_field(body, "file")), "file");
      } else {
        put_or_throw(put_ota_start(out, ota_start_from_json(body)), "file");
      }
      break;
    case cmd::term_ota_frame: put_or_throw(put_ota_frame_request(out, ota_frame_request_from_json(body)), "file"); break;
    case cmd::term_config_read: put_config_read(out, config_read_from_json(body)); break;
    case cmd::term_config_write: put_or_throw(put_param_value(out, param_value_from_json(body)), "value"); break;
    case cmd::term_event: put_or_throw(put_event(out, event_from_json(body)), "description"); break;
  }
}

bool term_ok_reply_from_json(std::uint8_t c, const json& body, Bytes& out) {
  switch (command_key(cls::term, c)) {
    case cmd::term_ota_frame: put_or_throw(put_ota_frame_reply(out, ota_frame_reply_from_json(body)), "file"); return true;
    case cmd::term_config_read: put_or_throw(put_param_value(out, param_value_from_json(body)), "value"); return true;
  }
  return false;
}

}  // namespace detail
}  // namespace m2m::ai
