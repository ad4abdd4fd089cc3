#include "report_output.hpp"

#include <cstdio>
#include <fstream>

#include "cli/app.hpp"
#include "cli/cli.hpp"
#include "commands.hpp"

namespace m2m::loadtest_tool {

namespace {
bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    cli::error(kProg, "cannot write " + path);
    return false;
  }
  return true;
}
}  // namespace

void ReportOutput::add_options(CLI::App& cmd) {
  cmd.add_option("--format", format, "stdout: json (the report, mergeable) or text (a summary table)")
      ->check(CLI::IsMember({"json", "text"}))
      ->type_name("FORMAT")
      ->default_str("json");
  cli::add_optional(cmd, "--json-out", json_out, "also write the JSON report to FILE", "FILE");
  cli::add_optional(cmd, "--hist-out", hist_out,
                    "write each operation's full latency distribution, in the HdrHistogram percentile text format "
                    "(milliseconds), to PREFIX-<operation>.hgrm",
                    "PREFIX");
  cli::add_optional(cmd, "--slo", slo_text,
                    "goals, e.g. 'login_fail=0,hb_p99<50ms,relay_loss=0': exit 7 naming each one missed "
                    "(grammar in m2m-loadtest(1))",
                    "GOALS");
  cmd.add_flag("-q,--quiet", quiet, "no note when every goal held");
  cmd.add_flag("-v,--verbose", verbose, "name every goal with its measured value, held or not");
}

bool ReportOutput::check() {
  if (!slo_text) return true;
  auto terms = loadtest::parse_slo(*slo_text);
  if (!terms) {
    cli::error(kProg, terms.error().message);
    return false;
  }
  slo = std::move(*terms);
  return true;
}

int ReportOutput::finish(const loadtest::Report& r) const {
  const std::string json = r.to_json().dump(2) + "\n";
  if (format == "text") {
    std::fputs(r.summary_text().c_str(), stdout);
  } else {
    std::fputs(json.c_str(), stdout);
  }
  std::fflush(stdout);
  int rc = cli::ok;
  if (json_out && !write_file(*json_out, json)) rc = cli::failure;
  if (hist_out) {
    for (std::size_t i = 0; i < loadtest::kOps; ++i) {
      const auto op = static_cast<loadtest::Op>(i);
      if (!r.hist(op).count()) continue;
      if (!write_file(*hist_out + "-" + std::string(loadtest::op_name(op)) + ".hgrm", r.hist(op).percentile_distribution()))
        rc = cli::failure;
    }
  }
  if (rc != cli::ok || slo.empty()) return rc;
  std::size_t missed = 0;
  for (const auto& o : loadtest::evaluate_slo(slo, r)) {
    if (!o.held) {
      ++missed;
      cli::error(kProg, "goal " + o.message());
    } else if (verbose) {
      std::fprintf(stderr, "%s: goal %s\n", kProg.data(), o.message().c_str());
    }
  }
  if (missed) {
    std::fprintf(stderr, "%s: %zu of %zu goals missed\n", kProg.data(), missed, slo.size());
    return cli::goal_missed;
  }
  if (!quiet)
    std::fprintf(stderr, slo.size() == 1 ? "%s: the %zu goal held\n" : "%s: all %zu goals held\n", kProg.data(),
                 slo.size());
  return cli::ok;
}

}  // namespace m2m::loadtest_tool
