// Command catalogue and shared field types (m2m-protocol(7) COMMANDS, CONFIGURATION PARAMETERS).
//
// Every get_* is strict: it accepts exactly the bytes its put_* would produce, so that a data
// area that parses re-encodes to itself. That is what lets the JSON layer show a body and
// still reproduce the frame byte for byte.
#include "m2m/messages.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "core/gbk.hpp"
#include "m2m/body_common.hpp"

namespace m2m::ai {
namespace {

using detail::bad;
using detail::expect_end;
using detail::expect_size;
using detail::n_bytes;

Result<std::uint16_t> take_le16(ByteView& in, std::string_view what) {
  if (in.size() < 2) return bad("data ends inside " + std::string(what) + " (2 bytes)");
  std::uint16_t v = get_le16(in.data());
  in = in.subspan(2);
  return v;
}

Result<std::uint8_t> take_u8(ByteView& in, std::string_view what) {
  if (in.empty()) return bad("data ends before " + std::string(what) + " (1 byte)");
  std::uint8_t v = in[0];
  in = in.subspan(1);
  return v;
}

// BCD byte -> 0..99, or -1 when a nibble is not a decimal digit.
int from_bcd(std::uint8_t b) {
  if ((b >> 4) > 9 || (b & 15) > 9) return -1;
  return (b >> 4) * 10 + (b & 15);
}
std::uint8_t to_bcd(int v) { return static_cast<std::uint8_t>((v / 10) << 4 | (v % 10)); }

int days_in_month(int year, int month) {
  static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0)) return 29;
  return days[month - 1];
}

Result<void> check_rtc(const RtcTime& t) {
  auto range = [](int v, int lo, int hi, const char* name) -> Result<void> {
    if (v < lo || v > hi)
      return bad(std::string("rtc ") + name + " " + std::to_string(v) + " is outside " + std::to_string(lo) +
                 "-" + std::to_string(hi));
    return {};
  };
  if (auto r = range(t.year, 0, 9999, "year"); !r) return r;
  if (auto r = range(t.month, 1, 12, "month"); !r) return r;
  if (auto r = range(t.day, 1, days_in_month(t.year, t.month), "day"); !r) return r;
  if (auto r = range(t.hour, 0, 23, "hour"); !r) return r;
  if (auto r = range(t.minute, 0, 59, "minute"); !r) return r;
  if (auto r = range(t.second, 0, 59, "second"); !r) return r;
  return range(t.weekday, 1, 7, "weekday");
}

const std::vector<CommandInfo> kCatalogue = {
    {0xA0, 0x00, "link.login"},       {0xA0, 0x01, "link.heartbeat"},     {0xA0, 0x55, "link.p2p_request"},
    {0xA0, 0xEE, "link.p2p_confirm"}, {0xAA, 0x00, "data.group_list"},    {0xAA, 0x55, "data.relay"},
    {0xAA, 0x66, "data.p2p_send"},    {0xAA, 0xEE, "data.uplink"},        {0xAA, 0xFF, "data.downlink"},
    {0xF0, 0x55, "term.reboot"},      {0xF0, 0x56, "term.ota_start"},     {0xF0, 0x57, "term.ota_frame"},
    {0xF0, 0xAA, "term.config_read"}, {0xF0, 0xAB, "term.config_write"},  {0xF0, 0xF0, "term.event"},
    {0xEF, 0x00, "platform.login"},   {0xEF, 0x01, "platform.heartbeat"}, {0xEF, 0x06, "platform.add_terminal"},
};

struct ParamInfo {
  std::uint16_t id;
  std::string_view name;
};
constexpr ParamInfo kParams[] = {
    {param::version, "version"},       {param::server, "server"},
    {param::fallback_server, "fallback_server"}, {param::dns, "dns"},
    {param::send_wait, "send_wait"},   {param::heartbeat_interval, "heartbeat_interval"},
    {param::rtc, "rtc"},               {param::write_timeout, "write_timeout"},
    {param::read_timeout, "read_timeout"},
};

bool is_byte_param(std::uint16_t id) {
  return id == param::send_wait || id == param::heartbeat_interval || id == param::write_timeout ||
         id == param::read_timeout;
}

}  // namespace

// ---- catalogue -------------------------------------------------------------------------

const std::vector<CommandInfo>& catalogue() { return kCatalogue; }

std::string_view type_name(std::uint8_t cls, std::uint8_t cmd) {
  // A switch, not a search: this runs for every decoded frame.
  switch (command_key(cls, cmd)) {
    case cmd::link_login: return "link.login";
    case cmd::link_heartbeat: return "link.heartbeat";
    case cmd::link_p2p_request: return "link.p2p_request";
    case cmd::link_p2p_confirm: return "link.p2p_confirm";
    case cmd::data_group_list: return "data.group_list";
    case cmd::data_relay: return "data.relay";
    case cmd::data_p2p_send: return "data.p2p_send";
    case cmd::data_uplink: return "data.uplink";
    case cmd::data_downlink: return "data.downlink";
    case cmd::term_reboot: return "term.reboot";
    case cmd::term_ota_start: return "term.ota_start";
    case cmd::term_ota_frame: return "term.ota_frame";
    case cmd::term_config_read: return "term.config_read";
    case cmd::term_config_write: return "term.config_write";
    case cmd::term_event: return "term.event";
    case cmd::platform_login: return "platform.login";
    case cmd::platform_heartbeat: return "platform.heartbeat";
    case cmd::platform_add_terminal: return "platform.add_terminal";
    default: return "unknown";
  }
}

