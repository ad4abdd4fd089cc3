#include "loadtest/provision.hpp"

#include <charconv>

#include "core/bytes.hpp"
#include "m2m/frame.hpp"

namespace m2m::loadtest {

namespace {
// Domain separators: device and account passwords never collide for one seed.
constexpr std::uint64_t kDevicePasswords = 0x6465766963657077;   // "devicepw"
constexpr std::uint64_t kAccountPasswords = 0x6163636f756e7470;  // "accountp"

ai::Password password_from(std::uint64_t v) {
  ai::Password p{};
  for (int i = 0; i < 8; ++i) p[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (56 - 8 * i));
  return p;
}

std::string hex(const ai::Password& p) { return to_hex(ByteView(p.data(), p.size())); }
}  // namespace

std::uint64_t splitmix64(std::uint64_t x) {
  std::uint64_t z = x + 0x9E3779B97F4A7C15;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
  return z ^ (z >> 31);
}

Result<Population> Population::make(const Options& o) {
  if (o.groups == 0) return fail(ErrorKind::bad_value, "--groups must be at least 1");
  if (o.count && o.id_start > UINT64_MAX - (o.count - 1))
    return fail(ErrorKind::bad_value, "--id-start " + ai::format_device(o.id_start) + " + --count " +
                                          std::to_string(o.count) + " runs past the largest device id");
  if (o.account_start > UINT64_MAX - (o.groups - 1))
    return fail(ErrorKind::bad_value, "account ids run past the largest account id");
  return Population(o);
}

Credentials Population::device(std::uint64_t i) const {
  const std::uint64_t id = o_.id_start + i;
  return {id, password_from(splitmix64(splitmix64(o_.seed ^ kDevicePasswords) ^ id)), group_name(i % o_.groups)};
}

Credentials Population::account(std::uint64_t k) const {
  const std::uint64_t id = o_.account_start + k;
  return {id, password_from(splitmix64(splitmix64(o_.seed ^ kAccountPasswords) ^ id)), group_name(k)};
}

std::string_view Population::device_csv_header() { return "id,password,group,enabled,description"; }
std::string_view Population::account_csv_header() { return "id,name,password,groups,enabled,description"; }

std::string Population::device_csv_row(std::uint64_t i) const {
  const Credentials c = device(i);
  return ai::format_device(c.id) + "," + hex(c.password) + "," + c.group + ",1,";
}

std::string Population::account_csv_row(std::uint64_t k) const {
  const Credentials c = account(k);
  return std::to_string(c.id) + ",loadtest-" + c.group + "," + hex(c.password) + "," + c.group + ",1,";
}

Result<Shard> parse_shard(std::string_view t) {
  auto bad = [&](const std::string& why) {
    return fail(ErrorKind::bad_value, "--shard '" + std::string(t) + "': " + why + " (expected K/N, e.g. 2/4: machine 2 of 4)");
  };
  const auto slash = t.find('/');
  if (slash == std::string_view::npos) return bad("no '/'");
  Shard s;
  auto num = [](std::string_view d, std::uint64_t& out) {
    auto [p, ec] = std::from_chars(d.data(), d.data() + d.size(), out);
    return !d.empty() && ec == std::errc() && p == d.data() + d.size();
  };
  if (!num(t.substr(0, slash), s.k) || !num(t.substr(slash + 1), s.n)) return bad("K and N must be whole numbers");
  if (s.n == 0) return bad("N must be at least 1");
  if (s.k == 0 || s.k > s.n) return bad("K must be between 1 and N");
  return s;
}

Slice shard_slice(Shard s, std::uint64_t count) {
  using u128 = unsigned __int128;
  auto edge = [&](std::uint64_t k) { return static_cast<std::uint64_t>(static_cast<u128>(count) * k / s.n); };
  return {edge(s.k - 1), edge(s.k)};
}

}  // namespace m2m::loadtest
