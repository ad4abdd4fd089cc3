#include "run_progress.hpp"

#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "loadtest/limits.hpp"
#include "loadtest/run_plan.hpp"

namespace m2m::loadtest_tool {

namespace {
using loadtest::Snapshot;

// Sessions the schedule started that came to an end: logged in, or failed (a failed TCP
// connect counts as a failed login too, engine.hpp).
std::uint64_t connects_done(const Snapshot& s) { return s.totals.login_ok + s.totals.login_fail; }

struct Rates {
  double target_connects, connects, logins, hb, relay;
};
Rates rates(const Snapshot& now, const Snapshot& before, double dt) {
  auto per_s = [dt](std::uint64_t a, std::uint64_t b) { return dt > 0 && a >= b ? static_cast<double>(a - b) / dt : 0.0; };
  return {per_s(now.scheduled_connects, before.scheduled_connects), per_s(connects_done(now), connects_done(before)),
          per_s(now.totals.login_ok, before.totals.login_ok), per_s(now.totals.hb_acked, before.totals.hb_acked),
          per_s(now.relay.received, before.relay.received)};
}

std::string n(std::uint64_t v) { return loadtest::group_digits(v); }
}  // namespace

RunProgress::RunProgress(ProgressMode mode) : mode_(mode) {
  if (mode == ProgressMode::automatic) line_ = std::make_unique<cli::ProgressLine>(stderr);
  else if (mode == ProgressMode::plain) line_ = std::make_unique<cli::ProgressLine>(stderr, false, false);
}

std::string RunProgress::plain_line(const Snapshot& s, const Snapshot& b, double dt) {
  const Rates r = rates(s, b, dt);
  char head[64];
  std::snprintf(head, sizeof head, "%.0fs", s.elapsed_s);
  std::string line = std::string(kProg) + ": " + head + " online " + n(s.online) + ", connects " +
                     loadtest::format_rate(r.connects) + " (target " + loadtest::format_rate(r.target_connects) +
                     "), logins " + n(s.totals.login_ok) + " ok " + n(s.totals.login_fail) + " failed, hb " +
                     n(s.totals.hb_sent) + " sent " + n(s.totals.hb_acked) + " acked (" + loadtest::format_rate(r.hb) +
                     ")";
  if (s.totals.relay_sent || s.relay.received)
    line += ", relay " + n(s.totals.relay_sent) + " sent " + n(s.relay.received) + " received (" +
            loadtest::format_rate(r.relay) + ")";
  if (s.totals.downlink_sent)
    line += ", downlink " + n(s.totals.downlink_sent) + " sent " + n(s.totals.downlink_ok) + " ok";
  line += ", late " + n(s.totals.late_sends);
  std::uint64_t errors = 0;
  std::string kinds;
  for (const auto& [kind, count] : s.errors) {
    errors += count;
    kinds += (kinds.empty() ? "" : " ") + kind + " " + n(count);
  }
  line += ", errors " + n(errors);
  if (!kinds.empty()) line += " (" + kinds + ")";
  return line;
}

std::string RunProgress::json_line(const Snapshot& s, const Snapshot& b, double dt) {
  const Rates r = rates(s, b, dt);
  auto j = loadtest::snapshot_to_json(s);
  nlohmann::ordered_json out{{"v", 1}, {"progress", "run"}};
  for (auto it = j.begin(); it != j.end(); ++it) out[it.key()] = it.value();
  auto tenth = [](double v) { return std::round(v * 10) / 10; };  // rates for people and jq, not for sums
  out["target"] = {{"connects_per_s", tenth(r.target_connects)}};
  out["achieved"] = {{"connects_per_s", tenth(r.connects)},
                     {"logins_per_s", tenth(r.logins)},
                     {"hb_acked_per_s", tenth(r.hb)},
                     {"relay_received_per_s", tenth(r.relay)}};
  return out.dump();
}

void RunProgress::show(const Snapshot& s) {
  const auto now = std::chrono::steady_clock::now();
  const double dt = last_at_ ? std::chrono::duration<double>(now - *last_at_).count() : s.elapsed_s;
  if (mode_ == ProgressMode::json) {
    std::fprintf(stderr, "%s\n", json_line(s, last_, dt).c_str());
    std::fflush(stderr);
  } else if (line_) {
    line_->update(plain_line(s, last_, dt));
  }
  last_ = s;
  last_at_ = now;
}

void RunProgress::finish() {
  if (line_) line_->finish();
}

}  // namespace m2m::loadtest_tool
