#include "report.hpp"

#include <cstdio>

#include "cli/cli.hpp"
#include <sstream>

#include "m2m/frame.hpp"
#include "m2m/json_text.hpp"

namespace m2m::ota_serve {

namespace {
constexpr std::string_view kProg = "m2m-ota-serve";
}
namespace ota = m2m::platform::ota;
using m2m::ai::detail::JsonOut;

// Ids separated by commas, spaces or new lines; a line's first CSV field (an export of
// m2m-server device export works: its header line and '#' comments are skipped).
Result<std::vector<std::uint64_t>> parse_ids(const std::string& text, const std::string& where) {
  std::vector<std::uint64_t> out;
  std::istringstream lines(text);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    ++n;
    if (line.empty() || line[0] == '#' || line.rfind("id,", 0) == 0) continue;
    const bool csv_line = line.find(',') != std::string::npos && where != "--devices";
    std::istringstream items(csv_line ? line.substr(0, line.find(',')) : line);
    std::string item;
    while (std::getline(items, item, ',')) {
      while (!item.empty() && (item.back() == ' ' || item.back() == '\r' || item.back() == '\t')) item.pop_back();
      while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.erase(0, 1);
      if (item.empty()) continue;
      auto id = ai::parse_device(item);
      if (!id) return fail(ErrorKind::bad_value, where + " line " + std::to_string(n) + ": " + id.error().message);
      out.push_back(*id);
    }
  }
  return out;
}

std::string version_text(const std::string& v) { return v.empty() ? "unknown" : v; }

std::string record(const ota::Transfer& t) {
  std::string s;
  JsonOut w(s);
  w.open();
  w.key("id").str(ai::format_device(t.device));
  w.key("outcome").str(t.outcome);
  w.key("ok").raw(t.phase == ota::Phase::ok ? "true" : "false");
  w.key("bytes").num(t.bytes).key("frames").num(t.frames).key("retries").num(t.retries);
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.3f", static_cast<double>(t.elapsed.count()) / 1000.0);
  w.key("seconds").raw(secs);
  w.key("old_version").str(t.old_version).key("new_version").str(t.new_version);
  w.close();
  return s;
}


unsigned write_final(const std::vector<std::uint64_t>& targets, const ota::Campaign& c, std::uint64_t bytes_served,
                     const std::string& name, std::size_t image_bytes, std::chrono::steady_clock::time_point t0) {
  // Targets that did not finish: reported failed with the reason.
  const auto now = std::chrono::steady_clock::now();
  unsigned unfinished = 0;
  for (std::uint64_t id : targets) {
    const ota::Transfer* t = c.find(id);
    if (t && (t->phase == ota::Phase::ok || t->phase == ota::Phase::failed)) continue;
    ota::Transfer u = t ? *t : ota::Transfer{};
    u.device = id;
    const ota::Phase was = u.phase;
    u.phase = ota::Phase::failed;
    u.outcome = was == ota::Phase::waiting
                    ? (c.aborted() ? "not started: the failure budget (--abort-after-failures) is spent"
                                   : "not started: the device did not log in")
                    : std::string("unfinished (") + ota::phase_name(was) + ") when the server stopped";
    if (was != ota::Phase::waiting)
      u.elapsed = std::chrono::duration_cast<ota::Millis>(now - u.started);
    cli::write_line(record(u));
    ++unfinished;
  }
  const double secs = std::chrono::duration<double>(now - t0).count();
  std::string s;
  JsonOut w(s);
  w.open().key("summary").raw("true");
  w.key("file").str(name).key("image_bytes").num(image_bytes);
  w.key("targets").num(targets.size()).key("ok").num(c.succeeded()).key("failed").num(c.failed() + unfinished);
  w.key("bytes_served").num(bytes_served);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", secs);
  w.key("seconds").raw(buf);
  w.key("aborted").raw(c.aborted() ? "true" : "false");
  w.close();
  cli::write_line(s);
  std::fprintf(stderr, "%s: %u ok, %u failed%s in %.1f s\n", std::string(kProg).c_str(), c.succeeded(),
               c.failed() + unfinished, c.aborted() ? " (aborted after the failure budget)" : "", secs);

  return unfinished;
}

}  // namespace m2m::ota_serve
