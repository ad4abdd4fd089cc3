// What m2m-server nodes say to each other over NATS (m2m-server(1), CLUSTER). Subjects:
//   m2m.all          every node subscribes: heartbeats, presence (up/down), snapshots sent to
//                    all;
//   m2m.node.NAME    one node's own subject: relays, operator commands, their answers,
//                    snapshots sent to it, P2P introductions;
//   m2m.up.GROUP     uplinks and events of a group's devices (GROUP: the name's bytes in hex).
//                    A node subscribes while it holds an operator who sees the group (m2m.up.>
//                    while it holds one who sees all), so NATS's interest routing carries an
//                    uplink only to nodes that have someone to give it to.
// A message is one binary record: op (1 byte), the sender's node name (length byte + bytes),
// its number (u64: the sender counts what it publishes), then the op's fields, little-endian.
// NATS keeps one sender's messages in order across subjects on the way to a receiver, but a
// receiver's two subscriptions (m2m.all, its own) are two queues: the numbers put them back in
// the sender's order (a snapshot sent to one node must not overtake, or be overtaken by, the
// presences broadcast before or after it). A message that does not parse is dropped and counted
// (a node never trusts another's bytes more than a device's).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.hpp"
#include "platform/remote.hpp"

namespace m2m::cluster {

enum class Op : std::uint8_t {
  heartbeat = 1,      // instance u64, online devices u32
  up = 2,             // one Presence
  down = 3,           // device id u64
  snapshot = 4,       // flags u8 (1: replace what you hold of me, 2: send me yours), count u32, Presences
  relay = 5,          // corr u32, target u64, body (rest)
  relay_ack = 6,      // corr u32, refused (length byte + text; empty: ok)
  command = 7,        // corr u32, target u64, command u16, data (rest)
  command_reply = 8,  // corr u32, status u8, refused (length byte + text), data (rest)
  uplink = 9,         // device u64, cls u8, cmd u8, data (rest)
  introduce = 10,     // target u64, peer record (rest)
};

inline constexpr std::uint8_t kSnapshotReplace = 1, kSnapshotAnswer = 2;

struct Presence {
  std::uint64_t id = 0;
  platform::RemotePeer peer;
  std::uint64_t since = 0;  // the login's wall-clock time (µs since 1970): the later login wins
};
inline constexpr std::size_t kPresenceSize = 8 + 8 + 4 + 2 + 1 + 8;

struct Message {
  Op op{};
  std::string node;        // the sender
  std::uint64_t seq = 0;   // the sender's publication number (Cluster::publish stamps it)
  std::uint64_t instance = 0;
  std::uint32_t count = 0;  // heartbeat: online devices
  std::uint8_t flags = 0;
  std::vector<Presence> presences;  // up (one), snapshot
  std::uint64_t id = 0;    // down, relay/command/introduce target, uplink device
  std::uint32_t corr = 0;
  std::uint16_t command = 0;
  std::uint8_t status = 0, cls = 0, cmd = 0;
  std::string refused;     // relay_ack, command_reply: empty when ok
  Bytes data;              // relay body, command data, reply data, uplink data, peer record
};

Bytes encode(const Message& m);
std::optional<Message> decode(ByteView b);

// The messages of a receiver's two queues (each in arrival order) merged so that every
// sender's messages come in the order it published them (Message::seq).
std::vector<const Message*> in_sender_order(const std::vector<Message>& a, const std::vector<Message>& b);

// Subjects.
inline constexpr const char* kAllSubject = "m2m.all";
std::string node_subject(const std::string& node);
std::string uplink_subject(std::string_view group);
inline constexpr const char* kUplinkAllSubject = "m2m.up.>";
// A node name is what a subject token may hold: letters, digits, '-' and '_', 1 to 64 of them.
bool valid_node_name(const std::string& name);

}  // namespace m2m::cluster
