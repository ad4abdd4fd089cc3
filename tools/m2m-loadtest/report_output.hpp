// Where a finished report goes (stdout, --json-out, --hist-out) and the --slo verdict: shared
// by every subcommand that ends with a report.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cli/cli_fwd.hpp"

#include "loadtest/report.hpp"
#include "loadtest/slo.hpp"

namespace m2m::loadtest_tool {

struct ReportOutput {
  std::string format = "json";           // stdout: json (the report) or text (the summary table)
  std::optional<std::string> json_out;   // also write the JSON report here
  std::optional<std::string> hist_out;   // PREFIX: PREFIX-<op>.hgrm per operation with samples
  std::optional<std::string> slo_text;
  std::vector<loadtest::SloTerm> slo;    // parsed by check()
  bool quiet = false, verbose = false;

  // Declares --format, --json-out, --hist-out, --slo, -q, -v on `cmd`.
  void add_options(CLI::App& cmd);
  // Parses --slo; false (after an error on stderr) when it is malformed: exit 2.
  bool check();
  // Writes the report and evaluates the SLO: 0, 1 (a file could not be written) or 7 (a
  // condition missed, each named on stderr with its measured value).
  int finish(const loadtest::Report& r) const;
};

}  // namespace m2m::loadtest_tool
