// gree-ctl emulate's options and the words they arrive as (emulate.cpp runs the units).
#include <sstream>

#include "cli/app.hpp"
#include "cli/cli.hpp"
#include "commands.hpp"

namespace gree_ctl {

namespace {

std::vector<int> parse_unit_list(const std::string& s) {
  std::vector<int> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    std::size_t used = 0;
    int v = -1;
    try {
      v = std::stoi(item, &used);
    } catch (...) {
    }
    if (used != item.size() || v < 0 || v > m2m::gree::kMaxAddress)
      throw CLI::ValidationError("--units", "'" + item + "' is not an address 0..9999");
    out.push_back(v);
  }
  if (out.empty()) throw CLI::ValidationError("--units", "give at least one address");
  return out;
}

}  // namespace

CLI::App* add_emulate_command(CLI::App& app, EmulateArgs& a) {
  EmulateOptions& eo = a.eo;
  auto* emulate = app.add_subcommand("emulate", "Emulate units on a new pseudo-terminal (or on -d PORT); JSON Lines log on stdout");
  emulate->add_option("--units", a.units, "Comma-separated unit addresses on the emulated bus; 0 = no address yet (default 0)")
      ->type_name("LIST");
  emulate->add_option("--link", eo.link_path, "Also make a symlink PATH to the pty (removed on exit)")->type_name("PATH");
  emulate->add_option("--room", eo.room_temp, "Initial room temperature, 0..99 °C")->check(CLI::Range(0, 99))->type_name("N");
  m2m::cli::add_duration(*emulate, "--drift", eo.drift, "Time for the room to move 1 °C toward the set point while running (0 = never)");
  emulate->add_option("--model", a.model, "heat-pump (default) or cooling-only")
      ->check(CLI::IsMember({"heat-pump", "cooling-only"}))
      ->type_name("MODEL");
  emulate->add_option("--fault", eo.faults, "Report a fault: E1..E6, or ADDR:E3 for one unit (repeatable)")->type_name("[ADDR:]EN");
  m2m::cli::add_duration(*emulate, "--delay", eo.delay, "Delay before each reply");
  m2m::cli::add_count(*emulate, "--drop-first", eo.drop_first, "Drop the first N replies");
  emulate->add_option("--drop-rate", eo.drop_rate, "Drop each reply with this probability, 0..1")
      ->check(CLI::Range(0.0, 1.0))
      ->type_name("P");
  m2m::cli::add_count(*emulate, "--corrupt-first", eo.corrupt_first, "Corrupt the checksum of the first N replies");
  emulate->add_option("--corrupt-rate", eo.corrupt_rate, "Corrupt each reply's checksum with this probability, 0..1")
      ->check(CLI::Range(0.0, 1.0))
      ->type_name("P");
  emulate->add_option("--reply-address", a.reply_address, "Every reply claims this address (a miswired or misconfigured bus)")
      ->check(CLI::Range(0, m2m::gree::kMaxAddress))
      ->type_name("ADDR");
  m2m::cli::add_duration(*emulate, "-t,--timeout", eo.run_for, "Stop after this long (default: until SIGINT/SIGTERM)");
  m2m::cli::add_count(*emulate, "-n,--count", eo.count, "Stop after N requests");
  emulate->add_option("--seed", eo.seed, "Random seed for --drop-rate/--corrupt-rate")->type_name("N");
  return emulate;
}

int run_emulate(const PortOptions& po, EmulateArgs& a) {
  a.eo.units = parse_unit_list(a.units);
  a.eo.cooling_only = a.model == "cooling-only";
  if (a.reply_address >= 0) a.eo.reply_address = a.reply_address;
  return cmd_emulate(po, a.eo);
}

}  // namespace gree_ctl
