// The once-a-second progress of `m2m-loadtest run` on stderr (m2m-loadtest(1), PROGRESS):
// one line redrawn on a terminal, plain lines otherwise, or JSON Lines (--progress json).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "cli/progress.hpp"
#include "loadtest/engine.hpp"

namespace m2m::loadtest_tool {

enum class ProgressMode { automatic, json, plain, none };

class RunProgress {
 public:
  explicit RunProgress(ProgressMode mode);
  // The merged figures of every worker, cumulative; rates are the change since the last call.
  void show(const loadtest::Snapshot& s);
  void finish();

  // The text of one plain line and one JSON line (for tests and the two modes).
  static std::string plain_line(const loadtest::Snapshot& now, const loadtest::Snapshot& before, double dt_s);
  static std::string json_line(const loadtest::Snapshot& now, const loadtest::Snapshot& before, double dt_s);

 private:
  ProgressMode mode_;
  std::unique_ptr<cli::ProgressLine> line_;
  loadtest::Snapshot last_;
  std::optional<std::chrono::steady_clock::time_point> last_at_;
};

}  // namespace m2m::loadtest_tool
