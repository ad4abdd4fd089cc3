// m2m-ota-serve: a stand-alone firmware update server (m2m-ota-serve(1)). Options in
// options.cpp, records in report.cpp, the server in lib/platform/ota_server.
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
#include "options.hpp"
#include "report.hpp"

namespace {
using namespace m2m;
using m2m::ai::detail::JsonOut;
namespace ota = m2m::platform::ota;
using namespace m2m::ota_serve;
constexpr std::string_view kProg = "m2m-ota-serve";



}  // namespace

int main(int argc, char** argv) {
  using m2m::ai::detail::JsonOut;
  CLI::App app{"Firmware update server for a bench, a production line or a CI job: devices log in, get "
               "term.ota_start for one image, fetch its frames, and each one's outcome is reported"};
  cli::setup_app(app, kProg);
  ota_serve::Args args;
  ota_serve::add_options(app, args);
  auto& [firmware, name, listen, db, devices, devices_file, accept_any, until_done, frame_size, max_parallel,
         abort_after, co, timeout, checksum] = args;
  if (int rc = cli::parse(app, kProg, argc, argv); rc >= 0) return rc;

  if (db.empty() && !accept_any) return usage_error("give --db FILE (the registry's passwords) or --accept-any");
  if (frame_size > 0xFFFF) return usage_error("--frame-size: at most 65535");
  co.max_parallel = static_cast<unsigned>(std::min<std::uint64_t>(max_parallel, 0xFFFFFFFF));
  co.abort_after_failures = static_cast<unsigned>(std::min<std::uint64_t>(abort_after, 0xFFFFFFFF));
  if (co.stall_timeout.count() <= 0 || co.relogin_timeout.count() <= 0)
    return usage_error("--stall-timeout and --relogin-timeout must be greater than 0");

  std::vector<std::uint64_t> targets;
  std::unordered_map<std::uint64_t, ai::Password> passwords;
  if (int rc = load_targets(args, targets, passwords); rc >= 0) return rc;
  if (until_done && targets.empty())
    return usage_error("--until-done needs the devices to wait for: --devices, --devices-file or --db");

  if (name.empty()) name = firmware.substr(firmware.find_last_of('/') == std::string::npos ? 0 : firmware.find_last_of('/') + 1);
  if (auto ok = ota::check_file_name(name); !ok) return usage_error("--name: " + ok.error().message);
  auto image = ota::load_image(firmware, name);
  if (!image) {
    cli::error(kProg, image.error().message);
    return cli::exit_code(image.error());
  }

  ota::ServerOptions so;
  if (int rc = server_options(args, so); rc >= 0) return rc;

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
  cli::install_interrupt_flag(&stop);

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

  const unsigned unfinished = write_final(targets, server->campaign(), server->bytes_served(), name,
                                         (*image)->bytes.size(), t0);
  auto& c = server->campaign();
  if (cli::interrupted()) return until_done ? cli::exit_after_interrupt(cli::OnInterrupt::fail)
                                     : cli::exit_after_interrupt(cli::OnInterrupt::server_stop);
  if (until_done) return c.failed() + unfinished == 0 && c.succeeded() == targets.size() ? cli::ok : cli::goal_missed;
  return cli::ok;
}
