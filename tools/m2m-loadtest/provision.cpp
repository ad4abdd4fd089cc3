// m2m-loadtest provision: the registry CSV of a deterministic population, for
// `m2m-server device import` (or `account import` with --accounts).
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "cli/app.hpp"
#include "cli/cli.hpp"
#include "commands.hpp"
#include "loadtest/provision.hpp"
#include "m2m/frame.hpp"

namespace m2m::loadtest_tool {

namespace {
struct ProvisionArgs {
  std::uint64_t count = 0;
  std::uint64_t seed = 1;
  std::uint64_t groups = 1;
  std::optional<std::string> id_start;
  std::uint64_t account_start = loadtest::kDefaultAccountStart;
  bool accounts = false;
};

int provision(const ProvisionArgs& a) {
  loadtest::Population::Options o;
  o.count = a.count;
  o.seed = a.seed;
  o.groups = a.groups;
  o.account_start = a.account_start;
  if (a.id_start) {
    auto id = ai::parse_device(*a.id_start);
    if (!id) {
      cli::error(kProg, "--id-start: " + id.error().message);
      return cli::usage;
    }
    o.id_start = *id;
  }
  auto pop = loadtest::Population::make(o);
  if (!pop) {
    cli::error(kProg, pop.error().message);
    return cli::usage;
  }
  std::string out(a.accounts ? loadtest::Population::account_csv_header() : loadtest::Population::device_csv_header());
  out += '\n';
  const std::uint64_t rows = a.accounts ? a.groups : a.count;
  for (std::uint64_t i = 0; i < rows; ++i) {
    out += a.accounts ? pop->account_csv_row(i) : pop->device_csv_row(i);
    out += '\n';
    if (out.size() >= (1u << 16) || i + 1 == rows) {
      if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0)
        return cli::failure;  // the reader went away (EPIPE): stop quietly
      out.clear();
    }
  }
  if (!out.empty() && (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0))
    return cli::failure;
  return cli::ok;
}
}  // namespace

Command add_provision_command(CLI::App& app) {
  auto a = std::make_shared<ProvisionArgs>();
  auto* c = app.add_subcommand(
      "provision",
      "print the registry CSV of N devices with credentials derived from --seed; pipe it into "
      "'m2m-server device import' (--accounts: the operator accounts, for 'm2m-server account import')");
  cli::add_count(*c, "-n,--count", a->count, "devices in the population")->required();
  c->add_option("--seed", a->seed, "derives every password: the same seed gives the same population")
      ->type_name("S")
      ->default_str("1");
  cli::add_count(*c, "--groups", a->groups, "spread the devices round robin over G groups lt0, lt1, …")
      ->type_name("G")
      ->default_str("1");
  cli::add_optional(*c, "--id-start", a->id_start,
                    "the first device id (16 hex digits or MAC; default " + ai::format_device(loadtest::kDefaultIdStart) +
                        "); device i is ID+i",
                    "ID");
  c->add_flag("--accounts", a->accounts,
              "print instead one operator account per group (for downlink traffic), in the CSV that "
              "'m2m-server account import' reads");
  c->add_option("--account-start", a->account_start, "the first account id (with --accounts); account k is N+k")
      ->type_name("N")
      ->default_str(std::to_string(loadtest::kDefaultAccountStart));
  return {c, [a] { return provision(*a); }};
}

}  // namespace m2m::loadtest_tool
