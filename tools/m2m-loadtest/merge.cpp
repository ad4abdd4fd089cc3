// m2m-loadtest merge: reports of several workers or machines combined into one: counts add,
// histograms merge bucket by bucket, percentiles are recomputed from the merged counts.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/app.hpp"
#include "cli/cli.hpp"
#include "commands.hpp"
#include "loadtest/report.hpp"
#include "report_output.hpp"

namespace m2m::loadtest_tool {

namespace {
struct MergeArgs {
  std::vector<std::string> files;
  ReportOutput out;
};

int merge(MergeArgs& a) {
  if (!a.out.check()) return cli::usage;
  std::vector<loadtest::Report> reports;
  for (const auto& path : a.files) {
    std::string text;
    if (path == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), {});
    } else {
      std::ifstream in(path, std::ios::binary);
      if (!in) {
        cli::error(kProg, "cannot read " + path + ": " + std::strerror(errno));
        return cli::failure;
      }
      text.assign(std::istreambuf_iterator<char>(in), {});
    }
    const std::string name = path == "-" ? "stdin" : path;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      cli::error(kProg, name + ": not JSON at byte " + std::to_string(e.byte) +
                            " (expected a report written by m2m-loadtest)");
      return cli::protocol;
    }
    auto r = loadtest::Report::from_json(j);
    if (!r) {
      cli::error(kProg, name + ": " + r.error().message);
      return cli::protocol;
    }
    reports.push_back(std::move(*r));
  }
  return a.out.finish(loadtest::merge_reports(reports));
}
}  // namespace

Command add_merge_command(CLI::App& app) {
  auto a = std::make_shared<MergeArgs>();
  auto* c = app.add_subcommand("merge",
                               "combine JSON reports of several workers or machines into one report (counts and "
                               "histograms added, percentiles recomputed) and check it against --slo");
  c->add_option("reports", a->files, "JSON reports ('-' reads one from stdin)")->required()->type_name("FILE");
  a->out.add_options(*c);
  return {c, [a] { return merge(*a); }};
}

}  // namespace m2m::loadtest_tool
