#include "bridge/gree_bridge.hpp"

#include <charconv>

#include "m2m/frame.hpp"

namespace m2m::gree {

namespace {

unexpected<Error> bad(std::string msg) { return fail(ErrorKind::bad_value, std::move(msg)); }
unexpected<Error> bad_json(std::string msg) { return fail(ErrorKind::bad_json, std::move(msg)); }

// The names `set` accepts, as gree-ctl set spells them (and the status object's names).
constexpr std::string_view kSetFields[] = {"power", "mode", "temp", "set_temp", "fan", "swing", "sleep",
                                           "turbo", "light", "ventilation", "x_fan", "timer"};

bool known_set_field(std::string_view k) {
  for (auto f : kSetFields)
    if (f == k) return true;
  return false;
}

}  // namespace

Result<BridgeUnit> parse_bridge_unit(std::string_view spec) {
  const std::string whole(spec);
  const auto usage = [&](const std::string& why) {
    return bad("--unit " + whole + ": " + why + " (expected ADDR=DEVICE_ID:PASSWORD, e.g. 1023=0000000000FED24A:text:123)");
  };
  const auto eq = spec.find('=');
  if (eq == std::string_view::npos) return usage("no '='");
  const std::string_view addr = spec.substr(0, eq), rest = spec.substr(eq + 1);
  BridgeUnit u;
  auto [p, ec] = std::from_chars(addr.data(), addr.data() + addr.size(), u.address);
  if (ec != std::errc{} || p != addr.data() + addr.size() || u.address < 1 || u.address > kMaxAddress)
    return usage("the address must be a unit address 1..9999 (a bus address; set one with set-address)");
  const auto colon = rest.find(':');
  if (colon == std::string_view::npos) return usage("no ':' between the device id and the password");
  auto dev = ai::parse_device(rest.substr(0, colon));
  if (!dev) return usage("device id: " + dev.error().message);
  if (*dev == 0) return usage("device id 0 is no device");
  auto pw = ai::parse_password(rest.substr(colon + 1));
  if (!pw) return usage("password: " + pw.error().message);
  u.device = *dev;
  u.password = *pw;
  return u;
}

Result<Downlink> parse_downlink(ByteView payload) {
  const std::string_view text(reinterpret_cast<const char*>(payload.data()), payload.size());
  const Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return bad_json("the payload is not a JSON object; send {\"set\":{\"temp\":22,\"mode\":\"cool\"}} or {\"status\":true}");
  const bool has_set = j.contains("set"), has_status = j.contains("status");
  if (has_set == has_status) return bad_json("give exactly one of \"set\" and \"status\"");
  Downlink d;
  if (has_status) {
    if (j["status"] != true) return bad_json("\"status\" must be true");
    d.kind = Downlink::Kind::status;
    return d;
  }
  const Json& s = j["set"];
  if (!s.is_object() || s.empty()) return bad_json("\"set\" must be an object with at least one setting");
  d.kind = Downlink::Kind::set;
  d.patch = Json::object();
  for (auto& [key, value] : s.items()) {
    if (!known_set_field(key))
      return bad_json("unknown setting \"" + key + "\" (power, mode, temp, fan, swing, sleep, turbo, light, ventilation, x_fan, timer)");
    if (key == "temp" && s.contains("set_temp")) return bad_json("give \"temp\" or \"set_temp\", not both");
    Json v = value;
    if (v.is_string() && (v == "on" || v == "off") && key != "mode" && key != "fan" && key != "timer") v = v == "on";
    if (key == "timer" && v.is_number() && v.get<double>() == 0) v = nullptr;  // 0: timer off
    d.patch[key == "temp" ? "set_temp" : key] = std::move(v);
  }
  // Values are checked here, once, so a bad one never reaches the line.
  RemoteCode probe;
  if (auto ok = apply_remote_fields(d.patch, probe); !ok) {
    std::string msg = ok.error().message;  // named as the operator wrote it
    if (s.contains("temp") && msg.starts_with("set_temp")) msg.replace(0, 8, "temp");
    return bad_json(std::move(msg));
  }
  return d;
}

std::string state_payload(const Status& s, Checksum ck) { return status_to_json(s, ck).dump(); }

std::string error_payload(int address, std::string_view kind, std::string_view message) {
  Json j;
  j["error"] = std::string(message);
  j["kind"] = std::string(kind);
  j["address"] = address;
  return j.dump();
}

std::vector<std::string> fault_changes(int address, std::optional<std::uint8_t> before, std::uint8_t after) {
  std::vector<std::string> out;
  const std::uint8_t was = before.value_or(0) & 0x3F, now = after & 0x3F;
  for (int n = 1; n <= 6; ++n) {
    const std::uint8_t bit = static_cast<std::uint8_t>(1u << (n - 1));
    if ((was & bit) == (now & bit)) continue;
    out.push_back("unit " + std::to_string(address) + ": fault E" + std::to_string(n) + " (" + std::string(fault_message(n)) +
                  ") " + ((now & bit) ? "appeared" : "cleared"));
  }
  return out;
}

DeviceParams::DeviceParams(std::string software_version, std::string server_host, std::uint16_t server_port,
                           std::uint8_t heartbeat_s) {
  const auto set = [this](std::uint16_t id, const ai::ConfigValue& v) {
    Bytes b;
    if (ai::put_config_value(b, id, v)) values_[id] = std::move(b);
  };
  set(ai::param::version, ai::VersionInfo{"gree-serial", std::move(software_version), "none"});
  set(ai::param::server, ai::ServerAddr{std::move(server_host), server_port, true});
  set(ai::param::fallback_server, ai::ServerAddr{"", 0, true});
  set(ai::param::dns, std::uint32_t{0});
  set(ai::param::send_wait, std::uint8_t{0});
  set(ai::param::heartbeat_interval, heartbeat_s);
  set(ai::param::rtc, ai::RtcTime{});
  set(ai::param::write_timeout, std::uint8_t{0});
  set(ai::param::read_timeout, std::uint8_t{0});
}

std::optional<Bytes> DeviceParams::read(std::uint16_t id) const {
  auto it = values_.find(id);
  if (it == values_.end()) return std::nullopt;
  Bytes out;
  put_le16(out, id);
  out.insert(out.end(), it->second.begin(), it->second.end());
  return out;
}

std::uint8_t DeviceParams::write(ByteView data) {
  if (data.size() < 2) return ai::status::fail;
  const std::uint16_t id = get_le16(data.data());
  auto it = values_.find(id);
  if (it == values_.end()) return ai::status::unsupported;
  if (id == ai::param::version) return ai::status::fail;  // read only
  const ByteView value = data.subspan(2);
  if (!ai::get_config_value(id, value)) return ai::status::fail;
  if (id == ai::param::heartbeat_interval && value[0] == 0) return ai::status::fail;  // a device must keep its session alive
  it->second.assign(value.begin(), value.end());
  return ai::status::ok;
}

std::uint8_t DeviceParams::heartbeat_seconds() const {
  auto it = values_.find(ai::param::heartbeat_interval);
  return it != values_.end() && !it->second.empty() ? it->second[0] : 30;
}

}  // namespace m2m::gree
