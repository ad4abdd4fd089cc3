// m2m-server serve: the platform's options, checked, and the run.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "cli/cli_fwd.hpp"

#include "platform/server.hpp"

namespace m2m::server_tool {

struct ServeArgs {
  std::string db = "m2m.db";
  bool db_given = false;  // --db on the command line (not with --cluster: the registry is the bucket)
  std::string listen = "0.0.0.0:8266";
  std::uint64_t max_send_queue = 64 * 1024;
  std::uint64_t login_fail_limit = 10;
  std::uint64_t max_failed_logins = 1000;
  std::uint64_t max_tcp = 0;
  std::uint64_t max_conns_per_ip = 0;
  std::uint64_t max_terminals = 1000;
  std::string udp_trust = "same-ip";
  std::string format = "json";
  bool verbose = false;
  std::string cluster;   // nats://HOST:PORT; empty: a single node
  std::string node;      // default: the host name and process id
  std::chrono::milliseconds cluster_heartbeat{1000};
  std::string http;            // --http HOST:PORT: the console; empty: none
  bool http_secure_cookie = false;
  platform::ServerOptions opt;
};

// Declares the `serve` subcommand and its options on `app`.
void add_serve_command(CLI::App& app, ServeArgs& s);
// Checks the options, loads the registry and serves until SIGINT/SIGTERM; the exit code.
int serve(ServeArgs& a);

}  // namespace m2m::server_tool
