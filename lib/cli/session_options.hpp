// The network session options of every client program, declared once (issue 7 item 6):
// --server, --udp, --device/--account, --password, --password-file, --timeout, --heartbeat,
// --bind. m2m-send uses them today; m2m-simdevice and m2m-loadtest take the same flags with
// the same words.
//
// Credentials stay off the command line (issue 15, as mosquitto's clients do): the password
// comes from --password, else --password-file FILE, else M2M_PASSWORD; M2M_SERVER, M2M_DEVICE
// and M2M_ACCOUNT fill --server, --device and --account when those flags are not given. A flag
// always wins over the environment; apply_environment() is the one place that decides.
//
// Addresses stay text here: lib/net's parse_host_port reads --server and --bind (lib/cli and
// lib/net are one layer and do not include each other).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cli/cli_fwd.hpp"

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
  std::string password_file;  // --password-file: the password is its first line
  // Where the password came from, for messages ("--password", "--password-file F",
  // "M2M_PASSWORD"); empty when there is none.
  std::string password_source;
};

struct SessionOptionSet {
  CLI::Option* server = nullptr;
  std::vector<CLI::Option*> others;  // the flags that mean nothing without --server
  CLI::Option* password_file = nullptr;  // --password-file (also means nothing without --server)
};

// Declares the options in `group`. `with_identity`: also --device and --password (m2m-send
// has them already among its frame flags, where they fill the frame as well).
SessionOptionSet add_session_options(CLI::App& app, SessionArgs& args, bool with_identity,
                                     const std::string& group = "Network");

// The environment variables of the session options.
inline constexpr const char* kEnvServer = "M2M_SERVER";
inline constexpr const char* kEnvDevice = "M2M_DEVICE";
inline constexpr const char* kEnvAccount = "M2M_ACCOUNT";
inline constexpr const char* kEnvPassword = "M2M_PASSWORD";

// Reads a variable; tests pass their own. The default is std::getenv; an empty value counts
// as unset.
using EnvLookup = std::function<const char*(const char*)>;
const char* env_value(const char* name, const EnvLookup& lookup = {});

// Fills what the command line left empty, each flag from its own variable (a flag given wins):
// server <- M2M_SERVER, device <- M2M_DEVICE, account <- M2M_ACCOUNT (with an account the
// device is the one the frames are meant for, as with the flags); password <- --password-file
// (its first line, without the line end), else M2M_PASSWORD. --password with --password-file
// is an error; so is a file that cannot be read or is empty (the message names it). Sets
// password_source.
Result<void> apply_environment(SessionArgs& args, const EnvLookup& lookup = {});

// Who logs in, checked: the id forms parse_device() reads, the password forms of
// parse_password(); the error message names the flag (a usage error).
struct Identity {
  std::optional<std::uint64_t> device, account;
  std::optional<ai::Password> password;
  std::uint64_t login_id() const { return account ? *account : device.value_or(0); }
};
// `password_source` names where the password came from in messages (default "--password").
Result<Identity> check_identity(std::string_view device, std::string_view account,
                                const std::optional<std::string>& password, std::string_view password_source = {});

}  // namespace m2m::cli
