// The result of a load run: totals, errors by kind, a latency histogram per operation,
// loss/duplication/reordering, and what the tester itself cost. One JSON form (schema in
// m2m-loadtest(1), REPORT) that `run` writes and `merge` reads, combines and writes again:
// counts add, histograms merge bucket by bucket, percentiles are recomputed, never averaged.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "loadtest/histogram.hpp"
#include "loadtest/sequence.hpp"

namespace m2m::loadtest {

// The timed operations, each measured from its intended send time.
enum class Op : std::uint8_t { connect, login, heartbeat, relay, downlink };
inline constexpr std::size_t kOps = 5;
// "connect", "login", "heartbeat", "relay", "downlink"; the SLO short names are "connect",
// "login", "hb", "relay", "downlink".
std::string_view op_name(Op op);
std::string_view op_short_name(Op op);

struct Totals {
  std::uint64_t connect_ok = 0, connect_fail = 0;
  std::uint64_t login_ok = 0, login_fail = 0;
  std::uint64_t hb_sent = 0, hb_acked = 0, hb_loss = 0;
  std::uint64_t relay_sent = 0;
  std::uint64_t uplink_sent = 0, uplink_acked = 0;
  std::uint64_t downlink_sent = 0, downlink_ok = 0, downlink_fail = 0, downlink_loss = 0;
  std::uint64_t late_sends = 0;  // the schedule fell behind: a send went out later than planned
  std::uint64_t churn = 0;       // devices dropped and logged in again
};

// One name per counter, used by JSON, merge and the SLO metrics alike.
struct TotalField {
  std::string_view name;
  std::uint64_t Totals::*member;
};
const std::vector<TotalField>& total_fields();

struct Report {
  std::uint64_t devices = 0;     // simulated devices (summed over merged reports)
  std::uint64_t shards = 1;      // reports merged into this one
  double duration_s = 0;         // the longest of the merged runs
  Totals totals;
  std::map<std::string, std::uint64_t> errors;  // by kind: refused, reset, timeout, address_unavailable, …
  std::array<Histogram, kOps> latency;
  SequenceCounts relay;          // relay frames as the receivers saw them
  double cpu_seconds = 0;        // the tester's own user+system CPU, summed
  std::uint64_t peak_rss_kib = 0;      // the largest tester process
  std::uint64_t peak_rss_kib_sum = 0;  // all tester processes together

  Histogram& hist(Op op) { return latency[static_cast<std::size_t>(op)]; }
  const Histogram& hist(Op op) const { return latency[static_cast<std::size_t>(op)]; }
  std::uint64_t error_total() const;

  // Adds `other` into this report.
  void merge(const Report& other);

  // {"v":1,"tool":"m2m-loadtest","devices":…,"shards":…,"duration_s":…,"totals":{…},
  //  "errors":{…},"relay":{…},"latency":{"connect":{"count":…,"p50_us":…,…,"histogram":{…}},…},
  //  "resources":{…}}. The pNN_us summaries are for people and jq; from_json recomputes them.
  nlohmann::ordered_json to_json() const;
  static Result<Report> from_json(const nlohmann::json& j);

  // A table for people: counts, then one latency line per operation with samples.
  std::string summary_text() const;
};

// This process's own cost so far (getrusage): user+system CPU seconds and peak RSS in KiB,
// for Report::cpu_seconds / peak_rss_kib (and peak_rss_kib_sum) at the end of a run.
struct SelfUsage {
  double cpu_seconds = 0;
  std::uint64_t peak_rss_kib = 0;
};
SelfUsage self_usage();

// The reports added into one (shards = the sum of theirs).
Report merge_reports(const std::vector<Report>& reports);

// Microseconds as people read them: "850us", "12.3ms", "2.50s".
std::string format_us(double us);

}  // namespace m2m::loadtest
