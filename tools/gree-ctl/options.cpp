// gree-ctl's program-wide line options and the bridge's options; main.cpp only dispatches.
#include <cstdlib>

#include "cli/app.hpp"
#include "cli/cli.hpp"
#include "commands.hpp"

namespace gree_ctl {

void add_port_options(CLI::App& app, PortArgs& a) {
  PortOptions& po = a.po;
  if (const char* env = std::getenv("GREE_DEVICE")) po.device = env;
  a.device = app.add_option("-d,--device", po.device, "Serial port (default $GREE_DEVICE, else /dev/ttyUSB0)")
                 ->type_name("PATH");
  app.add_option("--baud", po.line.baud, "Line speed: 1200, 2400, 4800 (default), 9600, 19200, 38400, 57600 or 115200")
      ->check(CLI::IsMember({1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200}))
      ->type_name("N");
  app.add_option("--parity", a.parity, "Parity: even (default), odd, none")
      ->check(CLI::IsMember({"even", "odd", "none"}))
      ->type_name("PARITY");
  app.add_option("--frame", a.frame, "Data bits, parity, stop bits in one word, e.g. 8E1 (default)")->type_name("8E1");
  m2m::cli::add_duration(app, "--timeout", po.link.timeout, "How long to wait for each reply");
  app.add_option("--retries", po.link.retries, "Retries after no reply or a damaged reply (with backoff), 0..20")
      ->check(CLI::Range(0, 20))
      ->type_name("N");
  app.add_option("--checksum", a.checksum, "Checksum algorithm of the frames: sum8 (default) or xor8")
      ->check(CLI::IsMember({"sum8", "xor8"}))
      ->type_name("NAME");
  app.add_flag("-v,--verbose", a.verbose, "Trace each frame sent and received (one line each, with a timestamp) on stderr");
  app.add_option("--state-dir", po.state_dir,
                 "Where each unit's last known remote code is kept (default $XDG_STATE_HOME/gree-ctl, else ~/.local/state/gree-ctl)")
      ->type_name("DIR");
  app.add_flag("-q,--quiet", po.quiet, "No warnings on stderr (errors are still printed)");
}

bool finish_port_options(PortArgs& a) {
  PortOptions& po = a.po;
  po.device_given = a.device->count() > 0 || std::getenv("GREE_DEVICE") != nullptr;
  po.link.verbose = a.verbose;
  po.link.checksum = *m2m::gree::parse_checksum(a.checksum);
  if (!parse_parity(a.parity, po.line.parity)) return false;
  if (!a.frame.empty() && !parse_frame_format(a.frame, po.line)) {
    m2m::cli::error(kProg, "--frame " + a.frame + ": expected data bits, parity, stop bits such as 8E1, 8N1, 7O2");
    return false;
  }
  return true;
}

void add_addr_option(CLI::App& sub, int& addr) {
  sub.add_option("--addr", addr,
                 "Talk to the unit with this address on a bus, 1..9999 (0x07, which re-sends the unit's last known\n"
                 "code); without it the line must be point-to-point")
      ->check(CLI::Range(1, m2m::gree::kMaxAddress))
      ->type_name("ADDR");
}

CLI::App* add_bridge_command(CLI::App& app, BridgeOptions& bo) {
  auto* bridge = app.add_subcommand("bridge", "Put each unit on an AI-Cloud platform as a device: state uplinks, downlink\n"
                                              "commands, fault events (see gree-ctl(1) BRIDGE)");
  bridge->add_option("--server", bo.server, "The platform, HOST:PORT ([IPv6]:PORT; HOST alone: port 8266)")
      ->type_name("HOST:PORT")
      ->required();
  bridge->add_option("--unit", bo.units, "A unit on the bus and the device it is on the platform (repeatable)")
      ->type_name("ADDR=DEVICE_ID:PASSWORD")
      ->required();
  m2m::cli::add_duration(*bridge, "--interval", bo.interval, "Send each unit's state at least this often (and on every change)");
  m2m::cli::add_duration(*bridge, "--poll", bo.poll,
                         "Read each unit this often (each read re-sends the unit's last known code, see gree-ctl(1))");
  m2m::cli::add_duration(*bridge, "--for", bo.run_for, "Stop after this long (default: until SIGINT/SIGTERM)");
  return bridge;
}

}  // namespace gree_ctl
