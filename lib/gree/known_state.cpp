#include "gree/known_state.hpp"

#include <algorithm>

namespace m2m::gree {

namespace {
unexpected<Error> bad(std::string msg) { return fail(ErrorKind::bad_json, std::move(msg)); }
}  // namespace

KnownState known_state_of(const Status& s, Checksum ck, std::string port, std::string seen) {
  KnownState k;
  k.port = std::move(port);
  k.address = s.address;
  k.code = s.settings();
  k.seen = std::move(seen);
  if (auto raw = encode_status(s, ck)) k.frame = to_hex(*raw);
  return k;
}

Json known_state_to_json(const KnownState& k) {
  Json j;
  j["v"] = 1;
  j["port"] = k.port;
  j["address"] = k.address;
  j["code"] = k.code.hex();
  j["seen"] = k.seen;
  j["frame"] = k.frame;
  remote_fields_to_json(k.code, j);
  return j;
}

Result<KnownState> known_state_from_json(const Json& j) {
  if (!j.is_object()) return bad("not a JSON object");
  if (!j.contains("v") || j["v"] != 1) return bad("\"v\" is not 1");
  KnownState k;
  if (!j.contains("port") || !j["port"].is_string()) return bad("no \"port\" string");
  k.port = j["port"].get<std::string>();
  if (!j.contains("address") || !j["address"].is_number_integer()) return bad("no \"address\" number");
  const auto a = j["address"].get<long long>();
  if (a < 1 || a > kMaxAddress) return bad("\"address\" out of range 1..9999");
  k.address = static_cast<int>(a);
  if (!j.contains("code") || !j["code"].is_string()) return bad("no \"code\" string");
  auto code = parse_hex(j["code"].get<std::string>());
  if (!code || code->size() != 4) return bad("\"code\" is not 8 hex digits");
  std::copy(code->begin(), code->end(), k.code.bytes.begin());
  if (j.contains("seen") && j["seen"].is_string()) k.seen = j["seen"].get<std::string>();
  if (j.contains("frame") && j["frame"].is_string()) k.frame = j["frame"].get<std::string>();
  return k;
}

std::string state_file_name(std::string_view port, int address) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  if (!port.empty() && port.front() == '/') port.remove_prefix(1);
  std::string out;
  for (const char ch : port) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0x0F];
    }
  }
  return out + "@" + std::to_string(address) + ".json";
}

bool gives_main_settings(const Json& patch) {
  static constexpr const char* kMain[] = {"power", "mode", "set_temp", "fan"};
  return patch.is_object() && std::all_of(std::begin(kMain), std::end(kMain), [&](const char* key) { return patch.contains(key); });
}

Result<std::optional<RemoteCode>> addressed_code(const std::optional<RemoteCode>& known, const Json& patch) {
  if (!known && !gives_main_settings(patch)) return std::optional<RemoteCode>{};
  RemoteCode code = known ? *known : RemoteCode::factory();
  if (auto ok = apply_remote_fields(patch, code); !ok) return unexpected<Error>(ok.error());
  return std::optional<RemoteCode>{code};
}

}  // namespace m2m::gree
