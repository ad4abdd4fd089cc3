// m2m-ota-serve: a stand-alone firmware update server (m2m-ota-serve(1)). The options and the
// output are here; the server is lib/platform/ota_server.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "cli/app.hpp"
#include "cli/cli.hpp"
#include "cli/progress.hpp"
#include "m2m/frame.hpp"
#include "m2m/json_text.hpp"
#include "net/endpoint.hpp"
#include "platform/ota_server.hpp"
#include "platform/store.hpp"

namespace {
using namespace m2m;
using m2m::ai::detail::JsonOut;
namespace ota = m2m::platform::ota;
constexpr std::string_view kProg = "m2m-ota-serve";

net::Stop* g_stop = nullptr;
volatile std::sig_atomic_t g_signalled = 0;
extern "C" void on_stop_signal(int) {
  g_signalled = 1;
  if (g_stop) g_stop->request();
}

int usage_error(const std::string& message) {
  cli::error(kProg, message);
  std::fprintf(stderr, "Try '%s --help' for more information.\n", std::string(kProg).c_str());
  return cli::usage;
}

// Ids separated by commas, spaces or new lines; a line's first CSV field (an export of
// m2m-server device export works: its header line and '#' comments are skipped).
Result<std::vector<std::uint64_t>> parse_ids(const std::string& text, const std::string& where) {
  std::vector<std::uint64_t> out;
  std::istringstream lines(text);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    ++n;
    if (line.empty() || line[0] == '#' || line.rfind("id,", 0) == 0) continue;
    const bool csv_line = line.find(',') != std::string::npos && where != "--devices";
    std::istringstream items(csv_line ? line.substr(0, line.find(',')) : line);
    std::string item;
    while (std::getline(items, item, ',')) {
      while (!item.empty() && (item.back() == ' ' || item.back() == '\r' || item.back() == '\t')) item.pop_back();
      while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.erase(0, 1);
      if (item.empty()) continue;
      auto id = ai::parse_device(item);
      if (!id) return fail(ErrorKind::bad_value, where + " line " + std::to_string(n) + ": " + id.error().message);
      out.push_back(*id);
    }
  }
  return out;
}

std::string version_text(const std::string& v) { return v.empty() ? "unknown" : v; }

std::string record(const ota::Transfer& t) {
  std::string s;
  JsonOut w(s);
  w.open();
  w.key("id").str(ai::format_device(t.device));
  w.key("outcome").str(t.outcome);
  w.key("ok").raw(t.phase == ota::Phase::ok ? "true" : "false");
  w.key("bytes").num(t.bytes).key("frames").num(t.frames).key("retries").num(t.retries);
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.3f", static_cast<double>(t.elapsed.count()) / 1000.0);
  w.key("seconds").raw(secs);
  w.key("old_version").str(t.old_version).key("new_version").str(t.new_version);
  w.close();
  return s;
}
}  // namespace

