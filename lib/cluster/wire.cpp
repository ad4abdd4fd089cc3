#include "cluster/wire.hpp"

#include <cstring>
#include <deque>
#include <string_view>
#include <unordered_map>

namespace m2m::cluster {

namespace {
class Writer {
 public:
  explicit Writer(Bytes& b) : b_(b) {}
  void u8(std::uint8_t v) { b_.push_back(v); }
  void u16(std::uint16_t v) { le(v, 2); }
  void u32(std::uint32_t v) { le(v, 4); }
  void u64(std::uint64_t v) { le(v, 8); }
  void text(const std::string& s) {  // at most 255 bytes
    const std::size_t n = std::min<std::size_t>(s.size(), 255);
    u8(static_cast<std::uint8_t>(n));
    b_.insert(b_.end(), s.begin(), s.begin() + static_cast<std::ptrdiff_t>(n));
  }
  void rest(const Bytes& d) { b_.insert(b_.end(), d.begin(), d.end()); }
  void presence(const Presence& p) {
    u64(p.id);
    b_.insert(b_.end(), p.peer.token.begin(), p.peer.token.end());
    u32(p.peer.udp_ip);
    u16(p.peer.udp_port);
    u8(p.peer.udp_live ? 1 : 0);
    u64(p.since);
  }

