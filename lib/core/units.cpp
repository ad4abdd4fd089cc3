#include "core/units.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace m2m {

Result<std::chrono::milliseconds> parse_duration(std::string_view s) {
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p == s.data() || !std::isfinite(v) || v < 0)
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
  const long long ms = d.count();
  char buf[40];
  if (ms < 1000) std::snprintf(buf, sizeof buf, "%lldms", ms);
  else if (ms % 3600000 == 0) std::snprintf(buf, sizeof buf, "%lldh", ms / 3600000);
  else if (ms % 60000 == 0) std::snprintf(buf, sizeof buf, "%lldm", ms / 60000);
  else if (ms % 1000 == 0) std::snprintf(buf, sizeof buf, "%llds", ms / 1000);
  else {
    // Exact seconds with the trailing zeros of the millisecond part dropped: 1.5s, 61.25s.
    int frac = static_cast<int>(ms % 1000), width = 3;
    while (frac % 10 == 0) frac /= 10, --width;
    std::snprintf(buf, sizeof buf, "%lld.%0*ds", ms / 1000, width, frac);
  }
  return buf;
}

std::string timestamp_now() {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

}  // namespace m2m
