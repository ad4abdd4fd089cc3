// m2m-server as one node of a cluster on NATS (m2m-server(1), CLUSTER; docs/SCALING.md): the
// router's Remote (platform/remote.hpp) over a NATS connection.
//
// Threads: the connection's socket is read and written on the server's loop (nats.c's
// event-loop mode): the node's own epoll instance holds that socket and an eventfd, the loop
// watches the instance, and ready() reads, parses and handles the node's two subscriptions
// (all nodes', this node's) in place, so a cross-node request costs no thread hand-over.
// nats.c keeps its timer thread (pings), its reconnect thread and the connection-event thread,
// and the uplink subscriptions keep their delivery threads (uplinks to operators are not on
// the relay's path); their callbacks copy into a queue and make the eventfd readable. The
// router and the directory are only ever touched by the loop (docs/ARCHITECTURE.md, "Cluster
// mode").
//
// Faults: a node silent for the timeout (default 3 heartbeats) is lost and what it held
// vanishes from the directory; while the engine is unreachable, cross-node operations fail
// at once with "cluster_unavailable" and local traffic goes on; on return the nodes exchange
// snapshots. Each transition is an event ("cluster", "cluster_node").
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cluster/directory.hpp"
#include "cluster/wire.hpp"
#include "core/error.hpp"
#include "platform/remote.hpp"

struct __natsConnection;
struct __natsSubscription;
struct __natsMsg;

namespace m2m::platform {
class Router;
class EventLog;
class Registry;
}  // namespace m2m::platform

namespace m2m::cluster {

struct ClusterOptions {
  std::string url;                                   // nats://HOST:PORT
  std::string node;                                  // this node's name (valid_node_name)
  std::chrono::milliseconds heartbeat{1000};         // how often this node says it is alive
  std::chrono::milliseconds timeout{0};              // a node silent this long is lost; 0: 3 x heartbeat
  std::chrono::milliseconds request_timeout{2000};   // a relay's answer from the target's node
  std::chrono::milliseconds route_timeout{30000};    // an operator request's reply
  std::chrono::milliseconds connect_timeout{2000};   // the first connection to the engine
};

struct ClusterCounters {
  std::uint64_t sent = 0, received = 0, bad = 0, dropped = 0, relays_out = 0, relays_in = 0, timeouts = 0;
  std::uint64_t uplinks_out = 0, uplinks_in = 0;  // uplinks and events published / received
};

class Cluster final : public platform::ClusterNode {
 public:
  // Connects (bounded by connect_timeout) and subscribes; an error says what to do.
  static Result<std::unique_ptr<Cluster>> connect(const ClusterOptions& options);
  ~Cluster() override;
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // platform::ClusterNode
  void bind(platform::Router& router, platform::Registry& registry, platform::EventLog& log) override;
  int fd() const override { return ep_; }
  void ready() override;
  void tick() override;
  void flush() override { flush_due(); }
  // platform::Remote
  const platform::RemotePeer* find(std::uint64_t id) const override;
  const char* unavailable() const override;
  void presence(const platform::DeviceState& d, bool online) override;
  void relay(std::uint64_t target, ByteView body, RelayDone done) override;
  void command(std::uint64_t target, std::uint16_t command, ByteView data, CommandDone done) override;
  void command_reply(std::uint32_t origin, std::uint32_t corr, std::uint8_t status, ByteView data) override;
  void uplink(std::uint64_t device, std::uint8_t cls, std::uint8_t cmd, ByteView data) override;
  void introduce(std::uint64_t target, ByteView about) override;
  void operators_changed() override;
  void stats(platform::EventLog::Line& line) const override;

  const Directory& directory() const { return dir_; }
  const ClusterCounters& counters() const { return counters_; }

