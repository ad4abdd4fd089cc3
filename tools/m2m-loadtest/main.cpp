// m2m-loadtest: load tests for AI-Cloud platforms. `provision` prints the registry CSV of a
// deterministic population; `run` simulates it against a platform; `merge` combines run
// reports and checks goals (--slo).
#include <vector>

#include "cli/app.hpp"
#include "cli/cli.hpp"
#include "commands.hpp"

int main(int argc, char** argv) {
  using namespace m2m;
  using namespace m2m::loadtest_tool;
  CLI::App app{"Load tests for AI-Cloud platforms: a deterministic device population for the registry, runs "
               "that simulate it against a platform with honest latencies, and reports combined from several "
               "machines (counts and histograms, never averaged percentiles) checked against goals"};
  cli::setup_app(app, kProg);
  // The shared footer (cli::kExitCodesHelp) does not list 7 yet; this program is the one
  // that exits 7, so it says so (before the subcommands, which copy the footer).
  app.footer(
      "Exit status: 0 ok (every --slo goal held), 1 the tester itself failed (runtime failure, a run\n"
      "that does not fit this machine, a worker that died), 2 usage error, 3 a report that is not\n"
      "valid, 6 the --server name does not resolve, 7 goal missed (each missed --slo goal is named on\n"
      "stderr), 130 interrupted (run still writes the report of what ran).");
  app.require_subcommand(1);

  const std::vector<Command> commands{add_provision_command(app), add_run_command(app), add_merge_command(app)};

  if (int rc = cli::parse(app, kProg, argc, argv); rc >= 0) return rc;
  for (const auto& c : commands)
    if (c.app->parsed()) return c.run();
  return cli::usage;
}
