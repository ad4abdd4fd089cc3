// The shared pieces of the body files; see body_common.hpp.
#include "m2m/body_common.hpp"

#include <cstdio>

namespace m2m::ai::detail {

unexpected<Error> bad(std::string message, std::uint64_t offset) {
  return fail(ErrorKind::bad_value, std::move(message), offset);
}

std::string n_bytes(std::size_t n) { return std::to_string(n) + (n == 1 ? " byte" : " bytes"); }

Result<void> expect_size(ByteView in, std::size_t n, std::string_view what) {
  if (in.size() != n)
    return bad(std::string(what) + " is " + n_bytes(n) + ", data has " + n_bytes(in.size()));
  return {};
}

Result<void> expect_end(ByteView in, std::string_view what) {
  if (!in.empty()) return bad(n_bytes(in.size()) + " left over after " + std::string(what));
  return {};
}

Result<void> get_empty(ByteView d) {
  if (!d.empty()) return bad("this request has no data, got " + n_bytes(d.size()));
  return {};
}

Result<std::uint64_t> get_one_id(ByteView d) {
  if (d.size() != 8) return bad("device id is 8 bytes, data has " + n_bytes(d.size()));
  return get_be64(d.data());
}

Result<PeerRecord> get_whole_peer_record(ByteView d) {
  auto r = get_peer_record(d);
  if (!r) return r;
  if (!d.empty()) return bad(n_bytes(d.size()) + " left over after the peer record");
  return r;
}

unexpected<Error> no_reply_form(ByteView d) {
  return bad("an ok reply of this command carries no data (generic reply), got " + n_bytes(d.size()));
}

void device_json(JsonOut& w, std::string_view key, std::uint64_t id) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llX", static_cast<unsigned long long>(id));
  w.key(key).str(std::string_view(buf, 16));
}

void peer_record_json(JsonOut& w, const PeerRecord& r) {
  w.open();
  device_json(w, "id", r.id);
  w.key("token").hex(r.token);
  w.key("ip").str(format_ipv4(r.ip));
  w.key("port").num(r.port);
  w.close();
}

void empty_json(JsonOut& w) { w.open().close(); }

std::uint64_t device_from_json(const json& body, std::string_view key) {
  return get_device(required(body, kBody, key), at(key));
}

Password password_from_json(const json& body) {
  const std::string path = at("password");
  auto p = parse_password(get_string(required(body, kBody, "password"), path));
  if (!p) bad_input(path + ": " + p.error().message);
  return *p;
}

PeerRecord peer_record_from_json(const json& r, const std::string& path) {
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
  if (const json* port = member(r, "port"))
    p.port = static_cast<std::uint16_t>(get_uint(*port, field_path(path, "port"), 65535));
  return p;
}

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

}  // namespace m2m::ai::detail
