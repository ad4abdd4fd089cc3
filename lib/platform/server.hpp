// The AI-Cloud platform's event loop: one single-threaded epoll loop serving devices and
// platform clients on one TCP port and one UDP port (m2m-protocol(7)). The protocol logic is
// the Router (router.hpp); this file owns sockets, buffers and time, and is the router's
// Outbox and Clock.
//
// Memory design (the target is < 0.5 KiB per idle TCP device, < 256 B per UDP device):
//  * flat tables indexed by fd: the router's 16-byte Session and the loop's 16-byte Conn;
//  * a device's hot state lives in the registry's fixed record (registry.hpp);
//  * one shared read buffer and one shared deframer; a connection gets a deframer of its own
//    only while a frame is split across reads, and a send queue only while the kernel's send
//    buffer is full (bounded: over --max-send-queue the session is closed, reason slow_reader);
//  * no per-connection timers: one sweep every tick closes sessions whose last frame is older
//    than the heartbeat timeout.
// Closes are deferred to the end of the event (outbox.hpp).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "m2m/deframer.hpp"
#include "net/endpoint.hpp"
#include "net/socket.hpp"
#include "platform/events.hpp"
#include "platform/outbox.hpp"
#include "platform/registry.hpp"
#include "platform/router.hpp"

namespace m2m::platform {

class LiveRegistry;

struct ServerOptions : RouterOptions {
  net::Endpoint listen{0x7F000001, 8266};
  bool reuseport = false;
  std::chrono::milliseconds stats_interval{0};     // 0: no stats lines
  std::size_t max_send_queue = 64 * 1024;
  std::uint64_t max_tcp_sessions = 0;              // 0: what the file limit allows
  std::uint32_t max_conns_per_ip = 0;              // 0: no per-address cap
};

class Server final : Outbox, Clock {
 public:
  explicit Server(Registry& registry, ServerOptions options);
  ~Server() override;

  // Follows the registry file (server_registry.cpp): what other processes commit takes effect
  // within a second, and platform.add_terminal is written there off the loop. Call after
  // open(); without it, devices clients add live until the server stops.
  Result<void> follow(const std::string& registry_path);

  // Binds the sockets and raises the file limit; the listening event is written by run().
  Result<void> open();
  // Serves until `stop` becomes true (the caller sets it from SIGINT/SIGTERM); returns the
  // exit code (0, or 1 on a loop failure).
  int run(const std::atomic<bool>& stop);

  const Counters& counters() const { return router_.counters(); }

 private:
  struct Conn {
    std::unique_ptr<ai::Deframer> partial;  // only while a frame is split across reads
    std::unique_ptr<Bytes> out;             // only while the kernel send buffer is full
  };

  // Outbox, Clock
  const char* send_tcp(int fd, ByteView bytes) override;
  bool send_udp(const net::Endpoint& to, ByteView bytes) override;
  void close(int fd) override;
  std::uint32_t now_tick() const override;

  void accept_ready();
  void udp_ready();
  void conn_readable(int fd);
  void conn_writable(int fd);
  void release_closed();  // the end of an event: free what the router closed during it
  bool over_ip_cap(std::uint32_t ip);
  void capacity_event(const char* reason, const net::Endpoint& from);
  void write_stats();
  // server_registry.cpp
  class Terminals;
  static std::unique_ptr<TerminalStore> make_terminals(Server& server);
  int registry_fd() const;
  void registry_ready();

  ServerOptions opt_;
  EventLog log_;
  std::unique_ptr<TerminalStore> terminals_;
  Router router_;
  net::Fd epoll_, tcp_, udp_, reserve_;
  net::Endpoint bound_;
  std::vector<Conn> conns_;                 // indexed by fd
  std::vector<int> closing_;                // closed during the current event
  std::unordered_map<std::uint32_t, std::uint32_t> per_ip_;  // open connections per address (with a cap)
  std::uint64_t capacity_ = 0;              // TCP sessions the file limit allows
  unsigned long file_limit_ = 0;
  std::uint64_t open_conns_ = 0;
  std::uint32_t capacity_second_ = 0xFFFFFFFF;  // one aggregated capacity event per second
  std::uint64_t capacity_refused_ = 0;          // refusals since the last capacity event
  const char* capacity_reason_ = "";
  net::Endpoint capacity_peer_;
  std::chrono::steady_clock::time_point start_;
  ai::Deframer scratch_;                    // shared while no frame is split
  Bytes rx_;                                // shared read buffer
  Registry& reg_;
  std::unique_ptr<LiveRegistry> live_;      // last: its writer thread stops first
};

}  // namespace m2m::platform
