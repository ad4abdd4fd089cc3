// `m2m-loadtest run`'s worker processes: each runs one Engine on its share of the run (fork),
// sends its per-second Snapshot and its final Report to the parent over a pipe (one JSON
// object per line), and the parent merges them. A worker that dies, fails or never reports
// is named; its figures are never silently missing.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "loadtest/engine.hpp"
#include "loadtest/report.hpp"

namespace m2m::loadtest_tool {

struct WorkersOutcome {
  loadtest::Report report;           // every worker's report, merged (shards = 1)
  std::vector<std::string> failures; // one sentence per worker that failed ("worker 2 of 4 …")
  bool usage_error = false;          // a worker refused its options (Engine::make): exit 2
  bool interrupted = false;          // SIGINT/SIGTERM stopped the run early
};

// Runs one worker per entry of `jobs` and waits for all of them (at most `deadline` after the
// start, then the stragglers are killed and named). `progress` gets the merged figures about
// once a second. SIGINT/SIGTERM (cli::install_interrupt_flag, installed by the caller) are
// passed on to the workers, which stop and still report what ran.
WorkersOutcome run_workers(const std::vector<loadtest::EngineOptions>& jobs, loadtest::Millis deadline,
                           const std::function<void(const loadtest::Snapshot&)>& progress);

}  // namespace m2m::loadtest_tool
