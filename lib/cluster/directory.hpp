// Which other node holds which online device, with the token and UDP endpoint its group sees
// (m2m-server(1), CLUSTER). Fed by the nodes' presence messages and snapshots (wire.hpp);
// a node that stops sending heartbeats for the timeout is lost, and what it held with it.
// No I/O, no clock of its own: the caller passes time in milliseconds.
//
// Memory: one hash-map entry per device online on another node (a 32-byte value; 64-79 bytes
// measured with the map's node and bucket); nothing per device held by this node.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "cluster/wire.hpp"

namespace m2m::cluster {

class Directory {
 public:
  struct Entry {
    platform::RemotePeer peer;
    std::uint64_t since;  // the login's wall-clock time: an older login elsewhere never replaces it
    std::uint16_t node;
  };
  struct Node {
    std::string name;
    std::uint64_t instance = 0;
    std::uint64_t last_seen = 0;  // ms
    bool alive = false;   // heard a heartbeat within the timeout
    bool holds = false;   // may hold entries
  };
  enum class Seen { known, joined, restarted };

  // A heartbeat: `joined` for a node not alive before (new, or back after being lost),
  // `restarted` for a new instance under a known name (what it held is dropped).
  Seen heartbeat(const std::string& name, std::uint64_t instance, std::uint64_t now);
  // The node's index (created when new). Only heartbeats make a node alive: one heard of
  // otherwise first (a presence message) is learnt in full when its heartbeat comes (joined).
  std::uint16_t node(const std::string& name, std::uint64_t now);
  const Node& node_at(std::uint16_t i) const { return nodes_[i]; }
  std::size_t node_count() const { return nodes_.size(); }
  std::size_t alive_nodes() const;

  // `node` holds p.id. A presence about an older login than the one known from another node
  // is stale (a snapshot taken before the device moved on) and is ignored.
  void up(std::uint16_t node, const Presence& p);
  // Drops `id` only when `node` is who holds it (a late logout of a device that moved on).
  void down(std::uint16_t node, std::uint64_t id);
  // Drops everything `node` held (a snapshot that replaces it, a lost node). Returns how many.
  std::size_t drop_node(std::uint16_t node);
  // Nodes silent for `timeout` ms: marked lost, their entries dropped; the indexes of those
  // that were alive are returned.
  std::vector<std::uint16_t> expire(std::uint64_t now, std::uint64_t timeout);
  // Forget every other node (this node lost the engine: it learns them again on return).
  void clear();

  const Entry* find(std::uint64_t id) const {
    auto it = entries_.find(id);
    return it == entries_.end() ? nullptr : &it->second;
  }
  std::size_t size() const { return entries_.size(); }

 private:
  std::vector<Node> nodes_;
  std::unordered_map<std::string, std::uint16_t> by_name_;
  std::unordered_map<std::uint64_t, Entry> entries_;
};

}  // namespace m2m::cluster
