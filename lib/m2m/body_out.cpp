// Data area -> JSON body text (the decode direction). The form is chosen as documented in
// m2m-protocol.7 "JSON BODIES": status request selects the request form; any other status
// with empty data is the generic reply {} (group_list ok: an empty device list); status ok
// with data selects the command's specific reply form, if it has one.
#include <cstdio>
#include <variant>

#include "m2m/json.hpp"
#include "m2m/json_text.hpp"
#include "m2m/messages.hpp"

namespace m2m::ai::detail {
namespace {

unexpected<Error> bad(std::string message) { return fail(ErrorKind::bad_value, std::move(message)); }

std::string n_bytes(std::size_t n) { return std::to_string(n) + (n == 1 ? " byte" : " bytes"); }

void device(JsonOut& w, std::string_view key, std::uint64_t id) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llX", static_cast<unsigned long long>(id));
  w.key(key).str(std::string_view(buf, 16));
}

void peer_record(JsonOut& w, const PeerRecord& r) {
  w.open();
  device(w, "id", r.id);
  w.key("token").hex(r.token);
  w.key("ip").str(format_ipv4(r.ip));
  w.key("port").num(r.port);
  w.close();
}

void param_id(JsonOut& w, std::uint16_t id) {
  std::string_view name = param_name(id);
  if (name.empty()) w.key("param").num(id);
  else w.key("param").str(name);
}

void config_value(JsonOut& w, const ConfigValue& v) {
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
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", x->year, x->month, x->day, x->hour,
                  x->minute, x->second);
    w.open().key("datetime").str(buf).key("weekday").num(static_cast<std::uint64_t>(x->weekday)).close();
  } else {
    w.hex(std::get<Bytes>(v));
  }
}

// param (2) + value, as in config_read ok and config_write request.
Result<void> param_and_value(JsonOut& w, ByteView d) {
  if (d.size() < 2) return bad("parameter id is 2 bytes, data has " + n_bytes(d.size()));
  const std::uint16_t id = get_le16(d.data());
  auto v = get_config_value(id, d.subspan(2));
  if (!v) return unexpected(std::move(v).error());
  w.open();
  param_id(w, id);
  config_value(w, *v);
  w.close();
  return {};
}

// id (8) + payload, as in data.relay and data.p2p_send.
Result<void> id_and_payload(JsonOut& w, ByteView d, std::string_view id_key) {
  if (d.size() < 8) return bad("device id is 8 bytes, data has " + n_bytes(d.size()));
  w.open();
  device(w, id_key, get_be64(d.data()));
  w.key("payload").hex(d.subspan(8));
  w.close();
  return {};
}

Result<void> one_id(JsonOut& w, ByteView d, std::string_view key) {
  if (d.size() != 8) return bad("device id is 8 bytes, data has " + n_bytes(d.size()));
  w.open();
  device(w, key, get_be64(d.data()));
  w.close();
  return {};
}

Result<void> password(JsonOut& w, ByteView d) {
  if (d.size() != 8) return bad("password is 8 bytes, data has " + n_bytes(d.size()));
  w.open().key("password").hex(d).close();
  return {};
}

Result<void> empty_request(JsonOut& w, ByteView d) {
  if (!d.empty()) return bad("this request has no data, got " + n_bytes(d.size()));
  w.open().close();
  return {};
}

Result<void> whole_record(JsonOut& w, ByteView d) {
  auto r = get_peer_record(d);
  if (!r) return unexpected(std::move(r).error());
  if (!d.empty()) return bad(n_bytes(d.size()) + " left over after the peer record");
  peer_record(w, *r);
  return {};
}

