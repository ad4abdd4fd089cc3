// The AI-Cloud platform on lib/net's event loop (net/loop.hpp): one single-threaded loop
// serving devices and platform clients on one TCP port and one UDP port (m2m-protocol(7)).
// The protocol logic is the Router (router.hpp); the loop owns sockets, send queues and time;
// this file is the glue: it deframes what the loop reads, is the router's Outbox and Clock,
// and keeps the policies (session limits, per-address caps, capacity events, stats, the
// registry file it follows).
//
// Memory design (the target is < 0.5 KiB per idle TCP device, < 256 B per UDP device):
//  * flat tables indexed by fd: the router's 16-byte Session, the loop's 9-byte slot (send
//    queue pointer, state) and this file's 8-byte partial-frame deframer pointer;
//  * a device's hot state lives in the registry's fixed record (registry.hpp);
//  * one shared read buffer (the loop's) and one shared deframer; a connection gets a
//    deframer of its own only while a frame is split across reads, and a send queue only
//    while the kernel's send buffer is full (bounded: over --max-send-queue the session is
//    closed, reason slow_reader);
//  * no per-connection timers: the loop's tick sweeps sessions whose last frame is older than
//    the heartbeat timeout.
// Closes are deferred to the end of the event (outbox.hpp, net/loop.hpp).
//
// Addresses: the server listens on one net::Address, IPv4 or IPv6 (an IPv6 address is
// dual-stack: [::] also serves IPv4 peers). The router keeps a peer's address in 32 bits
// (router.hpp, Session): IPv4 peers (also IPv4-mapped ones) are themselves; a native IPv6
// peer is known to the router by a key in 240.0.0.0/4 (reserved, never a real peer) made from
// its /64 prefix, so login throttling and --max-conns-per-ip apply per /64, and the router's
// events show that key as the peer. UDP device records stay IPv4 (registry.hpp keeps 6 bytes
// per device): a datagram from a native IPv6 source is dropped and counted in `drops`.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "m2m/deframer.hpp"
#include "net/endpoint.hpp"
#include "net/loop.hpp"
#include "net/socket.hpp"
#include "platform/events.hpp"
#include "platform/outbox.hpp"
#include "platform/registry_follower.hpp"
#include "platform/registry.hpp"
#include "platform/router.hpp"

namespace m2m::platform {


struct ServerOptions : RouterOptions {
  net::Address listen = net::Address::ipv4(0x7F000001, 8266);
  bool reuseport = false;
  std::chrono::milliseconds stats_interval{0};     // 0: no stats lines
  std::size_t max_send_queue = 64 * 1024;
  std::uint64_t max_tcp_sessions = 0;              // 0: what the file limit allows
  std::uint32_t max_conns_per_ip = 0;              // 0: no per-address cap
  EventFormat event_format = EventFormat::json;    // --format
};

class Server final : Outbox, Clock, net::Loop::Handler {
 public:
  explicit Server(Registry& registry, ServerOptions options);
  ~Server() override;

  // Follows the registry file (server_registry.cpp): what other processes commit takes effect
  // within a second, and platform.add_terminal is written there off the loop. Call after
  // open(); without it, devices clients add live until the server stops.
  Result<void> follow(const std::string& registry_path);
  // The same with another keeper of the registry (cluster mode: the bucket every node
  // follows): `start` gets the registry and the server's hooks and returns the follower.
  using FollowerStart = std::function<Result<std::unique_ptr<RegistryFollower>>(Registry&, RegistryFollower::Hooks)>;
  Result<void> follow(const FollowerStart& start);
  // Cluster mode (m2m-server(1), CLUSTER): `node` reaches the other processes; the router
  // consults it for targets not online here. Call after open(); `node` outlives the server.
  Result<void> join(ClusterNode& node);

  // Another part of the server in the same loop (the operations console, lib/web): it watches
  // descriptors of its own, is ticked with the server, and adds to the stats line. Every call
  // is on the loop's thread. Call after open(); `e` outlives the server's run().
  class Extension {
   public:
    virtual ~Extension() = default;
    virtual void ready(int fd, std::uint32_t events) = 0;
    virtual void tick() {}
    virtual void stats(EventLog::Line& line) const { (void)line; }
    virtual void shutdown() {}  // run() is ending: before the sessions close
  };
  Result<void> attach(Extension& e, const std::vector<int>& fds);
  Router& router() { return router_; }
  Registry& registry() { return reg_; }
  EventLog& log() { return log_; }
  std::uint64_t connections() const { return loop_.connections(); }
  unsigned long file_limit() const { return file_limit_; }
  std::uint64_t tcp_capacity() const { return capacity_; }
  // Registry writes of run-time additions (the file or the cluster's bucket), off the loop;
  // null before follow().
  TerminalStore* terminals() { return terminals_.get(); }

  // Binds the sockets and raises the file limit; the listening event is written by run().
  Result<void> open();
  // Serves until `stop` is requested (the caller does so from SIGINT/SIGTERM), then closes
  // every session (reason shutdown) and writes the last stats and shutdown lines; returns
  // the exit code (0, or 1 on a loop failure).
  int run(const net::Stop& stop);
  // Where it listens (after open(); the port the kernel chose for port 0).
  const net::Address& bound() const { return bound_; }

  const Counters& counters() const { return router_.counters(); }

 private:
  // Outbox, Clock
  const char* send_tcp(int fd, ByteView bytes) override;
  bool send_udp(const net::Endpoint& to, ByteView bytes) override;
  void close(int fd) override;
  std::uint32_t now_tick() const override;
  // net::Loop::Handler
  const char* accepted(int fd, int listener, const net::Address& from) override;
  void refused_file_limit(int listener) override;
  void received(int fd, ByteView bytes) override;
  void ended(int fd, const char* reason) override;
  void released(int fd) override;
  void datagram(int fd, const net::Address& from, ByteView bytes) override;
  void ready(int fd, std::uint32_t events) override;
  void tick() override;
  void batch_done() override;

  bool over_ip_cap(std::uint32_t ip);
  void capacity_event(const char* reason, const net::Address& from);
  void write_stats();
  // server_registry.cpp
  class Terminals;
  static std::unique_ptr<TerminalStore> make_terminals(Server& server);

  ServerOptions opt_;
  EventLog log_;
  std::unique_ptr<TerminalStore> terminals_;
  Router router_;
  net::Loop loop_;
  net::Address bound_;
  int udp_ = -1;                            // the loop owns the sockets
  std::vector<std::unique_ptr<ai::Deframer>> partial_;  // indexed by fd: only while a frame is split
  std::unordered_map<std::uint32_t, std::uint32_t> per_ip_;  // open connections per address (with a cap)
  std::uint64_t capacity_ = 0;              // TCP sessions the file limit allows
  unsigned long file_limit_ = 0;
  std::uint32_t capacity_second_ = 0xFFFFFFFF;  // one aggregated capacity event per second
  std::uint64_t capacity_refused_ = 0;          // refusals since the last capacity event
  const char* capacity_reason_ = "";
  net::Address capacity_peer_;
  std::uint32_t sweep_ticks_ = 0, next_sweep_ = 0, stats_ticks_ = 0, next_stats_ = 0;
  std::chrono::steady_clock::time_point start_;
  ai::Deframer scratch_;                    // shared while no frame is split
  Registry& reg_;
  ClusterNode* node_ = nullptr;             // cluster mode only
  std::vector<std::pair<int, Extension*>> watched_;  // descriptors of extensions
  std::vector<Extension*> extensions_;
  std::unique_ptr<RegistryFollower> live_;  // last: its thread stops first
};

}  // namespace m2m::platform
