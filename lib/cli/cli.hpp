// Shared CLI plumbing: one exit-code table, one error format, signals, terminal checks.
// The option parser's side (CLI11) is in cli/app.hpp: CLI11 is header-only and costs seconds
// of compile time in every file that includes it, so only files that declare options do.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/crc16.hpp"
#include "core/error.hpp"
#include "core/units.hpp"

namespace m2m::net {
class Stop;
}

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

// "1 frame", "2 frames", "0 frames"; `many` defaults to `one` + "s".
std::string plural(std::uint64_t n, std::string_view one, std::string_view many = {});

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
// With `stop`, the signal also requests that event loop's stop (it must outlive the program's
// run: a static), so a server or a fleet of devices on net::Loop ends at once.
void install_interrupt_flag(net::Stop* stop = nullptr);
bool interrupted();
enum class OnInterrupt : std::uint8_t { fail, server_stop };
int exit_after_interrupt(OnInterrupt how = OnInterrupt::fail);

// Writes one line (adds '\n') to stdout and flushes; returns false when stdout is gone
// (EPIPE), so a program in a pipe stops quietly.
bool write_line(std::string_view line);

}  // namespace m2m::cli
