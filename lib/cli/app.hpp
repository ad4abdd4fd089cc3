// The option parser's side of the shared CLI plumbing (CLI11): help, parsing, usage errors,
// options with units. Only files that declare options include it (see cli.hpp).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "cli/cli.hpp"

namespace m2m::cli {

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

// Options taking units: durations "500ms"/"2s"/"5m", counts "100"/"10k"/"1M".
CLI::Option* add_duration(CLI::App& app, const std::string& name, std::chrono::milliseconds& out,
                          const std::string& desc);
CLI::Option* add_count(CLI::App& app, const std::string& name, std::uint64_t& out, const std::string& desc);
CLI::Option* add_crc(CLI::App& app, CrcVariant& out);  // --crc modbus|ccitt-false|xmodem
// A text option whose absence is visible (std::nullopt), unlike an empty string.
CLI::Option* add_optional(CLI::App& app, const std::string& name, std::optional<std::string>& out,
                          const std::string& desc, const std::string& type_name);

}  // namespace m2m::cli