  // nats.c's callbacks (its threads): queue and wake the loop. Public for the C trampolines.
  enum class Note : std::uint8_t { message, disconnected, reconnected, closed };
  void post(Note note, const void* data, std::size_t size);
  // nats.c's event-loop callbacks (any of its threads, or the loop's): the socket's place in
  // the node's epoll instance. Public for the C trampolines; 0 is NATS_OK.
  int io_attach(int fd);
  int io_interest(bool write, bool add);
  void io_detach();

 private:
  explicit Cluster(const ClusterOptions& options);
  struct Item {
    Note note;
    Bytes data;
  };
  struct Pending {
    std::uint16_t node;
    std::uint64_t deadline;  // ms
    RelayDone relay;         // one of the two
    CommandDone command;
  };

  std::uint64_t now_ms() const;
  bool publish(const std::string& subject, Message& m);  // stamps m.seq
  Message message(Op op) const;
  void handle(const Message& m);
  void send_snapshot(const std::string& subject, std::uint8_t flags);
  void heartbeat();
  void node_lost(std::uint16_t node, const char* why);
  // Another node holds `p` since p.since: a session here ends ("moved") unless it is the later.
  void held_elsewhere(std::uint16_t node, const Presence& p);
  Presence local(const platform::DeviceState& d);
  void fail_pending(std::uint16_t node, const char* why);  // node 0xFFFF: all
  void connection(Note note);
  // Subscribes to the uplink subjects of the groups the operators logged in here see, and
  // drops the others (m2m.up.> alone while one of them sees every group).
  void reconcile_interest();
  std::uint32_t add_pending(std::uint16_t node, std::uint64_t timeout_ms, RelayDone relay, CommandDone command);
  // The socket's ready events (waiting up to `wait_ms`) handed to nats.c; true when the
  // eventfd is readable too (nats.c's threads queued something).
  bool pump(int wait_ms);
  // Writes what calls of ours on the loop's thread left in nats.c's buffer (write_due_; at
  // the end of each batch of the loop's events: one write for all the batch published),
  // asking epoll for writability only if the kernel did not take it all.
  void flush_due();
  void drain_subscriptions();
  void update_epoll();  // io_mu_ held

  ClusterOptions opt_;
  __natsConnection* nc_ = nullptr;
  std::vector<__natsSubscription*> subs_;  // synchronous: drained by ready() on the loop's thread
  std::unordered_map<std::string, __natsSubscription*> interest_;  // uplink subject -> subscription
  std::uint64_t next_interest_ = 0;                                // ms: the next reconciliation
  int event_fd_ = -1;
  int ep_ = -1;                 // epoll: the engine's socket and event_fd_; watched by the loop
  std::mutex io_mu_;            // the socket's registration (nats.c's threads change it too)
  int sock_ = -1;               // guarded by io_mu_
  bool want_read_ = false, want_write_ = false, registered_ = false;  // guarded by io_mu_
  bool write_due_ = false;      // the loop's thread asked for a write: flush_due() does it
  std::thread::id loop_thread_; // the thread that connected: the server's loop
  std::mutex mu_;
  std::vector<Item> queue_;  // guarded by mu_
  std::atomic<bool> connected_{false};
  std::uint64_t instance_ = 0;
  std::string own_subject_;

  // The loop's side.
  platform::Router* router_ = nullptr;
  platform::Registry* reg_ = nullptr;
  platform::EventLog* log_ = nullptr;
  Directory dir_;
  std::unordered_map<std::uint32_t, Pending> pending_;
  struct Login {
    platform::Token token;
    std::uint64_t since;  // wall-clock µs
  };
  // Devices logged in here: when (the tie-break of one session per device; ~48 B each).
  std::unordered_map<std::uint64_t, Login> logins_;
  std::uint32_t next_corr_ = 1;
  std::uint64_t published_ = 0;  // Message::seq of the last publication
  std::uint64_t next_heartbeat_ = 0, next_expiry_ = 0;
  bool engine_up_ = true;  // the loop's view of connected_ (transitions become events)
  ClusterCounters counters_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace m2m::cluster
