#include "platform/records.hpp"

#include <charconv>

#include "m2m/frame.hpp"

namespace m2m::platform {

Result<void> check_group_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return fail(ErrorKind::bad_value, "group name must have 1 to 64 bytes");
  if (name == "*") return fail(ErrorKind::bad_value, "'*' is not a group name");
  if (name.find_first_of(";,\r\n") != std::string_view::npos)
    return fail(ErrorKind::bad_value, "group name '" + std::string(name) + "' contains ';', ',' or a newline");
  return {};
}

Result<bool> parse_enabled(std::string_view s) {
  if (s.empty() || s == "1" || s == "true" || s == "yes" || s == "enabled") return true;
  if (s == "0" || s == "false" || s == "no" || s == "disabled") return false;
  return fail(ErrorKind::bad_value, "enabled must be 1 or 0, not '" + std::string(s) + "'");
}

Result<void> parse_group_list(std::string_view s, AccountRecord& out) {
  out.groups.clear();
  out.all_groups = s == "*";
  if (out.all_groups || s.empty()) return {};
  while (!s.empty()) {
    auto cut = s.find(';');
    std::string_view name = s.substr(0, cut);
    if (auto r = check_group_name(name); !r) return r;
    out.groups.emplace_back(name);
    s = cut == std::string_view::npos ? std::string_view() : s.substr(cut + 1);
  }
  return {};
}

std::string format_group_list(const AccountRecord& a) {
  if (a.all_groups) return "*";
  std::string out;
  for (const auto& g : a.groups) {
    if (!out.empty()) out += ';';
    out += g;
  }
  return out;
}

namespace {
Result<void> check_columns(const std::vector<std::string>& f, std::size_t n) {
  if (f.size() != n)
    return fail(ErrorKind::bad_value, "expected " + std::to_string(n) + " columns, got " + std::to_string(f.size()));
  return {};
}
template <class T>
Result<void> prefix(Result<T> r, const char* column, T& out) {
  if (!r) return fail(ErrorKind::bad_value, std::string(column) + ": " + r.error().message);
  out = std::move(*r);
  return {};
}
}  // namespace

Result<DeviceRecord> device_from_csv(const std::vector<std::string>& f) {
  if (auto r = check_columns(f, 5); !r) return unexpected(r.error());
  DeviceRecord d;
  if (auto r = prefix(ai::parse_device(f[0]), "id", d.id); !r) return unexpected(r.error());
  if (auto r = prefix(ai::parse_password(f[1]), "password", d.password); !r) return unexpected(r.error());
  d.group = f[2].empty() ? std::string(kDefaultGroup) : f[2];
  if (auto r = check_group_name(d.group); !r) return fail(ErrorKind::bad_value, "group: " + r.error().message);
  if (auto r = prefix(parse_enabled(f[3]), "enabled", d.enabled); !r) return unexpected(r.error());
  d.description = f[4];
  return d;
}

std::vector<std::string> device_to_csv(const DeviceRecord& d) {
  return {ai::format_device(d.id), to_hex(d.password), d.group, d.enabled ? "1" : "0", d.description};
}

Result<AccountRecord> account_from_csv(const std::vector<std::string>& f) {
  if (auto r = check_columns(f, 6); !r) return unexpected(r.error());
  AccountRecord a;
  auto [p, ec] = std::from_chars(f[0].data(), f[0].data() + f[0].size(), a.id);
  if (ec != std::errc() || p != f[0].data() + f[0].size() || f[0].empty())
    return fail(ErrorKind::bad_value, "id: '" + f[0] + "' is not a decimal account number");
  a.name = f[1];
  if (auto r = prefix(ai::parse_password(f[2]), "password", a.password); !r) return unexpected(r.error());
  if (auto r = parse_group_list(f[3], a); !r) return fail(ErrorKind::bad_value, "groups: " + r.error().message);
  if (auto r = prefix(parse_enabled(f[4]), "enabled", a.enabled); !r) return unexpected(r.error());
  a.description = f[5];
  return a;
}

std::vector<std::string> account_to_csv(const AccountRecord& a) {
  return {std::to_string(a.id), a.name, to_hex(a.password), format_group_list(a), a.enabled ? "1" : "0",
          a.description};
}

}  // namespace m2m::platform
