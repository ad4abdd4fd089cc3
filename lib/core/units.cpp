#include "core/units.hpp"

#include <charconv>
#include <cstdio>

namespace m2m {

Result<std::chrono::milliseconds> parse_duration(std::string_view s) {
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p == s.data() || v < 0)
    return fail(ErrorKind::bad_value, "not a duration: '" + std::string(s) + "' (use e.g. 500ms, 2s, 5m)");
  std::string_view unit(p, static_cast<std::size_t>(s.data() + s.size() - p));
  double ms;
  if (unit.empty() || unit == "s") ms = v * 1000;
  else if (unit == "ms") ms = v;
  else if (unit == "m" || unit == "min") ms = v * 60000;
  else if (unit == "h") ms = v * 3600000;
  else return fail(ErrorKind::bad_value, "unknown duration unit '" + std::string(unit) + "' in '" + std::string(s) + "' (ms, s, m, h)");
  if (ms > 1e15) return fail(ErrorKind::bad_value, "duration too large: '" + std::string(s) + "'");
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms + 0.5));
}

Result<std::uint64_t> parse_count(std::string_view s) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p == s.data())
    return fail(ErrorKind::bad_value, "not a count: '" + std::string(s) + "' (use e.g. 100, 10k, 1M)");
  std::string_view suf(p, static_cast<std::size_t>(s.data() + s.size() - p));
  std::uint64_t mul = 1;
  if (suf == "k" || suf == "K") mul = 1000;
  else if (suf == "M") mul = 1000000;
  else if (!suf.empty()) return fail(ErrorKind::bad_value, "unknown count suffix '" + std::string(suf) + "' (k, M)");
  if (v > UINT64_MAX / mul) return fail(ErrorKind::bad_value, "count too large: '" + std::string(s) + "'");
  return v * mul;
}

std::string format_duration(std::chrono::milliseconds d) {
  auto ms = d.count();
  char buf[32];
  if (ms < 1000) std::snprintf(buf, sizeof buf, "%lldms", static_cast<long long>(ms));
  else if (ms % 60000 == 0) std::snprintf(buf, sizeof buf, "%lldm", static_cast<long long>(ms / 60000));
  else if (ms % 1000 == 0) std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(ms / 1000));
  else std::snprintf(buf, sizeof buf, "%.3gs", static_cast<double>(ms) / 1000.0);
  return buf;
}

}  // namespace m2m
