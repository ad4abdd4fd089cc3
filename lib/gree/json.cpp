#include "gree/json.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>
#include <utility>

namespace m2m::gree {

namespace {

Json timer_json(const RemoteCode& c) {
  if (!c.timer_on()) return nullptr;
  return c.timer_half_hours() / 2.0;
}

unexpected<Error> bad(std::string msg) { return fail(ErrorKind::bad_json, std::move(msg)); }

// Reads an optional boolean field; sets `present` when there.
Result<bool> get_bool(const Json& in, const char* key, bool& present) {
  present = false;
  auto it = in.find(key);
  if (it == in.end()) return false;
  if (!it->is_boolean()) return bad(std::string(key) + " must be true or false");
  present = true;
  return it->get<bool>();
}

// Applies a boolean field through getter/setter when it differs.
template <class Get, class Set>
Result<void> apply_bool(const Json& in, const char* key, Get get, Set set) {
  bool present = false;
  auto v = get_bool(in, key, present);
  if (!v) return unexpected<Error>(v.error());
  if (present && *v != get()) set(*v);
  return {};
}

Result<int> get_int(const Json& in, const char* key, int lo, int hi, int fallback) {
  auto it = in.find(key);
  if (it == in.end()) return fallback;
  if (!it->is_number_integer()) return bad(std::string(key) + " must be an integer " + std::to_string(lo) + ".." + std::to_string(hi));
  const auto v = it->get<long long>();
  if (v < lo || v > hi) return bad(std::string(key) + " " + std::to_string(v) + " out of range " + std::to_string(lo) + ".." + std::to_string(hi));
  return static_cast<int>(v);
}

Result<Bytes> get_hex_field(const Json& in, const char* key, std::size_t n) {
  auto it = in.find(key);
  if (it == in.end()) return Bytes{};
  if (!it->is_string()) return bad(std::string(key) + " must be a hex string");
  auto b = parse_hex(it->get<std::string>());
  if (!b || b->size() != n) return bad(std::string(key) + " must be " + std::to_string(2 * n) + " hex digits");
  return *b;
}

std::string_view indoor_fan(const Status& s) {
  if (s.indoor_fan_high()) return "high";
  if (s.indoor_fan_medium()) return "medium";
  if (s.indoor_fan_low()) return "low";
  return "off";
}
std::string_view outdoor_fan(const Status& s) {
  if (s.outdoor_fan_high()) return "high";
  if (s.outdoor_fan_low()) return "low";
  return "off";
}

void set_bit(std::uint8_t& b, std::uint8_t mask, bool on) {
  b = static_cast<std::uint8_t>(on ? (b | mask) : (b & ~mask));
}

Result<void> apply_running(const Json& in, Status& s) {
  auto it = in.find("running");
  if (it == in.end()) return {};
  if (!it->is_object()) return bad("running must be an object");
  const Json& r = *it;
  struct Flag { const char* key; std::uint8_t* byte; std::uint8_t mask; };
  const Flag flags[] = {{"compressor", &s.s2, 0x02}, {"four_way_valve", &s.s2, 0x10}, {"heater", &s.s1, 0x10}};
  for (const auto& f : flags) {
    std::uint8_t* byte = f.byte;
    const std::uint8_t mask = f.mask;
    auto ok = apply_bool(r, f.key, [&] { return (*byte & mask) != 0; }, [&](bool on) { set_bit(*byte, mask, on); });
    if (!ok) return ok;
  }
  if (auto f = r.find("indoor_fan"); f != r.end()) {
    if (!f->is_string()) return bad("running.indoor_fan must be off|low|medium|high");
    const auto v = f->get<std::string>();
    if (v != indoor_fan(s)) {
      std::uint8_t bit;
      if (v == "off") bit = 0; else if (v == "low") bit = 0x02; else if (v == "medium") bit = 0x04; else if (v == "high") bit = 0x08;
      else return bad("running.indoor_fan \"" + v + "\" is not off|low|medium|high");
      s.s1 = static_cast<std::uint8_t>((s.s1 & ~0x0E) | bit);
    }
  }
  if (auto f = r.find("outdoor_fan"); f != r.end()) {
    if (!f->is_string()) return bad("running.outdoor_fan must be off|low|high");
    const auto v = f->get<std::string>();
    if (v != outdoor_fan(s)) {
      std::uint8_t bit;
      if (v == "off") bit = 0; else if (v == "low") bit = 0x80; else if (v == "high") bit = 0x20;
      else return bad("running.outdoor_fan \"" + v + "\" is not off|low|high");
      s.s2 = static_cast<std::uint8_t>((s.s2 & ~0xA0) | bit);
    }
  }
  return {};
}

Result<void> apply_status3(const Json& in, Status& s) {
  if (auto it = in.find("faults"); it != in.end()) {
    if (!it->is_array()) return bad("faults must be an array of codes E1..E6");
    std::uint8_t bits = 0;
    for (const auto& f : *it) {
      const Json* code = &f;
      if (f.is_object()) {
        auto c = f.find("code");
        if (c == f.end()) return bad("a fault object needs a \"code\"");
        code = &*c;
      }
      if (!code->is_string()) return bad("fault codes are strings E1..E6");
      auto n = parse_fault(code->get<std::string>());
      if (!n) return bad("fault \"" + code->get<std::string>() + "\" is not E1..E6");
      bits = static_cast<std::uint8_t>(bits | (1u << (*n - 1)));
    }
    s.s3 = static_cast<std::uint8_t>((s.s3 & 0xC0) | bits);
  }
  auto mem = apply_bool(in, "memory", [&] { return s.memory(); }, [&](bool on) { set_bit(s.s3, 0x40, on); });
  if (!mem) return mem;
  if (auto it = in.find("model"); it != in.end()) {
    if (!it->is_string()) return bad("model must be cooling_only or heat_pump");
    const auto v = it->get<std::string>();
    if (v == "cooling_only") set_bit(s.s3, 0x80, true);
    else if (v == "heat_pump") set_bit(s.s3, 0x80, false);
    else return bad("model \"" + v + "\" is not cooling_only or heat_pump");
  }
  return {};
}

}  // namespace

void remote_fields_to_json(const RemoteCode& c, Json& out) {
  out["power"] = c.power();
  out["mode"] = mode_name(c.raw_mode());
  out["set_temp"] = c.set_temp();
  out["fan"] = fan_name(c.fan());
  out["swing"] = c.swing();
  out["sleep"] = c.sleep();
  out["turbo"] = c.turbo();
  out["light"] = c.light();
  out["ventilation"] = c.ventilation();
  out["x_fan"] = c.x_fan();
  out["timer"] = timer_json(c);
}

Json status_to_json(const Status& s, Checksum ck) {
  Json j;
  j["v"] = 1;
  j["type"] = "status";
  j["address"] = s.address;
  remote_fields_to_json(s.code, j);
  // The seed: swing, light and ventilation are read from status 1, not the echoed code.
  j["swing"] = s.swing();
  j["light"] = s.light();
  j["ventilation"] = s.ventilation();
  j["room_temp"] = s.room_temp;
  j["running"] = Json{{"compressor", s.compressor()},
                      {"four_way_valve", s.four_way_valve()},
                      {"indoor_fan", indoor_fan(s)},
                      {"outdoor_fan", outdoor_fan(s)},
                      {"heater", s.heater()}};
  Json faults = Json::array();
  for (int n = 1; n <= 6; ++n)
    if (s.faults() & (1u << (n - 1))) faults.push_back(Json{{"code", "E" + std::to_string(n)}, {"message", fault_message(n)}});
  j["faults"] = std::move(faults);
  j["memory"] = s.memory();
  j["model"] = s.cooling_only() ? "cooling_only" : "heat_pump";
  j["code"] = s.code.hex();
  const std::uint8_t st[] = {s.s1, s.s2, s.s3};
  j["status"] = to_hex(ByteView(st, 3));
  if (auto raw = encode_status(s, ck)) j["raw"] = to_hex(*raw);
  return j;
}

Json request_to_json(const Request& r, Checksum ck) {
  Json j;
  j["v"] = 1;
  j["type"] = to_string(r.kind);
  j["address"] = r.address;
  j["code"] = r.code.hex();
  if (r.kind != RequestKind::read) {  // a read's code is not executed: its fields mean nothing
    j["valid"] = r.code.valid();
    remote_fields_to_json(r.code, j);
  }
  if (auto raw = encode_request(r, ck)) j["raw"] = to_hex(*raw);
  return j;
}

Result<void> apply_remote_fields(const Json& in, RemoteCode& c) {
  if (!in.is_object()) return bad("expected a JSON object");
  for (auto entry : {
           std::tuple<const char*, bool (RemoteCode::*)() const, void (RemoteCode::*)(bool)>{"power", &RemoteCode::power, &RemoteCode::set_power},
           {"swing", &RemoteCode::swing, &RemoteCode::set_swing},
           {"sleep", &RemoteCode::sleep, &RemoteCode::set_sleep},
           {"turbo", &RemoteCode::turbo, &RemoteCode::set_turbo},
           {"light", &RemoteCode::light, &RemoteCode::set_light},
           {"ventilation", &RemoteCode::ventilation, &RemoteCode::set_ventilation},
           {"x_fan", &RemoteCode::x_fan, &RemoteCode::set_x_fan}}) {
    const auto get = std::get<1>(entry);
    const auto set = std::get<2>(entry);
    auto ok = apply_bool(in, std::get<0>(entry), [&] { return (c.*get)(); }, [&](bool on) { (c.*set)(on); });
    if (!ok) return ok;
  }
  if (auto it = in.find("mode"); it != in.end()) {
    if (!it->is_string()) return bad("mode must be a string: auto|cool|dry|fan|heat");
    const auto v = it->get<std::string>();
    if (v != mode_name(c.raw_mode())) {
      auto m = parse_mode(v);
      if (!m) return bad("mode \"" + v + "\" is not one of auto|cool|dry|fan|heat");
      c.set_mode(*m);
    }
  }
  if (auto it = in.find("fan"); it != in.end()) {
    if (!it->is_string()) return bad("fan must be a string: auto|low|medium|high");
    const auto v = it->get<std::string>();
    if (v != fan_name(c.fan())) {
      auto f = parse_fan(v);
      if (!f) return bad("fan \"" + v + "\" is not one of auto|low|medium|high");
      c.set_fan(*f);
    }
  }
  if (auto it = in.find("set_temp"); it != in.end()) {
    if (!it->is_number_integer()) return bad("set_temp must be an integer 16..30");
    const auto v = it->get<long long>();
    if (v != c.set_temp()) {
      if (v < kMinTemp || v > kMaxTemp) return bad("set_temp " + std::to_string(v) + " out of range 16..30");
      c.set_temp(static_cast<int>(v));
    }
  }
  if (auto it = in.find("timer"); it != in.end()) {
    if (it->is_null() || (it->is_boolean() && !it->get<bool>())) {
      if (c.timer_on()) c.set_timer(0);
    } else if (it->is_number()) {
      const double h = it->get<double>();
      const double halves = h * 2;
      if (c.timer_on() && halves == c.timer_half_hours()) return {};  // as the bytes already say
      if (!(halves >= 1 && halves <= kMaxTimerHalfHours) || std::floor(halves) != halves)
        return bad("timer must be null or 0.5..24 hours in half-hour steps");
      if (!c.timer_on() || c.timer_half_hours() != static_cast<int>(halves)) c.set_timer(static_cast<int>(halves));
    } else {
      return bad("timer must be null or a number of hours (0.5..24)");
    }
  }
  return {};
}

Result<Bytes> encode_json(const Json& in, Checksum ck) {
  if (!in.is_object()) return bad("expected a JSON object");
  auto t = in.find("type");
  if (t == in.end() || !t->is_string()) return bad("missing \"type\" (status, read, broadcast, addressed, set_address)");
  const auto type = t->get<std::string>();
  auto code_bytes = get_hex_field(in, "code", 4);
  if (!code_bytes) return unexpected<Error>(code_bytes.error());
  const bool has_code = !code_bytes->empty();

  if (type == "status") {
    Status s;
    if (has_code) std::copy(code_bytes->begin(), code_bytes->end(), s.code.bytes.begin());
    auto st = get_hex_field(in, "status", 3);
    if (!st) return unexpected<Error>(st.error());
    if (!st->empty()) { s.s1 = (*st)[0]; s.s2 = (*st)[1]; s.s3 = (*st)[2]; }
    auto addr = get_int(in, "address", 0, kMaxAddress, 0);
    if (!addr) return unexpected<Error>(addr.error());
    s.address = *addr;
    auto room = get_int(in, "room_temp", 0, 99, 0);
    if (!room) return unexpected<Error>(room.error());
    s.room_temp = *room;
    // swing/light/ventilation of a status object describe status 1; the echoed code follows
    // them only when the object gives no code of its own.
    Json code_fields = in;
    if (has_code)
      for (const char* k : {"swing", "light", "ventilation"}) code_fields.erase(k);
    if (auto ok = apply_remote_fields(code_fields, s.code); !ok) return unexpected<Error>(ok.error());
    for (auto [key, mask] : {std::pair<const char*, std::uint8_t>{"swing", 0x40}, {"light", 0x20}, {"ventilation", 0x01}}) {
      const std::uint8_t m = mask;
      auto ok = apply_bool(in, key, [&] { return (s.s1 & m) != 0; }, [&](bool on) { set_bit(s.s1, m, on); });
      if (!ok) return unexpected<Error>(ok.error());
    }
    if (auto ok = apply_running(in, s); !ok) return unexpected<Error>(ok.error());
    if (auto ok = apply_status3(in, s); !ok) return unexpected<Error>(ok.error());
    return encode_status(s, ck);
  }

  Request r;
  if (type == "read") r.kind = RequestKind::read;
  else if (type == "broadcast") r.kind = RequestKind::broadcast;
  else if (type == "addressed") r.kind = RequestKind::addressed;
  else if (type == "set_address") r.kind = RequestKind::set_address;
  else return bad("unknown type \"" + type + "\" (status, read, broadcast, addressed, set_address)");
  // A request without a code starts from the factory state (for a read, the code is filler).
  if (has_code) std::copy(code_bytes->begin(), code_bytes->end(), r.code.bytes.begin());
  auto addr = get_int(in, "address", 0, kMaxAddress, 0);
  if (!addr) return unexpected<Error>(addr.error());
  r.address = *addr;
  if (auto ok = apply_remote_fields(in, r.code); !ok) return unexpected<Error>(ok.error());
  auto out = encode_request(r, ck);
  if (!out) return unexpected<Error>(Error{ErrorKind::bad_json, 0, out.error().message});
  return out;
}

}  // namespace m2m::gree
