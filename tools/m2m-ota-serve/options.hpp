// m2m-ota-serve's options (m2m-ota-serve(1)).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "cli/cli_fwd.hpp"
#include "m2m/messages.hpp"
#include "platform/ota.hpp"
#include "platform/ota_server.hpp"

namespace m2m::ota_serve {

struct Args {
  std::string firmware, name, listen = "127.0.0.1:8266", db, devices, devices_file;
  bool accept_any = false, until_done = false;
  std::uint64_t frame_size = 0, max_parallel = 0, abort_after = 0;
  platform::ota::CampaignOptions co;
  std::chrono::milliseconds timeout{0};
  std::optional<std::string> checksum;
};

void add_options(CLI::App& app, Args& a);
// The server's options from the arguments; -1 to go on, or the exit code after saying why.
int server_options(const Args& a, platform::ota::ServerOptions& so);
int usage_error(const std::string& message);  // the message, the --help hint; returns 2
// The devices to update (--devices, --devices-file, or every enabled one of --db) and the
// registry's passwords; -1 to go on, or the exit code after saying why.
int load_targets(const Args& a, std::vector<std::uint64_t>& targets,
                 std::unordered_map<std::uint64_t, ai::Password>& passwords);

}  // namespace m2m::ota_serve
