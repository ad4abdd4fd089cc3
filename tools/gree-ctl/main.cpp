// gree-ctl: read and set Gree air conditioners over RS232/RS485, decode/encode frames
// offline, and emulate units on a pseudo-terminal. Options are parsed here; the work is in
// commands.cpp, codec_cmds.cpp and emulate.cpp.
#include <cstdlib>
#include <sstream>

#include "cli/cli.hpp"
#include "commands.hpp"
#include "core/units.hpp"
#include "set_patch.hpp"

using namespace gree_ctl;
using m2m::cli::Exit;

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

int main(int argc, char** argv) {
  CLI::App app{"Read and set Gree air conditioners over a serial line (RS232/RS485, 4800 8E1), decode and\n"
               "encode frames offline, and emulate units on a pseudo-terminal."};
  m2m::cli::setup_app(app, kProg);
  app.require_subcommand(1);
  app.fallthrough();

  PortOptions po;
  if (const char* env = std::getenv("GREE_DEVICE")) po.device = env;
  std::string parity = "even", frame, checksum = "sum8";
  bool verbose = false;
  auto* dev = app.add_option("-d,--device", po.device, "Serial port (default $GREE_DEVICE, else /dev/ttyUSB0)")
                  ->type_name("PATH");
  app.add_option("--baud", po.line.baud, "Line speed")->check(CLI::IsMember({1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200}));
  app.add_option("--parity", parity, "Parity: even, odd, none")->check(CLI::IsMember({"even", "odd", "none"}));
  app.add_option("--frame", frame, "Data bits, parity, stop bits in one word, e.g. 8E1 (default)")->type_name("8E1");
  m2m::cli::add_duration(app, "--timeout", po.link.timeout, "How long to wait for each reply");
  app.add_option("--retries", po.link.retries, "Retries after no reply or a damaged reply (with backoff)")->check(CLI::Range(0, 20));
  app.add_option("--checksum", checksum, "Checksum algorithm of the frames: sum8 (default) or xor8")->check(CLI::IsMember({"sum8", "xor8"}));
  app.add_flag("-v,--verbose", verbose, "Trace each frame sent and received (one line each, with a timestamp) on stderr");
  app.add_option("--state-dir", po.state_dir,
                 "Where each unit's last known remote code is kept (default $XDG_STATE_HOME/gree-ctl, else ~/.local/state/gree-ctl)")
      ->type_name("DIR");
  app.add_flag("-q,--quiet", po.quiet, "No warnings on stderr (errors are still printed)");

  int addr = 0;
  auto add_addr = [&](CLI::App* sub) {
    sub->add_option("--addr", addr,
                    "Talk to the unit with this address on a bus (0x07, which re-sends the unit's last known code);\n"
                    "without it the line must be point-to-point")
        ->check(CLI::Range(1, m2m::gree::kMaxAddress));
  };

  auto* status = app.add_subcommand("status", "Read a unit's state and print it as one JSON object");
  add_addr(status);

  SetRequest sr;
  auto* set = app.add_subcommand("set", "Change only the given settings and print the result (with --addr: on top of the\n"
                                        "unit's last known code; with none known, give --power --mode --temp --fan)");
  add_addr(set);
  set->add_option("--power", sr.power, "on|off");
  set->add_option("--mode", sr.mode, "auto|cool|dry|fan|heat");
  set->add_option("--temp", sr.temp, "Set point, 16..30 °C");
  set->add_option("--fan", sr.fan, "auto|low|medium|high");
  set->add_option("--swing", sr.swing, "on|off");
  set->add_option("--sleep", sr.sleep, "on|off");
  set->add_option("--turbo", sr.turbo, "on|off");
  set->add_option("--light", sr.light, "on|off");
  set->add_option("--ventilation", sr.ventilation, "on|off");
  set->add_option("--x-fan", sr.x_fan, "on|off (keep the indoor fan drying the coil after switching off)");
  set->add_option("--timer", sr.timer, "off, or 30m..24h in half-hour steps (2.5h, 90m)");

  int new_address = 0;
  auto* set_address = app.add_subcommand("set-address", "Give the (only) unit on the line an address (0x0A); point-to-point only");
  set_address->add_option("address", new_address, "New address, 1..9999")->required()->check(CLI::Range(1, m2m::gree::kMaxAddress));
  auto* clear_address = app.add_subcommand("clear-address", "Clear the unit's address back to 0000 (0x0A); point-to-point only");

  WatchOptions wo;
  auto* watch = app.add_subcommand("watch", "Poll a unit and print one JSON line per poll, with the fields that changed");
  add_addr(watch);
  m2m::cli::add_duration(*watch, "--interval", wo.interval, "Time between polls");
  m2m::cli::add_count(*watch, "-n,--count", wo.count, "Stop after N polls (default: until interrupted)");
  m2m::cli::add_duration(*watch, "--for", wo.run_for, "Stop after this long (default: no limit)");

  std::vector<std::string> decode_files;
  auto* decode = app.add_subcommand("decode", "Hex text (files, or stdin) -> one JSON object per frame (or error) on stdout");
  decode->add_option("files", decode_files, "Input files; '-' or none reads stdin. With several, each record gets a \"file\" member")
      ->type_name("FILE");
  auto* encode = app.add_subcommand("encode", "JSON objects on stdin (one per line) -> frame hex on stdout");

  EmulateOptions eo;
  std::string units = "0", model = "heat-pump";
  int reply_address = -1;
  auto* emulate = app.add_subcommand("emulate", "Emulate units on a new pseudo-terminal (or on -d PORT); JSON Lines log on stdout");
  emulate->add_option("--units", units, "Comma-separated unit addresses on the emulated bus; 0 = no address yet")->type_name("LIST");
  emulate->add_option("--link", eo.link_path, "Also make a symlink PATH to the pty (removed on exit)")->type_name("PATH");
  emulate->add_option("--room", eo.room_temp, "Initial room temperature, °C")->check(CLI::Range(0, 99));
  m2m::cli::add_duration(*emulate, "--drift", eo.drift, "Time for the room to move 1 °C toward the set point while running (0 = never)");
  emulate->add_option("--model", model, "heat-pump or cooling-only")->check(CLI::IsMember({"heat-pump", "cooling-only"}));
  emulate->add_option("--fault", eo.faults, "Report a fault: E1..E6, or ADDR:E3 for one unit (repeatable)")->type_name("[ADDR:]EN");
  m2m::cli::add_duration(*emulate, "--delay", eo.delay, "Delay before each reply");
  m2m::cli::add_count(*emulate, "--drop-first", eo.drop_first, "Drop the first N replies");
  emulate->add_option("--drop-rate", eo.drop_rate, "Drop each reply with this probability")->check(CLI::Range(0.0, 1.0));
  m2m::cli::add_count(*emulate, "--corrupt-first", eo.corrupt_first, "Corrupt the checksum of the first N replies");
  emulate->add_option("--corrupt-rate", eo.corrupt_rate, "Corrupt each reply's checksum with this probability")->check(CLI::Range(0.0, 1.0));
  emulate->add_option("--reply-address", reply_address, "Every reply claims this address (a miswired or misconfigured bus)")
      ->check(CLI::Range(0, m2m::gree::kMaxAddress));
  m2m::cli::add_duration(*emulate, "-t,--timeout", eo.run_for, "Stop after this long (default: until SIGINT/SIGTERM)");
  m2m::cli::add_count(*emulate, "-n,--count", eo.count, "Stop after N requests");
  emulate->add_option("--seed", eo.seed, "Random seed for --drop-rate/--corrupt-rate");

  BridgeOptions bo;
  auto* bridge = app.add_subcommand("bridge", "Put each unit on an AI-Cloud platform as a device: state uplinks, downlink\n"
                                              "commands, fault events (see gree-ctl(1) BRIDGE)");
  bridge->add_option("--server", bo.server, "The platform, HOST:PORT ([IPv6]:PORT; HOST alone: port 8266)")->type_name("HOST:PORT")->required();
  bridge->add_option("--unit", bo.units, "A unit on the bus and the device it is on the platform (repeatable)")
      ->type_name("ADDR=DEVICE_ID:PASSWORD")
      ->required();
  m2m::cli::add_duration(*bridge, "--interval", bo.interval, "Send each unit's state at least this often (and on every change)");
  m2m::cli::add_duration(*bridge, "--poll", bo.poll, "Read each unit this often (each read re-sends the unit's last known code, see gree-ctl(1))");
  m2m::cli::add_duration(*bridge, "--for", bo.run_for, "Stop after this long (default: until SIGINT/SIGTERM)");

  if (int rc = m2m::cli::parse(app, kProg, argc, argv); rc >= 0) return rc;

  po.device_given = dev->count() > 0 || std::getenv("GREE_DEVICE") != nullptr;
  po.link.verbose = verbose;
  po.link.checksum = *m2m::gree::parse_checksum(checksum);
  if (!parse_parity(parity, po.line.parity)) return Exit::usage;
  if (!frame.empty() && !parse_frame_format(frame, po.line)) {
    m2m::cli::error(kProg, "--frame " + frame + ": expected data bits, parity, stop bits such as 8E1, 8N1, 7O2");
    return Exit::usage;
  }

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
    if (emulate->parsed()) {
      eo.units = parse_unit_list(units);
      eo.cooling_only = model == "cooling-only";
      if (reply_address >= 0) eo.reply_address = reply_address;
      return cmd_emulate(po, eo);
    }
  } catch (const CLI::ValidationError& e) {
    m2m::cli::error(kProg, e.what());
    return Exit::usage;
  } catch (const std::exception& e) {
    m2m::cli::error(kProg, e.what());
    return Exit::failure;
  }
  return Exit::usage;
}
