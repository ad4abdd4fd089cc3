#include "platform/events.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>

namespace m2m::platform {

namespace {
// ISO-8601 UTC with milliseconds, as every stream tool writes `ts` (DESIGN.md, interchange
// formats). Kept here so that lib/platform does not depend on lib/cli.
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
}  // namespace

EventLog::Line::Line(std::string_view event) {
  j_["ts"] = timestamp_now();
  j_["event"] = std::string(event);
}

std::string EventLog::Line::text() const { return j_.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

void EventLog::write(const Line& line) {
  if (sink_) return sink_(line.text());
  const std::string text = line.text();
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

std::uint64_t resident_kib() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, resident = 0;
  int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  if (n != 2) return 0;
  return static_cast<std::uint64_t>(resident) * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE)) / 1024;
}

}  // namespace m2m::platform
