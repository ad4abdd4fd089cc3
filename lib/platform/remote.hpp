// The other nodes of a cluster as the router sees them (m2m-server(1), CLUSTER): the smallest
// seam that lets one router reach devices and operators held by other m2m-server processes.
// lib/cluster implements it over NATS; in single-node mode there is none (the router holds a
// null pointer and no cluster code runs on any path).
//
// Every call happens on the loop's thread, and every callback (RelayDone, CommandDone) runs
// later on the loop's thread too, never inside the call that started it.
#pragma once

#include <cstdint>
#include <functional>

#include "core/bytes.hpp"
#include "platform/events.hpp"
#include "platform/registry.hpp"

namespace m2m::platform {

class Router;

// A device online on another node: what data.group_list and P2P introductions tell its group.
struct RemotePeer {
  Token token{};
  std::uint32_t udp_ip = 0;
  std::uint16_t udp_port = 0;
  bool udp_live = false;
};

class Remote {
 public:
  // nullptr once the frame was handed to the target's connection on its node, otherwise why
  // not ("offline", "send_failed", "cluster_unavailable", "cluster_timeout").
  using RelayDone = std::function<void(const char* refused)>;
  // The device's reply (status and body), or a refusal (status ignored, refused != nullptr).
  using CommandDone = std::function<void(std::uint8_t status, ByteView data, const char* refused)>;

  virtual ~Remote() = default;

  // Device `id` when another node holds it online, else nullptr.
  virtual const RemotePeer* find(std::uint64_t id) const = 0;
  // Why cross-node operations fail right now (the engine is unreachable), or nullptr.
  virtual const char* unavailable() const = 0;

  // A local device logged in (a new token), changed UDP endpoint, or went offline.
  virtual void presence(const DeviceState& d, bool online) = 0;
  // data.relay body (the sender as peer, the payload) for `target`, held by another node.
  virtual void relay(std::uint64_t target, ByteView body, RelayDone done) = 0;
  // An operator's request (class << 8 | command) for `target`, held by another node.
  virtual void command(std::uint64_t target, std::uint16_t command, ByteView data, CommandDone done) = 0;
  // The reply of a local device to a request that came from node `origin` (Router::remote_command).
  virtual void command_reply(std::uint32_t origin, std::uint32_t corr, std::uint8_t status, ByteView data) = 0;
  // An uplink or event of a local device, for the operators on other nodes.
  virtual void uplink(std::uint64_t device, std::uint8_t cls, std::uint8_t cmd, ByteView data) = 0;
  // P2P introduction of `about` (a peer record body) to `target`, held by another node; sent
  // over UDP by that node.
  virtual void introduce(std::uint64_t target, ByteView about) = 0;
  // An operator (client account) logged in here or left: the groups whose uplinks this node
  // wants from the others may have changed.
  virtual void operators_changed() {}
};

// A Remote that lives in the server's loop (Server::join): its threads hand what they receive
// over through a descriptor the loop watches; ready() and tick() run on the loop's thread.
class ClusterNode : public Remote {
 public:
  // Called once by Server::join, before fd() is watched.
  virtual void bind(Router& router, Registry& registry, EventLog& log) = 0;
  virtual int fd() const = 0;  // readable when ready() has work
  virtual void ready() = 0;
  virtual void tick() = 0;     // every loop tick (heartbeats, timeouts)
  // The loop handled a batch of events: send what they gave the node to publish.
  virtual void flush() {}
  // Adds the node's own counters to the server's stats line.
  virtual void stats(EventLog::Line& line) const = 0;
};

}  // namespace m2m::platform