 private:
  void le(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  Bytes& b_;
};

class Reader {
 public:
  explicit Reader(ByteView b) : b_(b) {}
  bool ok() const { return ok_; }
  std::size_t left() const { return ok_ ? b_.size() - at_ : 0; }
  std::uint8_t u8() { return static_cast<std::uint8_t>(le(1)); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(le(2)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(le(4)); }
  std::uint64_t u64() { return le(8); }
  std::string text() {
    const std::size_t n = u8();
    if (!need(n)) return {};
    std::string s(reinterpret_cast<const char*>(b_.data() + at_), n);
    at_ += n;
    return s;
  }
  Bytes rest() {
    if (!ok_) return {};
    Bytes d(b_.begin() + static_cast<std::ptrdiff_t>(at_), b_.end());
    at_ = b_.size();
    return d;
  }
  Presence presence() {
    Presence p;
    p.id = u64();
    if (need(8)) {
      std::memcpy(p.peer.token.data(), b_.data() + at_, 8);
      at_ += 8;
    }
    p.peer.udp_ip = u32();
    p.peer.udp_port = u16();
    p.peer.udp_live = u8() != 0;
    p.since = u64();
    return p;
  }

 private:
  bool need(std::size_t n) {
    if (!ok_ || b_.size() - at_ < n) ok_ = false;
    return ok_;
  }
  std::uint64_t le(int n) {
    if (!need(static_cast<std::size_t>(n))) return 0;
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(b_[at_ + static_cast<std::size_t>(i)]) << (8 * i);
    at_ += static_cast<std::size_t>(n);
    return v;
  }
  ByteView b_;
  std::size_t at_ = 0;
  bool ok_ = true;
};
}  // namespace

Bytes encode(const Message& m) {
  Bytes b;
  b.reserve(32 + m.data.size() + m.presences.size() * kPresenceSize);
  Writer w(b);
  w.u8(static_cast<std::uint8_t>(m.op));
  w.text(m.node);
  w.u64(m.seq);
  switch (m.op) {
    case Op::heartbeat:
      w.u64(m.instance);
      w.u32(m.count);
      break;
    case Op::up:
      w.presence(m.presences.empty() ? Presence{} : m.presences.front());
      break;
    case Op::down:
      w.u64(m.id);
      break;
    case Op::snapshot:
      w.u8(m.flags);
      w.u32(static_cast<std::uint32_t>(m.presences.size()));
      for (const Presence& p : m.presences) w.presence(p);
      break;
    case Op::relay:
      w.u32(m.corr);
      w.u64(m.id);
      w.rest(m.data);
      break;
    case Op::relay_ack:
      w.u32(m.corr);
      w.text(m.refused);
      break;
    case Op::command:
      w.u32(m.corr);
      w.u64(m.id);
      w.u16(m.command);
      w.rest(m.data);
      break;
    case Op::command_reply:
      w.u32(m.corr);
      w.u8(m.status);
      w.text(m.refused);
      w.rest(m.data);
      break;
    case Op::uplink:
      w.u64(m.id);
      w.u8(m.cls);
      w.u8(m.cmd);
      w.rest(m.data);
      break;
    case Op::introduce:
      w.u64(m.id);
      w.rest(m.data);
      break;
  }
  return b;
}

std::optional<Message> decode(ByteView b) {
  Reader r(b);
  Message m;
  const std::uint8_t op = r.u8();
  m.op = static_cast<Op>(op);
  m.node = r.text();
  m.seq = r.u64();
  if (!r.ok() || m.node.empty()) return std::nullopt;
  switch (m.op) {
    case Op::heartbeat:
      m.instance = r.u64();
      m.count = r.u32();
      break;
    case Op::up:
      m.presences.push_back(r.presence());
      break;
    case Op::down:
      m.id = r.u64();
      break;
    case Op::snapshot: {
      m.flags = r.u8();
      const std::uint32_t n = r.u32();
      if (!r.ok() || r.left() != static_cast<std::size_t>(n) * kPresenceSize) return std::nullopt;
      m.presences.reserve(n);
      for (std::uint32_t i = 0; i < n; ++i) m.presences.push_back(r.presence());
      break;
    }
    case Op::relay:
      m.corr = r.u32();
      m.id = r.u64();
      m.data = r.rest();
      break;
    case Op::relay_ack:
      m.corr = r.u32();
      m.refused = r.text();
      break;
    case Op::command:
      m.corr = r.u32();
      m.id = r.u64();
      m.command = r.u16();
      m.data = r.rest();
      break;
    case Op::command_reply:
      m.corr = r.u32();
      m.status = r.u8();
      m.refused = r.text();
      m.data = r.rest();
      break;
    case Op::uplink:
      m.id = r.u64();
      m.cls = r.u8();
      m.cmd = r.u8();
      m.data = r.rest();
      break;
    case Op::introduce:
      m.id = r.u64();
      m.data = r.rest();
      break;
    default:
      return std::nullopt;
  }
  if (!r.ok() || r.left() != 0) return std::nullopt;
  return m;
}

std::vector<const Message*> in_sender_order(const std::vector<Message>& a, const std::vector<Message>& b) {
  std::vector<const Message*> out;
  out.reserve(a.size() + b.size());
  const std::vector<Message>* q[2] = {&a, &b};
  if (a.empty() || b.empty()) {
    for (const auto* queue : q)
      for (const Message& m : *queue) out.push_back(&m);
    return out;
  }
  // The head of one queue waits while the other still holds an earlier message of the same
  // sender. Of the two heads, the one that arrived first never waits, so this always moves.
  std::unordered_map<std::string_view, std::deque<std::size_t>> at_sender[2];
  for (int s = 0; s < 2; ++s)
    for (std::size_t i = 0; i < q[s]->size(); ++i) at_sender[s][(*q[s])[i].node].push_back(i);
  std::size_t next[2] = {0, 0};
  auto waits = [&](int s) {
    const Message& head = (*q[s])[next[s]];
    auto it = at_sender[1 - s].find(head.node);
    return it != at_sender[1 - s].end() && !it->second.empty() && (*q[1 - s])[it->second.front()].seq < head.seq;
  };
  while (next[0] < a.size() || next[1] < b.size()) {
    const int s = next[0] == a.size() ? 1 : next[1] == b.size() ? 0 : waits(0) ? 1 : 0;
    const Message& m = (*q[s])[next[s]++];
    at_sender[s][m.node].pop_front();
    out.push_back(&m);
  }
  return out;
}

std::string node_subject(const std::string& node) { return "m2m.node." + node; }

std::string uplink_subject(std::string_view group) {
  // A group name may hold '.', '*', '>' or spaces, which a subject token may not: hex digits.
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s = "m2m.up.";
  for (unsigned char c : group) {
    s += kHex[c >> 4];
    s += kHex[c & 15];
  }
  return s;
}

bool valid_node_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
      return false;
  return true;
}

}  // namespace m2m::cluster