std::optional<CommandInfo> find_type(std::string_view type) {
  for (const auto& c : kCatalogue)
    if (c.type == type) return c;
  return std::nullopt;
}

// ---- field types -----------------------------------------------------------------------

Result<Password> parse_password(std::string_view s) {
  Password p{};
  if (s.starts_with("text:")) {
    auto gbk = utf8_to_gbk(s.substr(5));
    if (!gbk) return bad("password text is not convertible to GBK: " + gbk.error().message);
    if (gbk->size() > p.size())
      return bad("password text is " + n_bytes(gbk->size()) + "; the field holds at most 8");
    if (!gbk->empty()) std::memcpy(p.data(), gbk->data(), gbk->size());  // "text:" has no bytes (UBSan)
    return p;
  }
  auto b = parse_hex(s);
  if (!b || b->size() != p.size())
    return bad("password must be 16 hex digits or text:… (at most 8 bytes), got '" + std::string(s) + "'");
  std::memcpy(p.data(), b->data(), p.size());
  return p;
}

void put_peer_record(Bytes& out, const PeerRecord& r) {
  put_be64(out, r.id);
  out.push_back(static_cast<std::uint8_t>(r.token.size()));
  out.insert(out.end(), r.token.begin(), r.token.end());
  put_be32(out, r.ip);
  put_be16(out, r.port);
}

Result<PeerRecord> get_peer_record(ByteView& in) {
  PeerRecord r;
  if (in.size() < 9) return bad("peer record ends inside its id and token length (" + n_bytes(in.size()) + ")");
  r.id = get_be64(in.data());
  const std::size_t tl = in[8];
  if (in.size() < 9 + tl + 6)
    return bad("peer record with a " + n_bytes(tl) + " token needs " + n_bytes(15 + tl) + ", " +
               n_bytes(in.size()) + " left");
  r.token.assign(in.begin() + 9, in.begin() + 9 + static_cast<std::ptrdiff_t>(tl));
  r.ip = get_be32(in.data() + 9 + tl);
  r.port = get_be16(in.data() + 13 + tl);
  in = in.subspan(15 + tl);
  return r;
}

std::string format_ipv4(std::uint32_t ip) {
  return std::to_string(ip >> 24) + "." + std::to_string((ip >> 16) & 255) + "." + std::to_string((ip >> 8) & 255) +
         "." + std::to_string(ip & 255);
}

Result<std::uint32_t> parse_ipv4(std::string_view s) {
  std::uint32_t ip = 0;
  int parts = 0;
  std::size_t i = 0;
  while (parts < 4) {
    std::size_t digits = 0;
    unsigned v = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && digits < 4) v = v * 10 + unsigned(s[i++] - '0'), ++digits;
    if (digits == 0 || digits > 3 || v > 255) break;
    ip = ip << 8 | v;
    if (++parts == 4) break;
    if (i >= s.size() || s[i] != '.') break;
    ++i;
  }
  if (parts != 4 || i != s.size()) return bad("not an IPv4 address a.b.c.d: '" + std::string(s) + "'");
  return ip;
}

// ---- configuration parameters ---------------------------------------------------------

std::string_view param_name(std::uint16_t id) {
  for (const auto& p : kParams)
    if (p.id == id) return p.name;
  return "";
}

std::optional<std::uint16_t> find_param(std::string_view name) {
  for (const auto& p : kParams)
    if (p.name == name) return p.id;
  return std::nullopt;
}

Result<void> put_config_value(Bytes& out, std::uint16_t id, const ConfigValue& v) {
  const std::size_t mark = out.size();
  auto wrong = [&](const char* want) -> Result<void> {
    std::string name(param_name(id));
    return bad("parameter " + (name.empty() ? std::to_string(id) : name) + " takes " + want);
  };
  Result<void> r;
  if (const auto* raw = std::get_if<Bytes>(&v)) {
    out.insert(out.end(), raw->begin(), raw->end());  // verbatim, for any id
  } else if (id == param::version) {
    const auto* x = std::get_if<VersionInfo>(&v);
    if (!x) return wrong("three version strings");
    if (!(r = put_gbk_string(out, x->hardware)) || !(r = put_gbk_string(out, x->software)) ||
        !(r = put_gbk_string(out, x->bootloader))) {
      out.resize(mark);
      return r;
    }
  } else if (id == param::server || id == param::fallback_server) {
    const auto* x = std::get_if<ServerAddr>(&v);
    if (!x) return wrong("a server address");
    put_le16(out, x->port);
    out.push_back(x->tcp ? 1 : 0);
    if (!(r = put_gbk_string(out, x->host))) {
      out.resize(mark);
      return r;
    }
  } else if (id == param::dns) {
    const auto* x = std::get_if<std::uint32_t>(&v);
    if (!x) return wrong("an IPv4 address");
    put_be32(out, *x);
  } else if (is_byte_param(id)) {
    const auto* x = std::get_if<std::uint8_t>(&v);
    if (!x) return wrong("one byte");
    out.push_back(*x);
  } else if (id == param::rtc) {
    const auto* x = std::get_if<RtcTime>(&v);
    if (!x) return wrong("a date and time");
    if (auto c = check_rtc(*x); !c) return c;
    out.push_back(to_bcd(x->year / 100));
    out.push_back(to_bcd(x->year % 100));
    for (int f : {x->month, x->day, x->hour, x->minute, x->second, x->weekday}) out.push_back(to_bcd(f));
  } else {
    return bad("parameter " + std::to_string(id) + " is unknown; give its value as bytes");
  }
  return {};
}

