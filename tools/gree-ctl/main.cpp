// gree-ctl: read and set Gree air conditioners over RS232/RS485, decode/encode frames
// offline, and emulate units on a pseudo-terminal. Options are declared here and in
// options.cpp / emulate_options.cpp; the work is in commands.cpp, codec_cmds.cpp, emulate.cpp
// and bridge.cpp.
#include "cli/app.hpp"
#include "cli/cli.hpp"
#include "commands.hpp"
#include "core/units.hpp"
#include "set_patch.hpp"

using namespace gree_ctl;
using m2m::cli::Exit;

int main(int argc, char** argv) {
  CLI::App app{"Read and set Gree air conditioners over a serial line (RS232/RS485, 4800 8E1), decode and\n"
               "encode frames offline, and emulate units on a pseudo-terminal."};
  m2m::cli::setup_app(app, kProg);
  app.require_subcommand(1);
  app.fallthrough();

  PortArgs pa;
  add_port_options(app, pa);
  const PortOptions& po = pa.po;

  int addr = 0;
  auto* status = app.add_subcommand("status", "Read a unit's state and print it as one JSON object");
  add_addr_option(*status, addr);

  SetRequest sr;
  auto* set = app.add_subcommand("set", "Change only the given settings and print the result (with --addr: on top of the\n"
                                        "unit's last known code; with none known, give --power --mode --temp --fan)");
  add_addr_option(*set, addr);
  const auto on_off = [&](const char* name, std::optional<std::string>& v, const char* what) {
    set->add_option(name, v, what)->type_name("on|off");
  };
  on_off("--power", sr.power, "Power");
  set->add_option("--mode", sr.mode, "Mode: auto, cool, dry, fan or heat")->type_name("MODE");
  set->add_option("--temp", sr.temp, "Set point, 16..30 °C")->type_name("N");
  set->add_option("--fan", sr.fan, "Fan speed: auto, low, medium or high")->type_name("SPEED");
  on_off("--swing", sr.swing, "Swing");
  on_off("--sleep", sr.sleep, "Sleep mode");
  on_off("--turbo", sr.turbo, "Turbo");
  on_off("--light", sr.light, "The unit's display light");
  on_off("--ventilation", sr.ventilation, "Ventilation");
  on_off("--x-fan", sr.x_fan, "Keep the indoor fan drying the coil after switching off");
  set->add_option("--timer", sr.timer, "off, or 30m..24h in half-hour steps (2.5h, 90m)")->type_name("DURATION");

  int new_address = 0;
  auto* set_address = app.add_subcommand("set-address", "Give the (only) unit on the line an address (0x0A); point-to-point only");
  set_address->add_option("address", new_address, "New address, 1..9999")
      ->required()
      ->check(CLI::Range(1, m2m::gree::kMaxAddress))
      ->type_name("ADDR");
  auto* clear_address = app.add_subcommand("clear-address", "Clear the unit's address back to 0000 (0x0A); point-to-point only");

  WatchOptions wo;
  auto* watch = app.add_subcommand("watch", "Poll a unit and print one JSON line per poll, with the fields that changed");
  add_addr_option(*watch, addr);
  m2m::cli::add_duration(*watch, "--interval", wo.interval, "Time between polls");
  m2m::cli::add_count(*watch, "-n,--count", wo.count, "Stop after N polls (default: until interrupted)");
  m2m::cli::add_duration(*watch, "--for", wo.run_for, "Stop after this long (default: no limit)");

  std::vector<std::string> decode_files;
  auto* decode = app.add_subcommand("decode", "Hex text (files, or stdin) -> one JSON object per frame (or error) on stdout");
  decode->add_option("files", decode_files, "Input files; '-' or none reads stdin. With several, each record gets a \"file\" member")
      ->type_name("FILE");
  auto* encode = app.add_subcommand("encode", "JSON objects on stdin (one per line) -> frame hex on stdout");

  EmulateArgs ea;
  auto* emulate = add_emulate_command(app, ea);
  BridgeOptions bo;
  auto* bridge = add_bridge_command(app, bo);

  if (int rc = m2m::cli::parse(app, kProg, argc, argv); rc >= 0) return rc;
  if (!finish_port_options(pa)) return Exit::usage;

  try {
    if (status->parsed()) return cmd_status(po, addr);
    if (set->parsed()) {
      auto patch = build_patch(sr);  // refuse bad values before touching the port
      if (!patch) return report(patch.error());
      return cmd_set(po, addr, *patch);
    }
    if (set_address->parsed()) return cmd_set_address(po, new_address);
    if (clear_address->parsed()) return cmd_set_address(po, 0);
    if (watch->parsed()) return cmd_watch(po, addr, wo);
    if (bridge->parsed()) return cmd_bridge(po, bo);
    if (decode->parsed()) return cmd_decode(po.link.checksum, decode_files);
    if (encode->parsed()) return cmd_encode(po.link.checksum);
    if (emulate->parsed()) return run_emulate(po, ea);
  } catch (const CLI::ValidationError& e) {
    m2m::cli::error(kProg, e.what());
    return Exit::usage;
  } catch (const std::exception& e) {
    m2m::cli::error(kProg, e.what());
    return Exit::failure;
  }
  return Exit::usage;
}
