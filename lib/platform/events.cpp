#include "platform/events.hpp"

#include <unistd.h>

#include <cstdio>

#include "core/units.hpp"

namespace m2m::platform {


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