int main(int argc, char** argv) {
  using m2m::ai::detail::JsonOut;
  CLI::App app{"Firmware update server for a bench, a production line or a CI job: devices log in, get "
               "term.ota_start for one image, fetch its frames, and each one's outcome is reported"};
  cli::setup_app(app, kProg);
  std::string firmware, name, listen = "127.0.0.1:8266", db, devices, devices_file;
  bool accept_any = false, until_done = false;
  std::uint64_t frame_size = 0, max_parallel = 0, abort_after = 0;
  ota::CampaignOptions co;
  std::chrono::milliseconds timeout{0};
  app.add_option("--firmware", firmware, "the image to send (read once, held once in memory)")
      ->type_name("FILE")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--name", name, "file name the devices are told and ask for (default: the file's base name)")
      ->type_name("NAME");
  app.add_option("--listen", listen, "TCP address the devices connect to (IPv4, or [IPv6]:PORT)")
      ->type_name("HOST:PORT")
      ->default_str("127.0.0.1:8266");
  auto* db_opt = app.add_option("--db", db, "registry file (SQLite, read only): devices log in with its passwords")
                     ->type_name("FILE")
                     ->check(CLI::ExistingFile);
  auto* any_opt = app.add_flag("--accept-any", accept_any,
                               "accept any device id and password (a closed bench only)");
  db_opt->excludes(any_opt);
  auto* dev_opt = app.add_option("--devices", devices, "update only these devices (ids separated by commas)")
                      ->type_name("ID,ID...");
  auto* devf_opt = app.add_option("--devices-file", devices_file,
                                  "update only the devices listed in FILE (one id a line, or the CSV of "
                                  "'m2m-server device export')")
                       ->type_name("FILE")
                       ->check(CLI::ExistingFile);
  dev_opt->excludes(devf_opt);
  cli::add_count(app, "--frame-size", frame_size,
                 "largest frame size served: a device asking for larger frames gets status fail (the "
                 "device chooses the size; 0: up to the 1400-byte frame limit)")
      ->default_str("0");
  cli::add_count(app, "--max-parallel", max_parallel, "devices updating at once; the others wait their turn (0: no limit)")
      ->default_str("0");
  cli::add_count(app, "--abort-after-failures", abort_after,
                 "start no new update after N devices failed, as a staged rollout would (0: never)")
      ->default_str("0");
  cli::add_duration(app, "--stall-timeout", co.stall_timeout,
                    "a device that asks for no frame for this long is reported failed");
  cli::add_duration(app, "--relogin-timeout", co.relogin_timeout,
                    "after 'upgrade ok', the device must log in again within this");
  std::optional<std::string> checksum;
  cli::add_optional(app, "--checksum", checksum,
                    "announce this checksum (0-255, or 0x..) instead of the image's: the devices then reject the "
                    "update, to test how a corrupted image is reported",
                    "N");
  app.add_flag("--until-done", until_done,
               "exit once every targeted device finished: 0 when all succeeded, 7 otherwise");
  cli::add_duration(app, "-t,--timeout", timeout, "stop after this long (0: run until done or interrupted)")
      ->default_str("0");
  if (int rc = cli::parse(app, kProg, argc, argv); rc >= 0) return rc;

  if (db.empty() && !accept_any) return usage_error("give --db FILE (the registry's passwords) or --accept-any");
  if (frame_size > 0xFFFF) return usage_error("--frame-size: at most 65535");
  co.max_parallel = static_cast<unsigned>(std::min<std::uint64_t>(max_parallel, 0xFFFFFFFF));
  co.abort_after_failures = static_cast<unsigned>(std::min<std::uint64_t>(abort_after, 0xFFFFFFFF));
  if (co.stall_timeout.count() <= 0 || co.relogin_timeout.count() <= 0)
    return usage_error("--stall-timeout and --relogin-timeout must be greater than 0");

  std::vector<std::uint64_t> targets;
  if (!devices.empty()) {
    auto ids = parse_ids(devices, "--devices");
    if (!ids) return usage_error(ids.error().message);
    targets = *ids;
  } else if (!devices_file.empty()) {
    std::ifstream in(devices_file);
    std::stringstream text;
    text << in.rdbuf();
    auto ids = parse_ids(text.str(), "--devices-file " + devices_file);
    if (!ids) return usage_error(ids.error().message);
    if (ids->empty()) return usage_error("--devices-file " + devices_file + ": no device id in it");
    targets = *ids;
  }

  std::unordered_map<std::uint64_t, ai::Password> passwords;
  if (!db.empty()) {
    auto store = platform::Store::open(db, platform::Store::Access::read_only);
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
  if (until_done && targets.empty())
    return usage_error("--until-done needs the devices to wait for: --devices, --devices-file or --db");

  if (name.empty()) name = firmware.substr(firmware.find_last_of('/') == std::string::npos ? 0 : firmware.find_last_of('/') + 1);
  if (auto ok = ota::check_file_name(name); !ok) return usage_error("--name: " + ok.error().message);
  auto image = ota::load_image(firmware, name);
  if (!image) {
    cli::error(kProg, image.error().message);
    return cli::exit_code(image.error());
  }

  auto hp = net::parse_host_port(listen);
  if (!hp) return usage_error("--listen: " + hp.error().message);
  auto addrs = net::resolve(*hp, false);
  if (!addrs) return usage_error("--listen: " + addrs.error().message);
  ota::ServerOptions so;
  so.listen = addrs->front();
  for (const net::Address& a : *addrs)
    if (a.family() == AF_INET) {
      so.listen = a;
      break;
    }
  so.frame_size_cap = static_cast<std::uint16_t>(frame_size);
  so.run_timeout = timeout;
  so.until_done = until_done;
  so.accept_any = accept_any;
  if (checksum) {
    char* end = nullptr;
    const unsigned long v = std::strtoul(checksum->c_str(), &end, 0);
    if (checksum->empty() || *end || v > 255) return usage_error("--checksum: expected 0-255 or 0x00-0xFF, not '" + *checksum + "'");
    so.announce_checksum = static_cast<int>(v);
  }

  cli::ProgressLine progress(stderr);
  const auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<ota::Server> server;
  std::string last_summary;
  auto summary_text = [&] {
    auto& c = server->campaign();
    std::string s = std::string(kProg) + ": " + std::to_string(c.succeeded()) + " ok, " + std::to_string(c.failed()) +
                    " failed, " + std::to_string(c.in_flight()) + " in flight";
    if (!targets.empty()) s += " of " + cli::plural(targets.size(), "target");
    char mb[48];
    std::snprintf(mb, sizeof mb, ", %.1f MB served", static_cast<double>(server->bytes_served()) / 1e6);
    return s + mb;
  };
  ota::Observer obs;
  obs.changed = [&](const ota::Transfer& t) {
    if (progress.redraws()) return;  // the summary line is redrawn instead
    std::string line = std::string(kProg) + ": " + ai::format_device(t.device) + " " + ota::phase_name(t.phase);
    if (t.phase == ota::Phase::starting) line += " (version " + version_text(t.old_version) + ")";
    line += ", " + std::to_string(server->campaign().in_flight()) + " in flight";
    progress.update(line);
  };
  obs.finished = [&](const ota::Transfer& t) {
    if (!progress.redraws())
      progress.update(std::string(kProg) + ": " + ai::format_device(t.device) + " " + ota::phase_name(t.phase) + ": " +
                      t.outcome + ", " + std::to_string(server->campaign().in_flight()) + " in flight");
    else
      progress.finish();
    cli::write_line(record(t));
  };
  obs.tick = [&] {
    if (!progress.redraws()) return;
    std::string s = summary_text();
    if (s != last_summary) progress.update(last_summary = s);
  };
  server = std::make_unique<ota::Server>(*image, co, so, std::move(passwords), obs);
  for (std::uint64_t id : targets) server->campaign().add_target(id);

  static net::Stop stop;
  g_stop = &stop;
  struct sigaction sa{};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  if (auto r = server->open(); !r) {
    cli::error(kProg, "--listen " + listen + ": " + r.error().message);
    return cli::unavailable;
  }
  std::fprintf(stderr, "%s: serving %s (%zu bytes, checksum 0x%02X) on %s to %s\n", std::string(kProg).c_str(),
               name.c_str(), (*image)->bytes.size(), (*image)->sum, net::format_address(server->bound()).c_str(),
               targets.empty() ? "every device that logs in" : cli::plural(targets.size(), "device").c_str());
  const int rc = server->run(stop);
  progress.finish();
  if (rc != 0) {
    cli::error(kProg, "the event loop failed (above)");
    return cli::failure;
  }

  // Targets that did not finish: reported failed with the reason.
  auto& c = server->campaign();
  const auto now = std::chrono::steady_clock::now();
  unsigned unfinished = 0;
  for (std::uint64_t id : targets) {
    const ota::Transfer* t = c.find(id);
    if (t && (t->phase == ota::Phase::ok || t->phase == ota::Phase::failed)) continue;
    ota::Transfer u = t ? *t : ota::Transfer{};
    u.device = id;
    const ota::Phase was = u.phase;
    u.phase = ota::Phase::failed;
    u.outcome = was == ota::Phase::waiting
                    ? (c.aborted() ? "not started: the failure budget (--abort-after-failures) is spent"
                                   : "not started: the device did not log in")
                    : std::string("unfinished (") + ota::phase_name(was) + ") when the server stopped";
    if (was != ota::Phase::waiting)
      u.elapsed = std::chrono::duration_cast<ota::Millis>(now - u.started);
    cli::write_line(record(u));
    ++unfinished;
  }
  const double secs = std::chrono::duration<double>(now - t0).count();
  std::string s;
  JsonOut w(s);
  w.open().key("summary").raw("true");
  w.key("file").str(name).key("image_bytes").num((*image)->bytes.size());
  w.key("targets").num(targets.size()).key("ok").num(c.succeeded()).key("failed").num(c.failed() + unfinished);
  w.key("bytes_served").num(server->bytes_served());
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", secs);
  w.key("seconds").raw(buf);
  w.key("aborted").raw(c.aborted() ? "true" : "false");
  w.close();
  cli::write_line(s);
  std::fprintf(stderr, "%s: %u ok, %u failed%s in %.1f s\n", std::string(kProg).c_str(), c.succeeded(),
               c.failed() + unfinished, c.aborted() ? " (aborted after the failure budget)" : "", secs);

  if (g_signalled) return until_done ? cli::exit_after_interrupt(cli::OnInterrupt::fail)
                                     : cli::exit_after_interrupt(cli::OnInterrupt::server_stop);
  if (until_done) return c.failed() + unfinished == 0 && c.succeeded() == targets.size() ? cli::ok : cli::goal_missed;
  return cli::ok;
}
