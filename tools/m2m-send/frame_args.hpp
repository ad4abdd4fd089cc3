// The frame-building flags of m2m-send. Each flag is a member of the JSON frame object of
// json.hpp (header members, or a body field of the same name), so flags, --body, --json and
// JSON Lines on stdin all reach the one builder, ai::frame_from_json.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/cli.hpp"
#include "cli/cli_fwd.hpp"
#include "cli/session_options.hpp"
#include "core/error.hpp"

namespace m2m::send {

struct FrameArgs {
  std::string type;  // positional: catalogue name or CLASS:CMD in hex ("F0:99")
  std::optional<std::string> json, body, data, token, device, status, seq, ext;
  std::vector<std::pair<std::string, std::string>> body_fields;  // (key, text as given), in order
  // --device-password: the body's "password" (platform.add_terminal) under a flag of its own,
  // because with --server --password is the session's login password (issue 15).
  std::optional<std::string> device_password;

  bool any() const;  // was any frame-building flag or the TYPE given?
  bool has_body_field(std::string_view key) const;
};

void add_frame_options(CLI::App& app, FrameArgs& args);

// The JSON frame object the flags describe. `password_in_body` false keeps --password out of
// the body (network mode, where it is the session's login password, unless the frame is a login).
Result<nlohmann::json> frame_json(const FrameArgs& args, bool password_in_body = true);

// With --server, --device and --password are frame flags that also name the session's login:
// copies them into `session`, lets the environment fill the rest (cli::apply_environment), and
// hands back what it filled (M2M_DEVICE as the header device, the password as a login frame's).
Result<void> share_identity(FrameArgs& args, cli::SessionArgs& session);

// "7", "0x1F" -> number; anything else is an error naming `what`.
Result<std::uint64_t> parse_number(std::string_view s, std::string_view what);
// A frame JSON object's class/cmd, from "type" or "class"/"cmd" (for deciding login etc.).
std::optional<std::pair<std::uint8_t, std::uint8_t>> class_cmd_of(const nlohmann::json& j);

}  // namespace m2m::send
