#include "cli/cli.hpp"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <ctime>

#include "cli/progress.hpp"
#include "core/units.hpp"
#include "core/version.hpp"

namespace m2m::cli {

const char* const kExitCodesHelp =
    "Exit status: 0 ok, 1 runtime failure, 2 usage error, 3 protocol/decode error,\n"
    "4 timed out, 5 refused (login rejected, status fail), 6 device or port unavailable,\n"
    "130 interrupted.";

int exit_code(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::bad_escape:
    case ErrorKind::bad_length:
    case ErrorKind::bad_crc:
    case ErrorKind::too_long:
    case ErrorKind::truncated:
    case ErrorKind::garbage:
    case ErrorKind::bad_value:
    case ErrorKind::bad_hex:
    case ErrorKind::bad_json:
    case ErrorKind::bad_checksum: return protocol;
    case ErrorKind::io: return failure;
    case ErrorKind::timeout: return timed_out;
    case ErrorKind::refused: return refused;
    case ErrorKind::closed:
    case ErrorKind::unavailable: return unavailable;
    case ErrorKind::interrupted: return interrupted_exit;
  }
  return failure;
}

void error(std::string_view prog, std::string_view message) {
  std::fprintf(stderr, "%.*s: error: %.*s\n", static_cast<int>(prog.size()), prog.data(),
               static_cast<int>(message.size()), message.data());
}

void warning(std::string_view prog, std::string_view message) {
  std::fprintf(stderr, "%.*s: warning: %.*s\n", static_cast<int>(prog.size()), prog.data(),
               static_cast<int>(message.size()), message.data());
}

void setup_app(CLI::App& app, std::string_view prog) {
  app.name(std::string(prog));
  app.set_version_flag("-V,--version", std::string(prog) + " (m2m-toolkit) " + kToolkitVersion + ", codec v" +
                                           std::to_string(kCodecVersion));
  app.footer(kExitCodesHelp);
  app.option_defaults()->always_capture_default();
}

int parse(CLI::App& app, std::string_view prog, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::printf("%s", app.help().c_str());
    return ok;
  } catch (const CLI::CallForAllHelp&) {
    std::printf("%s", app.help("", CLI::AppFormatMode::All).c_str());
    return ok;
  } catch (const CLI::CallForVersion&) {
    std::printf("%s\n", app.version().c_str());
    return ok;
  } catch (const CLI::ParseError& e) {
    error(prog, e.what());
    std::fprintf(stderr, "Try '%.*s --help' for more information.\n", static_cast<int>(prog.size()), prog.data());
    return usage;
  }
  return -1;
}

CLI::Option* add_duration(CLI::App& app, const std::string& name, std::chrono::milliseconds& out,
                          const std::string& desc) {
  return app
      .add_option_function<std::string>(
          name,
          [&out, name](const std::string& s) {
            auto r = parse_duration(s);
            if (!r) throw CLI::ValidationError(name, r.error().message);
            out = *r;
          },
          desc)
      ->type_name("DURATION")
      ->default_str(format_duration(out));
}

CLI::Option* add_count(CLI::App& app, const std::string& name, std::uint64_t& out, const std::string& desc) {
  return app
      .add_option_function<std::string>(
          name,
          [&out, name](const std::string& s) {
            auto r = parse_count(s);
            if (!r) throw CLI::ValidationError(name, r.error().message);
            out = *r;
          },
          desc)
      ->type_name("N");
}

CLI::Option* add_crc(CLI::App& app, CrcVariant& out) {
  return app
      .add_option_function<std::string>(
          "--crc",
          [&out](const std::string& s) {
            auto v = parse_crc_variant(s);
            if (!v) throw CLI::ValidationError("--crc", "unknown CRC variant '" + s + "' (" + std::string(kCrcVariantNames) + ")");
            out = *v;
          },
          "CRC-16 variant of the frames: modbus (default), ccitt-false, xmodem")
      ->type_name("VARIANT");
}

std::string timestamp_now() {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

bool stdout_is_terminal() { return isatty(STDOUT_FILENO) == 1; }
bool stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }
bool color_allowed() { return stdout_is_terminal() && !no_color_requested(); }

namespace {
std::atomic<bool> g_interrupted{false};
extern "C" void on_signal(int) { g_interrupted.store(true); }
}  // namespace

void install_interrupt_flag() {
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

bool interrupted() { return g_interrupted.load(); }

bool write_line(std::string_view line) {
  if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size()) return false;
  if (std::fputc('\n', stdout) == EOF) return false;
  return std::fflush(stdout) == 0;
}

}  // namespace m2m::cli