Result<ConfigValue> get_config_value(std::uint16_t id, ByteView in) {
  if (id == param::version) {
    VersionInfo v;
    for (std::string* s : {&v.hardware, &v.software, &v.bootloader}) {
      auto r = get_gbk_string(in);
      if (!r) return unexpected(std::move(r).error());
      *s = std::move(*r);
    }
    if (auto e = expect_end(in, "the three version strings"); !e) return unexpected(std::move(e).error());
    return v;
  }
  if (id == param::server || id == param::fallback_server) {
    ServerAddr a;
    auto port = take_le16(in, "the server port");
    if (!port) return unexpected(std::move(port).error());
    auto tr = take_u8(in, "the transport byte");
    if (!tr) return unexpected(std::move(tr).error());
    if (*tr > 1) return bad("transport byte is " + std::to_string(*tr) + "; 1 = tcp, 0 = udp");
    auto host = get_gbk_string(in);
    if (!host) return unexpected(std::move(host).error());
    if (auto e = expect_end(in, "the server host"); !e) return unexpected(std::move(e).error());
    a.port = *port;
    a.tcp = *tr == 1;
    a.host = std::move(*host);
    return a;
  }
  if (id == param::dns) {
    if (auto e = expect_size(in, 4, "a dns address"); !e) return unexpected(std::move(e).error());
    return ConfigValue(std::in_place_type<std::uint32_t>, get_be32(in.data()));
  }
  if (is_byte_param(id)) {
    if (auto e = expect_size(in, 1, "a one-byte setting"); !e) return unexpected(std::move(e).error());
    return ConfigValue(std::in_place_type<std::uint8_t>, in[0]);
  }
  if (id == param::rtc) {
    if (auto e = expect_size(in, 8, "an rtc value"); !e) return unexpected(std::move(e).error());
    int f[8];
    for (std::size_t i = 0; i < 8; ++i) {
      f[i] = from_bcd(in[i]);
      if (f[i] < 0) {
        char msg[64];
        std::snprintf(msg, sizeof msg, "rtc byte %zu is 0x%02X, not BCD", i, in[i]);
        return bad(msg, i);
      }
    }
    RtcTime t{f[0] * 100 + f[1], f[2], f[3], f[4], f[5], f[6], f[7]};
    if (auto c = check_rtc(t); !c) return unexpected(std::move(c).error());
    return t;
  }
  return ConfigValue(std::in_place_type<Bytes>, in.begin(), in.end());
}

// ---- strings ----------------------------------------------------------------------------

Result<void> put_gbk_string(Bytes& out, std::string_view utf8) {
  if (utf8.find('\0') != std::string_view::npos) return bad("a protocol string cannot contain NUL");
  auto gbk = utf8_to_gbk(utf8);
  if (!gbk) return bad("'" + std::string(utf8) + "' cannot be written in GBK: " + gbk.error().message);
  out.insert(out.end(), gbk->begin(), gbk->end());
  out.push_back(0);
  return {};
}

Result<std::string> get_gbk_string(ByteView& in) {
  const void* nul = in.empty() ? nullptr : std::memchr(in.data(), 0, in.size());
  if (!nul) return bad("string has no NUL terminator");
  const std::size_t n = static_cast<std::size_t>(static_cast<const std::uint8_t*>(nul) - in.data());
  ByteView s = in.first(n);
  auto utf8 = gbk_to_utf8(s);
  if (!utf8) return bad("string is not valid GBK: " + utf8.error().message, utf8.error().offset);
  // Strictness: a GBK sequence iconv accepts but maps to text that encodes differently
  // would not survive the JSON round trip, so it counts as invalid here.
  for (std::uint8_t c : s) {
    if (c >= 0x80) {
      auto back = utf8_to_gbk(*utf8);
      if (!back || !std::equal(back->begin(), back->end(), s.begin(), s.end()))
        return bad("GBK string does not convert back to the same bytes");
      break;
    }
  }
  in = in.subspan(n + 1);
  return utf8;
}

}  // namespace m2m::ai
