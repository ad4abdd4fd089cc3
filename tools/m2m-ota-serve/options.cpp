#include "options.hpp"

#include "cli/app.hpp"
#include "cli/cli.hpp"
#include "net/endpoint.hpp"
#include "platform/store.hpp"
#include <cstdlib>
#include "report.hpp"

#include <fstream>
#include <sstream>

namespace m2m::ota_serve {

namespace {
constexpr std::string_view kProg = "m2m-ota-serve";
}

int usage_error(const std::string& message) {
  cli::error(kProg, message);
  std::fprintf(stderr, "Try '%s --help' for more information.\n", std::string(kProg).c_str());
  return cli::usage;
}

void add_options(CLI::App& app, Args& a) {
  app.add_option("--firmware", a.firmware, "the image to send (read once, held once in memory)")
      ->type_name("FILE")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--name", a.name, "file name the devices are told and ask for (default: the file's base name)")
      ->type_name("NAME");
  app.add_option("--listen", a.listen, "TCP address the devices connect to (IPv4, or [IPv6]:PORT)")
      ->type_name("HOST:PORT")
      ->default_str("127.0.0.1:8266");
  auto* db_opt = app.add_option("--db", a.db, "registry file (SQLite, read only): devices log in with its passwords")
                     ->type_name("FILE")
                     ->check(CLI::ExistingFile);
  auto* any_opt = app.add_flag("--accept-any", a.accept_any,
                               "accept any device id and password (a closed bench only)");
  db_opt->excludes(any_opt);
  auto* dev_opt = app.add_option("--devices", a.devices, "update only these devices (ids separated by commas)")
                      ->type_name("ID,ID...");
  auto* devf_opt = app.add_option("--devices-file", a.devices_file,
                                  "update only the devices listed in FILE (one id a line, or the CSV of "
                                  "'m2m-server device export')")
                       ->type_name("FILE")
                       ->check(CLI::ExistingFile);
  dev_opt->excludes(devf_opt);
  cli::add_count(app, "--frame-size", a.frame_size,
                 "largest frame size served: a device asking for larger frames gets status fail (the "
                 "device chooses the size; 0: up to the 1400-byte frame limit)")
      ->default_str("0");
  cli::add_count(app, "--max-parallel", a.max_parallel, "devices updating at once; the others wait their turn (0: no limit)")
      ->default_str("0");
  cli::add_count(app, "--abort-after-failures", a.abort_after,
                 "start no new update after N devices failed, as a staged rollout would (0: never)")
      ->default_str("0");
  cli::add_duration(app, "--stall-timeout", a.co.stall_timeout,
                    "a device that asks for no frame for this long is reported failed");
  cli::add_duration(app, "--relogin-timeout", a.co.relogin_timeout,
                    "after 'upgrade ok', the device must log in again within this");
  cli::add_optional(app, "--checksum", a.checksum,
                    "announce this checksum (0-255, or 0x..) instead of the image's: the devices then reject the "
                    "update, to test how a corrupted image is reported",
                    "N");
  app.add_flag("--until-done", a.until_done,
               "exit once every targeted device finished: 0 when all succeeded, 7 otherwise");
  cli::add_duration(app, "-t,--timeout", a.timeout, "stop after this long (0: run until done or interrupted)")
      ->default_str("0");
}


int load_targets(const Args& a, std::vector<std::uint64_t>& targets,
                 std::unordered_map<std::uint64_t, ai::Password>& passwords) {
  if (!a.devices.empty()) {
    auto ids = parse_ids(a.devices, "--devices");
    if (!ids) return usage_error(ids.error().message);
    targets = *ids;
  } else if (!a.devices_file.empty()) {
    std::ifstream in(a.devices_file);
    std::stringstream text;
    text << in.rdbuf();
    auto ids = parse_ids(text.str(), "--devices-file " + a.devices_file);
    if (!ids) return usage_error(ids.error().message);
    if (ids->empty()) return usage_error("--devices-file " + a.devices_file + ": no device id in it");
    targets = *ids;
  }

  if (!a.db.empty()) {
    auto store = platform::Store::open(a.db, platform::Store::Access::read_only);
    if (!store) {
      cli::error(kProg, store.error().message);
      return cli::failure;
    }
    std::vector<std::uint64_t> enabled;
    auto r = store->each_device([&](const platform::DeviceRecord& d) {
      if (!d.enabled) return;
      passwords[d.id] = d.password;
      enabled.push_back(d.id);
    });
    if (!r) {
      cli::error(kProg, r.error().message);
      return cli::failure;
    }
    if (targets.empty()) targets = enabled;  // with a registry: every enabled device in it
  }
  return -1;
}


int server_options(const Args& a, platform::ota::ServerOptions& so) {
  auto hp = net::parse_host_port(a.listen);
  if (!hp) return usage_error("--listen: " + hp.error().message);
  auto addrs = net::resolve(*hp, false);
  if (!addrs) return usage_error("--listen: " + addrs.error().message);
  so.listen = addrs->front();
  for (const net::Address& addr : *addrs)  // a name with both families (localhost): IPv4, as m2m-server
    if (addr.family() == AF_INET) {
      so.listen = addr;
      break;
    }
  so.frame_size_cap = static_cast<std::uint16_t>(a.frame_size);
  so.run_timeout = a.timeout;
  so.until_done = a.until_done;
  so.accept_any = a.accept_any;
  if (a.checksum) {
    char* end = nullptr;
    const unsigned long v = std::strtoul(a.checksum->c_str(), &end, 0);
    if (a.checksum->empty() || *end || v > 255) return usage_error("--checksum: expected 0-255 or 0x00-0xFF, not '" + *a.checksum + "'");
    so.announce_checksum = static_cast<int>(v);
  }
  return -1;
}

}  // namespace m2m::ota_serve
