#include "options.hpp"

#include <fstream>
#include <set>

#include "cli/app.hpp"
#include "cli/cli.hpp"
#include "cli/session_options.hpp"
#include "m2m/frame.hpp"
#include "net/endpoint.hpp"
#include "platform/csv.hpp"

namespace simdevice {
namespace {

using namespace m2m;
using std::chrono::milliseconds;

int usage_error(const std::string& message) {
  cli::error(kProg, message);
  std::fprintf(stderr, "Try '%s --help' for more information.\n", kProg);
  return cli::usage;
}

// The CSV `m2m-server device export` prints: id,password,group,enabled,description.
Result<std::vector<DeviceSpec>> read_devices_csv(const std::string& file) {
  std::ifstream in(file);
  if (!in) return fail(ErrorKind::io, "--devices " + file + ": cannot read it");
  platform::CsvReader csv(in);
  std::vector<std::string> fields;
  std::vector<DeviceSpec> out;
  bool first = true;
  while (true) {
    auto more = csv.next(fields);
    if (!more) return fail(ErrorKind::bad_value, "--devices " + file + ": " + more.error().message);
    if (!*more) break;
    const std::string where = "--devices " + file + " line " + std::to_string(csv.record_line());
    if (first && !fields.empty() && fields[0] == "id") {  // the header
      first = false;
      continue;
    }
    first = false;
    if (fields.size() == 1 && fields[0].empty()) continue;
    if (fields.size() < 2) return fail(ErrorKind::bad_value, where + ": expected id,password[,group,enabled,description]");
    if (fields.size() >= 4 && fields[3] == "0") continue;  // disabled: it could not log in anyway
    auto id = ai::parse_device(fields[0]);
    if (!id) return fail(ErrorKind::bad_value, where + ": id: " + id.error().message);
    auto pw = ai::parse_password(fields[1]);
    if (!pw) return fail(ErrorKind::bad_value, where + ": password: " + pw.error().message);
    out.push_back({*id, *pw});
  }
  if (out.empty()) return fail(ErrorKind::bad_value, "--devices " + file + ": no enabled device in it");
  return out;
}

Result<ai::ServerAddr> server_addr(const std::string& text, bool udp, const char* flag) {
  auto hp = net::parse_host_port(text);
  if (!hp) return fail(ErrorKind::bad_value, std::string(flag) + " " + text + ": " + hp.error().message);
  if (hp->host.empty()) hp->host = "127.0.0.1";
  return ai::ServerAddr{hp->host, hp->port, !udp};
}

}  // namespace

int parse_options(int argc, char** argv, Options& o) {
  CLI::App app{"Simulate one or many AI-Cloud devices (the seed's ESP8266 WiFi module, per m2m-protocol(7))\n"
               "against a platform: login, heartbeats, configuration, reboot, OTA, data and P2P."};
  cli::setup_app(app, kProg);
  cli::SessionArgs net;
  std::string id_text, id_start, devices_file, fallback, payload = "text", p2p_with, software;
  std::uint64_t count = 0, retries = 5, ota_frame = 1024;
  milliseconds heartbeat{30'000}, reboot_time{3'000}, recheck{20 * 60'000}, punch{10'000}, keepalive{20'000};

  app.add_option("-s,--server", net.server, "The platform: HOST:PORT, [IPv6]:PORT or HOST (port 8266); M2M_SERVER\n"
                                            "when not given. It is the device's parameter 0x0005")
      ->type_name("HOST:PORT")->group("Devices");
  app.add_flag("-u,--udp", net.udp, "Talk to the platform over UDP (needed for P2P)")->group("Devices");
  app.add_option("--id", id_text, "The device id (16 hex digits, fewer, 0x…, or a MAC); M2M_DEVICE when not given")
      ->type_name("ID")->group("Devices");
  app.add_option("--password", net.password, "Login password: 16 hex digits or text:…; M2M_PASSWORD when not given")
      ->type_name("P")->group("Devices");
  app.add_option("--password-file", net.password_file, "Read the password from the first line of FILE")
      ->type_name("FILE")->group("Devices");
  cli::add_count(app, "-c,--count", count, "Simulate N devices with consecutive ids from --id-start (or --id),\n"
                                            "all with --password, or the first N of --devices")->group("Devices");
  app.add_option("--id-start", id_start, "The first id of --count")->type_name("ID")->group("Devices");
  app.add_option("--devices", devices_file, "Ids and passwords from this CSV (what `m2m-server device export`\n"
                                             "prints: id,password,group,enabled,description; disabled rows skipped)")
      ->type_name("FILE")->group("Devices");

  app.add_option("--fallback", fallback, "Parameter 0x0006 at start: the server to use while --server refuses\n"
                                          "or cannot be reached")->type_name("HOST:PORT")->group("Behaviour");
  cli::add_duration(app, "--recheck-interval", recheck, "While on the fallback, re-check --server this often (default 20m)")
      ->group("Behaviour");
  cli::add_duration(app, "--heartbeat", heartbeat, "Parameter 0x000C at start, whole seconds 1-255 (default 30s)")->group("Behaviour");
  cli::add_duration(app, "--reboot-time", reboot_time, "Off the air after term.reboot (default 3s)")->group("Behaviour");
  cli::add_count(app, "--retries", retries, "Login attempts before giving up (default 5; 0: never give up)")->group("Behaviour");
  app.add_option("--software", software, "The software version reported in parameter 0x0001 (default 1.0.0)")
      ->type_name("VERSION")->group("Behaviour");
  cli::add_count(app, "--ota-frame-size", ota_frame, "Bytes asked per term.ota_frame (default 1024; lowered to what fits\n"
                                                      "the 1400-byte frame with the file name)")->group("Behaviour");
  app.add_option("--state", o.state_file, "Keep each device's configuration in FILE (JSON, written atomically\n"
                                           "after every change, read back at start)")->type_name("FILE")->group("Behaviour");

  app.add_option("--payload", payload, "How stdin lines are read: text (the line's bytes, default) or hex")
      ->check(CLI::IsMember({"text", "hex"}))->type_name("FORMAT")->group("Data");
  app.add_flag("--echo", o.echo, "Answer every downlink with an uplink of the same payload")->group("Data");
  app.add_option("--p2p-with", p2p_with, "Ask the platform for an introduction to device ID, punch through\n"
                                          "(link.p2p_confirm) and send stdin lines to it directly (needs --udp)")
      ->type_name("ID")->group("Data");
  cli::add_duration(app, "--p2p-timeout", punch, "Give up punching after this long and relay instead (default 10s)")->group("Data");
  cli::add_duration(app, "--p2p-keepalive", keepalive, "Probe an open P2P path this often (default 20s; at most 1m)")->group("Data");

  cli::add_duration(app, "-t,--timeout", o.run_for, "Run this long, then exit 0 (default: until SIGINT/SIGTERM)")->group("Run");
  cli::add_count(app, "-n,--frames", o.max_frames, "Exit 0 after printing N received data frames")->group("Run");
  cli::add_crc(app, o.crc)->group("Run");
  app.add_flag("-v,--verbose", o.verbose, "Write the devices' events as JSON Lines on stderr (login, logout,\n"
                                          "reboot, OTA progress, token mismatch, P2P state, …)")->group("Run");
  app.add_flag("-q,--quiet", o.quiet, "No summary line at the end")->group("Run");

  if (int rc = cli::parse(app, kProg, argc, argv); rc >= 0) return rc;

  net.device = id_text;
  if (auto env = cli::apply_environment(net); !env) return usage_error(env.error().message);
  id_text = net.device;
  if (net.server.empty()) return usage_error("no platform: give --server HOST:PORT (or set M2M_SERVER)");
  auto server = server_addr(net.server, net.udp, "--server");
  if (!server) return usage_error(server.error().message);

  auto& d = o.sim.defaults;
  d.server = *server;
  if (!fallback.empty()) {
    auto fb = server_addr(fallback, net.udp, "--fallback");
    if (!fb) return usage_error(fb.error().message);
    d.fallback = *fb;
  }
  if (heartbeat.count() < 1000 || heartbeat.count() > 255'000 || heartbeat.count() % 1000 != 0)
    return usage_error("--heartbeat " + std::to_string(heartbeat.count()) + "ms: parameter 0x000C holds whole seconds 1-255");
  d.heartbeat_s = static_cast<std::uint8_t>(heartbeat.count() / 1000);
  if (!software.empty()) d.software = software;
  if (ota_frame < 1 || ota_frame > 1400) return usage_error("--ota-frame-size " + std::to_string(ota_frame) + ": give 1-1400");
  if (retries > 255) return usage_error("--retries " + std::to_string(retries) + ": give 0-255");
  if (keepalive.count() <= 0 || keepalive > milliseconds(60'000))
    return usage_error("--p2p-keepalive: an open path is probed at least once a minute (give 1ms-1m)");

  auto& s = o.sim.session;
  s.role = m2m::device::Role::device;
  s.heartbeat = heartbeat;
  s.max_attempts = static_cast<std::uint8_t>(retries);
  s.retry_refused = true;  // a refusal sends the device to its fallback server, as the seed's module
  o.sim.reboot_time = reboot_time;
  o.sim.recheck_interval = recheck;
  o.sim.ota.frame_size = static_cast<std::uint16_t>(ota_frame);
  o.sim.p2p.punch_timeout = punch;
  o.sim.p2p.keepalive = keepalive;
  o.hex_payload = payload == "hex";

  if (!p2p_with.empty()) {
    auto p = ai::parse_device(p2p_with);
    if (!p) return usage_error("--p2p-with " + p2p_with + ": " + p.error().message);
    if (!net.udp) return usage_error("--p2p-with needs --udp: the platform introduces devices by their UDP address");
    o.p2p_with = *p;
  }

  // Who the devices are.
  if (!devices_file.empty()) {
    if (!id_start.empty() || net.password_source == "--password")
      return usage_error("--devices gives ids and passwords: leave out --id-start and --password");
    auto list = read_devices_csv(devices_file);
    if (!list) return usage_error(list.error().message);
    if (count > 0 && count < list->size()) list->resize(count);
    if (count > list->size()) return usage_error("--count " + std::to_string(count) + ": --devices " + devices_file + " has only " + std::to_string(list->size()));
    o.devices = std::move(*list);
  } else {
    const std::string first_text = !id_start.empty() ? id_start : id_text;
    if (first_text.empty()) return usage_error("no device: give --id ID (or --count N --id-start ID, or --devices FILE)");
    auto first = ai::parse_device(first_text);
    if (!first) return usage_error((id_start.empty() ? "--id " : "--id-start ") + first_text + ": " + first.error().message);
    if (!net.password) return usage_error("no password: give --password, --password-file or M2M_PASSWORD");
    auto pw = ai::parse_password(*net.password);
    if (!pw) return usage_error(net.password_source + ": " + pw.error().message);
    const std::uint64_t n = count ? count : 1;
    if (n > 100'000) return usage_error("--count " + std::to_string(n) + ": at most 100k devices in one process");
    for (std::uint64_t i = 0; i < n; ++i) o.devices.push_back({*first + i, *pw});
  }
  std::set<std::uint64_t> seen;
  for (const auto& dev : o.devices)
    if (!seen.insert(dev.id).second) return usage_error("device " + ai::format_device(dev.id) + " is given twice");
  return -1;
}

}  // namespace simdevice