Result<void> request_body(JsonOut& w, std::uint16_t key, ByteView d) {
  switch (key) {
    case cmd::link_login:
    case cmd::platform_login: return password(w, d);
    case cmd::link_heartbeat:
    case cmd::platform_heartbeat:
    case cmd::term_reboot: return empty_request(w, d);
    case cmd::link_p2p_request:
      // 8 bytes: a device asks for a target; anything else: the platform's introduction.
      return d.size() == 8 ? one_id(w, d, "target") : whole_record(w, d);
    case cmd::link_p2p_confirm: return one_id(w, d, "sender");
    case cmd::data_group_list:
      if (d.empty()) return empty_request(w, d);
      if (d.size() != 2) return bad("start index is 2 bytes, data has " + n_bytes(d.size()));
      w.open().key("start").num(get_le16(d.data())).close();
      return {};
    case cmd::data_relay: return id_and_payload(w, d, "peer");
    case cmd::data_p2p_send: return id_and_payload(w, d, "sender");
    case cmd::data_uplink:
    case cmd::data_downlink: w.open().key("payload").hex(d).close(); return {};
    case cmd::term_ota_start: {
      auto b = get_ota_start(d);
      if (!b) return unexpected(std::move(b).error());
      w.open().key("file").str(b->file).key("checksum").num(b->checksum).close();
      return {};
    }
    case cmd::term_ota_frame: {
      auto b = get_ota_frame_request(d);
      if (!b) return unexpected(std::move(b).error());
      w.open().key("file").str(b->file).key("frame").num(b->frame).key("size").num(b->size).close();
      return {};
    }
    case cmd::term_config_read:
      if (d.size() != 2) return bad("parameter id is 2 bytes, data has " + n_bytes(d.size()));
      w.open();
      param_id(w, get_le16(d.data()));
      w.close();
      return {};
    case cmd::term_config_write: return param_and_value(w, d);
    case cmd::term_event: {
      auto b = get_event(d);
      if (!b) return unexpected(std::move(b).error());
      w.open().key("code").num(b->code).key("event");
      if (b->code == event_code::upgrade) w.str("upgrade");
      else if (b->code == event_code::working) w.str("working");
      else w.null();
      w.key("description").str(b->description).close();
      return {};
    }
    case cmd::platform_add_terminal:
      if (d.size() != 16) return bad("device id and password are 16 bytes, data has " + n_bytes(d.size()));
      w.open();
      device(w, "id", get_be64(d.data()));
      w.key("password").hex(d.subspan(8)).close();
      return {};
  }
  return bad("not a catalogue command");
}

// Status ok with a non-empty data area.
Result<void> ok_reply_body(JsonOut& w, std::uint16_t key, ByteView d) {
  switch (key) {
    case cmd::link_login:
    case cmd::platform_login:
      if (d[0] + 1u != d.size())
        return bad("token field says " + n_bytes(d[0]) + ", " + n_bytes(d.size() - 1) + " follow");
      w.open().key("token").hex(d.subspan(1)).close();
      return {};
    case cmd::link_p2p_request: return whole_record(w, d);
    case cmd::link_p2p_confirm: return one_id(w, d, "sender");
    case cmd::data_group_list:
      // Parse all records first: a failure must leave nothing written.
      {
        std::vector<PeerRecord> records;
        while (!d.empty()) {
          auto r = get_peer_record(d);
          if (!r) return bad("record " + std::to_string(records.size()) + ": " + r.error().message);
          records.push_back(std::move(*r));
        }
        w.open().key("devices").open_array();
        for (const auto& r : records) {
          w.element();
          peer_record(w, r);
        }
        w.close_array().close();
      }
      return {};
    case cmd::term_ota_frame: {
      auto b = get_ota_frame_reply(d);
      if (!b) return unexpected(std::move(b).error());
      w.open().key("file").str(b->file).key("frame").num(b->frame).key("count").num(b->count);
      w.key("bytes").hex(b->bytes).close();
      return {};
    }
    case cmd::term_config_read: return param_and_value(w, d);
  }
  return bad("an ok reply of this command carries no data (generic reply), got " + n_bytes(d.size()));
}

}  // namespace

Result<void> append_body(std::string& out, const FrameView& f) {
  const std::uint16_t key = command_key(f.cls, f.cmd);
  if (type_name(f.cls, f.cmd) == "unknown") return bad("no body form for a command outside the catalogue");
  const std::size_t mark = out.size();
  JsonOut w(out);
  Result<void> r;
  if (f.status == status::request) {
    r = request_body(w, key, f.data);
  } else if (f.data.empty()) {
    w.open();
    if (f.status == status::ok && key == cmd::data_group_list) w.key("devices").open_array().close_array();
    w.close();
  } else if (f.status == status::ok) {
    r = ok_reply_body(w, key, f.data);
  } else {
    r = bad("a " + status_name(f.status) + " reply carries no data, got " + n_bytes(f.data.size()));
  }
  if (!r) out.resize(mark);
  return r;
}

}  // namespace m2m::ai::detail
