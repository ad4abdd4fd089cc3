// Service-level objectives a run must meet: `--slo 'login_fail=0,hb_p99<50ms,relay_loss=0'`.
//
//   slo    = term { "," term }
//   term   = metric op value          (spaces around the parts are ignored)
//   op     = "<" | "<=" | "=" | ">=" | ">"
//   metric = a counter of the report  (connect_ok, login_fail, hb_sent, late_sends, …)
//          | relay_received | relay_loss | relay_dup | relay_reorder | relay_late
//          | errors                   (all kinds together) | err_<kind> (err_refused, …)
//          | <op>_p<N>                (N in 0..100, e.g. p50, p99, p99.9 or p99_9)
//          | <op>_max | <op>_mean | <op>_count
//   <op>   = connect | login | hb | relay | downlink
//   value  = a number; latencies need a unit (us, ms or s), counts take none.
//
// A latency condition on an operation without samples is missed ("no samples"): a goal about
// heartbeats cannot hold in a run that sent none.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "loadtest/report.hpp"

namespace m2m::loadtest {

enum class Cmp : std::uint8_t { lt, le, eq, ge, gt };

struct SloTerm {
  std::string text;    // as written, trimmed: "hb_p99<50ms"
  std::string metric;  // "hb_p99"
  Cmp cmp = Cmp::eq;
  double value = 0;    // microseconds for a latency, else a count
  bool latency = false;
};

// Errors name the term and what is wrong with it.
Result<std::vector<SloTerm>> parse_slo(std::string_view text);

struct SloOutcome {
  SloTerm term;
  bool held = false;
  std::optional<double> measured;  // none: no samples
  std::string measured_text;       // "73.2ms", "12", "no heartbeat samples"
  // "hb_p99<50ms missed: measured 73.2ms"
  std::string message() const;
};

std::vector<SloOutcome> evaluate_slo(const std::vector<SloTerm>& terms, const Report& report);

}  // namespace m2m::loadtest
