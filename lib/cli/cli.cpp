#include "cli/app.hpp"
#include "cli/cli.hpp"

#include "net/loop.hpp"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <ctime>

#include "cli/completion.hpp"
#include "cli/progress.hpp"
#include "core/units.hpp"
#include "core/version.hpp"

namespace m2m::cli {

const char* const kExitCodesHelp =
    "Exit status: 0 ok, 1 runtime failure, 2 usage error, 3 protocol/decode error,\n"
    "4 timed out, 5 refused (login rejected, status fail), 6 device or port unavailable,\n"
    "7 goal missed (the run worked, a stated goal did not hold), 130 interrupted\n"
    "(a server or emulator stopped on purpose exits 0).";

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
  app.formatter(std::make_shared<HelpFormatter>());
}

namespace {

// CLI11 appends ":" + each validator's description to the type name ("INT:INT in [1 - 9999]",
// "PROTOCOL:{ai,sms,telematics}"); the description says the same in words.
std::string bare_type_name(const CLI::Option* opt) {
  std::string name = opt->get_type_name();
  auto* o = const_cast<CLI::Option*>(opt);  // CLI11 2.1 has no const accessor for validators
  std::vector<std::string> suffixes;
  for (int i = 0;; ++i) {
    try {
      const std::string d = o->get_validator(i)->get_description();
      if (!d.empty()) suffixes.push_back(":" + d);
    } catch (const CLI::OptionNotFound&) {
      break;
    }
  }
  for (auto it = suffixes.rbegin(); it != suffixes.rend(); ++it)
    if (name.size() >= it->size() && name.compare(name.size() - it->size(), it->size(), *it) == 0)
      name.erase(name.size() - it->size());
  return name;
}

// A default the help should mention: not empty, not a container's "[]", not a zero or false
// that only means "not given".
bool worth_showing(const std::string& d) {
  static const char* const kNothing[] = {"", "[]", "\"\"", "0", "0ms", "0s", "false", "true"};
  for (const char* n : kNothing)
    if (d == n) return false;
  return true;
}

}  // namespace

std::string HelpFormatter::make_option_opts(const CLI::Option* opt) const {
  if (!opt->get_option_text().empty()) return " " + opt->get_option_text();
  if (opt->get_type_size() == 0) return {};
  std::string out;
  if (std::string type = bare_type_name(opt); !type.empty()) out += " " + type;
  if (opt->get_expected_max() == CLI::detail::expected_max_vector_size) out += " ...";
  else if (opt->get_expected_min() > 1) out += " x " + std::to_string(opt->get_expected());
  return out;
}

std::string HelpFormatter::make_option_desc(const CLI::Option* opt) const {
  std::string desc = opt->get_description();
  const std::string d = opt->get_default_str();
  if (opt->get_type_size() != 0 && worth_showing(d) && desc.find("default") == std::string::npos)
    desc += " (default " + d + ")";
  return desc;
}

std::string plural(std::uint64_t n, std::string_view one, std::string_view many) {
  std::string out = std::to_string(n) + " ";
  if (n == 1) return out.append(one);
  if (many.empty()) return out.append(one).append("s");
  return out.append(many);
}

UsageMessage usage_message(const CLI::App& app, const CLI::ParseError& e) {
  // The deepest subcommand the parse reached is where the word was wrong.
  const CLI::App* at = &app;
  std::string command = app.get_name();
  for (;;) {
    auto parsed = at->get_subcommands();
    if (parsed.empty()) break;
    at = parsed.back();
    command += " " + at->get_name();
  }
  std::string message = e.what();
  // A word where a subcommand belongs: CLI11 says "A subcommand is required" or "The
  // following argument was not expected"; say which word and what the choices are.
  const auto children = at->get_subcommands([](const CLI::App*) { return true; });
  const std::vector<std::string> left = app.remaining(true);
  if (!children.empty() && !left.empty() &&
      (dynamic_cast<const CLI::RequiredError*>(&e) || dynamic_cast<const CLI::ExtrasError*>(&e))) {
    std::string names;
    for (const CLI::App* c : children) names += (names.empty() ? "" : ", ") + c->get_name();
    message = "'" + left.front() + "' is not a subcommand of '" + command + "' (" + names + ")";
  } else if (at != &app) {
    message = command.substr(app.get_name().size() + 1) + ": " + message;
  }
  return {message, command};
}

int parse(CLI::App& app, std::string_view prog, int argc, char** argv) {
  // Hidden: "--completion bash" prints the completion script the build installs.
  if (argc == 3 && std::string_view(argv[1]) == "--completion") {
    if (std::string_view(argv[2]) != "bash") {
      error(prog, "--completion: only bash is supported, not '" + std::string(argv[2]) + "'");
      return usage;
    }
    std::printf("%s", bash_completion(app).c_str());
    return ok;
  }
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
    const UsageMessage m = usage_message(app, e);
    error(prog, m.message);
    std::fprintf(stderr, "Try '%s --help' for more information.\n", m.command.c_str());
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

CLI::Option* add_optional(CLI::App& app, const std::string& name, std::optional<std::string>& out,
                          const std::string& desc, const std::string& type_name) {
  return app.add_option_function<std::string>(name, [&out](const std::string& s) { out = s; }, desc)->type_name(type_name);
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

bool stdout_is_terminal() { return isatty(STDOUT_FILENO) == 1; }
bool stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }
bool color_allowed() { return stdout_is_terminal() && !no_color_requested(); }

namespace {
std::atomic<bool> g_interrupted{false};
net::Stop* g_stop = nullptr;  // requested too, when a program runs an event loop
extern "C" void on_signal(int) {
  g_interrupted.store(true);
  if (g_stop) g_stop->request();  // async-signal-safe (an eventfd write)
}
}  // namespace

void install_interrupt_flag(net::Stop* stop) {
  g_stop = stop;
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

bool interrupted() { return g_interrupted.load(); }

int exit_after_interrupt(OnInterrupt how) { return how == OnInterrupt::server_stop ? ok : interrupted_exit; }

bool write_line(std::string_view line) {
  if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size()) return false;
  if (std::fputc('\n', stdout) == EOF) return false;
  return std::fflush(stdout) == 0;
}

}  // namespace m2m::cli
