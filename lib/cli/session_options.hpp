// The network session options of every client program, declared once (issue 7 item 6):
// --server, --udp, --device/--account, --password, --timeout, --heartbeat, --bind. m2m-send
// uses them today; m2m-simdevice and m2m-loadtest take the same flags with the same words.
//
// Addresses stay text here: lib/net's parse_host_port reads --server and --bind (lib/cli and
// lib/net are one layer and do not include each other).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/error.hpp"
#include "m2m/messages.hpp"

namespace m2m::cli {

struct SessionArgs {
  std::string server;   // HOST:PORT, [IPv6]:PORT or HOST
  bool udp = false;
  std::string device;   // --device, when declared here (see add_session_options)
  std::string account;
  std::optional<std::string> password;  // when declared here
  std::chrono::milliseconds timeout{10'000};
  std::chrono::milliseconds heartbeat{30'000};
  std::string bind;     // source address, HOST or HOST:PORT
};

struct SessionOptionSet {
  CLI::Option* server = nullptr;
  std::vector<CLI::Option*> others;  // the flags that mean nothing without --server
};

// Declares the options in `group`. `with_identity`: also --device and --password (m2m-send
// has them already among its frame flags, where they fill the frame as well).
SessionOptionSet add_session_options(CLI::App& app, SessionArgs& args, bool with_identity,
                                     const std::string& group = "Network");

// Who logs in, checked: the id forms parse_device() reads, the password forms of
// parse_password(); the error message names the flag (a usage error).
struct Identity {
  std::optional<std::uint64_t> device, account;
  std::optional<ai::Password> password;
  std::uint64_t login_id() const { return account ? *account : device.value_or(0); }
};
Result<Identity> check_identity(std::string_view device, std::string_view account,
                                const std::optional<std::string>& password);

}  // namespace m2m::cli
