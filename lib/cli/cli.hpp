// Shared CLI plumbing: one exit-code table, one error format, one set of common options.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "core/crc16.hpp"
#include "core/error.hpp"
#include "core/units.hpp"

namespace m2m::cli {

// DESIGN.md "Exit codes", identical for every program and documented in every man page.
enum Exit : int {
  ok = 0,
  failure = 1,      // runtime failure
  usage = 2,        // usage error
  protocol = 3,     // protocol/decode error in the input or a reply
  timed_out = 4,
  refused = 5,      // login rejected, status fail
  unavailable = 6,  // device or port unavailable
  goal_missed = 7,  // the run worked but a stated goal did not hold (m2m-loadtest --slo, …)
  interrupted_exit = 130,
};

// The one mapping from the shared error vocabulary to the exit-code table: decode and content
// errors are 3, io 1, timeout 4, refused 5, closed/unavailable 6, interrupted 130. Usage
// errors are found while parsing options and exit 2 there, whatever their kind.
int exit_code(ErrorKind kind);
inline int exit_code(const Error& e) { return exit_code(e.kind); }

// The exit-status section text shared by man pages and --help footers.
extern const char* const kExitCodesHelp;

// "prog: error: message" on stderr (and warning/note variants).
void error(std::string_view prog, std::string_view message);
void warning(std::string_view prog, std::string_view message);

// Sets up -h/--help, -V/--version ("prog (m2m-toolkit) X, codec vN"), the exit-codes footer
// and the help formatter on a fresh app. The formatter (HelpFormatter) makes --help read like
// the man pages: "--count N", not CLI11's "--count INT:INT in [1 - 9999]=0" or
// "id TEXT=[] REQUIRED": validator descriptions, "=default" and REQUIRED/Needs/Excludes
// markers are left out of the option column, and a default worth knowing that the
// description does not mention is added to it as "(default X)".
void setup_app(CLI::App& app, std::string_view prog);

class HelpFormatter : public CLI::Formatter {
 public:
  std::string make_option_opts(const CLI::Option* opt) const override;
  std::string make_option_desc(const CLI::Option* opt) const override;
};

// Parses argv; returns -1 to continue, 0 after printing the bash completion script for the
// hidden "prog --completion bash" (completion.hpp), or the exit code (0 for --help/--version, 2 for a
// usage error, with CLI11's message on stderr in the "prog: error:" form). In a subcommand
// the message names the subcommand and the word that was wrong, and points to that
// subcommand's --help ("Try 'm2m-server device --help' ...").
int parse(CLI::App& app, std::string_view prog, int argc, char** argv);

// The usage-error text of a failed parse and the command whose --help to suggest ("prog" or
// "prog sub ..."): parse() prints them; tests call it directly.
struct UsageMessage {
  std::string message, command;
};
UsageMessage usage_message(const CLI::App& app, const CLI::ParseError& e);

// "1 frame", "2 frames", "0 frames"; `many` defaults to `one` + "s".
std::string plural(std::uint64_t n, std::string_view one, std::string_view many = {});

// Options taking units: durations "500ms"/"2s"/"5m", counts "100"/"10k"/"1M".
CLI::Option* add_duration(CLI::App& app, const std::string& name, std::chrono::milliseconds& out,
                          const std::string& desc);
CLI::Option* add_count(CLI::App& app, const std::string& name, std::uint64_t& out, const std::string& desc);
CLI::Option* add_crc(CLI::App& app, CrcVariant& out);  // --crc modbus|ccitt-false|xmodem
// A text option whose absence is visible (std::nullopt), unlike an empty string.
CLI::Option* add_optional(CLI::App& app, const std::string& name, std::optional<std::string>& out,
                          const std::string& desc, const std::string& type_name);

// ISO-8601 UTC with milliseconds: "2026-11-21T00:12:00.123Z".
using m2m::timestamp_now;  // core/units.hpp: ISO-8601 UTC with milliseconds

bool stdout_is_terminal();
bool stderr_is_terminal();
bool color_allowed();  // a terminal and NO_COLOR unset

// SIGINT/SIGTERM (issue 15, decided once for every program): the signal sets a flag instead
// of killing the process; programs poll interrupted(), stop what they do, flush what they
// printed and exit 130 (interrupted_exit), as the exit-code table says. One exception: a
// server (m2m-server serve, emulators serving a link) that is stopped on purpose by SIGINT or
// SIGTERM has done what it was asked and exits 0 after a clean shutdown; its page says so.
// exit_after_interrupt() is the one place that maps "stopped by a signal" to the code.
void install_interrupt_flag();
bool interrupted();
enum class OnInterrupt : std::uint8_t { fail, server_stop };
int exit_after_interrupt(OnInterrupt how = OnInterrupt::fail);

// Writes one line (adds '\n') to stdout and flushes; returns false when stdout is gone
// (EPIPE), so a program in a pipe stops quietly.
bool write_line(std::string_view line);

}  // namespace m2m::cli
