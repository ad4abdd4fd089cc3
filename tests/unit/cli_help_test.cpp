// lib/cli's help formatter and usage messages (issue 15): --help reads like the man pages.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "cli/app.hpp"
#include "cli/cli.hpp"

using namespace m2m;

namespace {
std::string help_of(CLI::App& app) { return app.help(); }
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
}  // namespace

TEST_CASE("help: the option column shows type names only, defaults in words") {
  CLI::App app{"test"};
  cli::setup_app(app, "prog");
  int address = 0;
  std::vector<std::string> ids;
  std::string format = "json";
  std::chrono::milliseconds wait{0}, period{30'000};
  std::uint64_t count = 0;
  app.add_option("address", address, "New address, 1..9999")->required()->check(CLI::Range(1, 9999));
  app.add_option("--id", ids, "Device ids")->required();
  app.add_option("--format", format, "Output format")->check(CLI::IsMember({"json", "text"}))->type_name("FORMAT");
  cli::add_duration(app, "--wait", wait, "Wait this long (0: no wait)");
  cli::add_duration(app, "--period", period, "Repeat this often");
  cli::add_count(app, "-n,--count", count, "Stop after N");
  const std::string h = help_of(app);
  for (const char* artefact : {"in [1 - 9999]", "=0", "=[]", "REQUIRED", "=0ms", "{json", ":INT"})
    CHECK_MESSAGE(!contains(h, artefact), artefact, "\n", h);
  CHECK(contains(h, "address INT "));
  CHECK(contains(h, "--id TEXT ..."));
  CHECK(contains(h, "--format FORMAT"));
  CHECK(contains(h, "Output format (default json)"));
  CHECK(contains(h, "Repeat this often (default 30s)"));
  CHECK(contains(h, "Wait this long (0: no wait)\n"));
  CHECK(contains(h, "-n,--count N "));
}

TEST_CASE("help: usage errors in a subcommand name the word and the subcommand") {
  CLI::App app{"test"};
  cli::setup_app(app, "prog");
  auto* dev = app.add_subcommand("device", "devices");
  dev->require_subcommand(1);
  auto* list = dev->add_subcommand("list", "list them");
  dev->add_subcommand("add", "add one");
  bool all = false;
  list->add_flag("--all", all, "all of them");
  auto message_for = [&app](std::vector<std::string> args) {
    std::reverse(args.begin(), args.end());
    try {
      app.clear();
      app.parse(args);
    } catch (const CLI::ParseError& e) {
      return cli::usage_message(app, e);
    }
    return cli::UsageMessage{};
  };
  auto m = message_for({"device", "lsit"});
  CHECK(m.message == "'lsit' is not a subcommand of 'prog device' (list, add)");
  CHECK(m.command == "prog device");
  m = message_for({"device", "list", "--bogus"});
  CHECK(m.message == "device list: The following argument was not expected: --bogus");
  CHECK(m.command == "prog device list");
  m = message_for({"--bogus"});
  CHECK(m.command == "prog");
}

TEST_CASE("plural: counts read as words") {
  CHECK(cli::plural(0, "frame") == "0 frames");
  CHECK(cli::plural(1, "frame") == "1 frame");
  CHECK(cli::plural(2, "byte") == "2 bytes");
  CHECK(cli::plural(1, "entry", "entries") == "1 entry");
  CHECK(cli::plural(3, "entry", "entries") == "3 entries");
}
