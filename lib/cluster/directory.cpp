#include "cluster/directory.hpp"

namespace m2m::cluster {

std::uint16_t Directory::node(const std::string& name, std::uint64_t now) {
  auto [it, fresh] = by_name_.try_emplace(name, static_cast<std::uint16_t>(nodes_.size()));
  if (fresh) nodes_.push_back(Node{name, 0, now, false, false});
  nodes_[it->second].last_seen = now;
  return it->second;
}

Directory::Seen Directory::heartbeat(const std::string& name, std::uint64_t instance, std::uint64_t now) {
  const bool known = by_name_.count(name) != 0;
  const bool was_alive = known && nodes_[by_name_[name]].alive;
  const std::uint16_t i = node(name, now);
  Node& n = nodes_[i];
  n.alive = true;
  Seen seen = Seen::known;
  if (!was_alive) {
    seen = Seen::joined;
  } else if (n.instance != 0 && n.instance != instance) {
    drop_node(i);
    seen = Seen::restarted;
  }
  n.instance = instance;
  return seen;
}

std::size_t Directory::alive_nodes() const {
  std::size_t n = 0;
  for (const Node& node : nodes_) n += node.alive;
  return n;
}

void Directory::up(std::uint16_t node, const Presence& p) {
  auto [it, fresh] = entries_.try_emplace(p.id, Entry{p.peer, p.since, node});
  if (!fresh) {
    if (it->second.node != node && it->second.since > p.since) return;
    it->second = Entry{p.peer, p.since, node};
  }
  nodes_[node].holds = true;
}

void Directory::down(std::uint16_t node, std::uint64_t id) {
  auto it = entries_.find(id);
  if (it != entries_.end() && it->second.node == node) entries_.erase(it);
}

std::size_t Directory::drop_node(std::uint16_t node) {
  std::size_t n = 0;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.node == node) {
      it = entries_.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  return n;
}

std::vector<std::uint16_t> Directory::expire(std::uint64_t now, std::uint64_t timeout) {
  std::vector<std::uint16_t> lost;
  for (std::uint16_t i = 0; i < nodes_.size(); ++i) {
    Node& n = nodes_[i];
    if ((n.alive || n.holds) && now - n.last_seen > timeout) {
      if (n.alive) lost.push_back(i);
      n.alive = false;
      n.instance = 0;
      if (n.holds) drop_node(i);
      n.holds = false;
    }
  }
  return lost;
}

void Directory::clear() {
  entries_.clear();
  for (Node& n : nodes_) n.alive = false, n.holds = false, n.instance = 0;
}

}  // namespace m2m::cluster
