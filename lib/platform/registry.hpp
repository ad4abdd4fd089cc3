// The server's in-memory registry: every registered device, group and client account, with
// the live state of each beside it. A device's whole hot state is one fixed 48-byte record
// allocated at load time, so a device logging in (over TCP or UDP) costs no allocation here;
// the lookup index is an open-addressing table of 4-byte slots.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "m2m/messages.hpp"
#include "platform/records.hpp"

namespace m2m::platform {

using Token = std::array<std::uint8_t, 8>;
inline constexpr std::uint32_t kNone = 0xFFFFFFFFu;

struct DeviceState {
  std::uint64_t id = 0;
  ai::Password password{};
  Token token{};                // valid while logged_in
  std::uint32_t group = 0;
  std::int32_t fd = -1;         // TCP session, or -1
  std::uint32_t udp_ip = 0;     // last UDP source (host order); valid while udp_live
  std::uint16_t udp_port = 0;
  bool enabled = true;
  bool logged_in = false;       // has a token (TCP session or live UDP presence)
  bool udp_live = false;        // a UDP frame with the token arrived within the timeout
  bool removed = false;         // deleted from the registry file while serving (see remove_device)
  std::uint32_t udp_seen = 0;   // tick of that frame

  bool online() const { return fd >= 0 || udp_live; }
};

struct Group {
  std::string name;
  std::vector<std::uint32_t> members;  // device indexes, sorted by device id
};

struct AccountState {
  std::uint64_t id = 0;
  std::string name;
  ai::Password password{};
  bool enabled = true;
  bool all_groups = false;
  std::vector<std::uint32_t> groups;  // group indexes, when !all_groups
  std::uint32_t first_group = kNone;  // where platform.add_terminal registers devices
  Token token{};
  std::int32_t fd = -1;               // logged-in client session, or -1
  std::uint16_t next_seq = 1;
  bool removed = false;               // deleted from the registry file while serving
};

class Registry {
 public:
  // Adds (or updates, same id) a device; returns its index. Keeps group member lists sorted.
  // A removed device with this id comes back under its old index.
  std::uint32_t put_device(const DeviceRecord& d);
  std::uint32_t find_device(std::uint64_t id) const;  // kNone when unknown or removed
  // Removal while serving keeps the record as a tombstone: indexes held by sessions, routes
  // and the lookup table stay valid, and the id answers as unknown. The caller ends the
  // device's sessions (the record still holds its fd and UDP presence for that).
  void remove_device(std::uint32_t index);
  std::uint32_t find_device_any(std::uint64_t id) const;  // including removed ones
  std::uint32_t group_index(const std::string& name);  // creates the group when new
  std::uint32_t put_account(const AccountRecord& a);   // keeps a logged-in client's session
  std::uint32_t find_account(std::uint64_t id) const;  // kNone when unknown or removed
  void remove_account(std::uint32_t index);             // tombstone, as for devices
  std::uint32_t find_account_any(std::uint64_t id) const;

  bool can_see(const AccountState& a, std::uint32_t group) const;

  std::vector<DeviceState>& devices() { return devices_; }
  const std::vector<DeviceState>& devices() const { return devices_; }
  DeviceState& device(std::uint32_t i) { return devices_[i]; }
  std::vector<Group>& groups() { return groups_; }
  std::vector<AccountState>& accounts() { return accounts_; }
  AccountState& account(std::uint32_t i) { return accounts_[i]; }

  // Approximate bytes held by the device table and its index (for the startup message).
  std::size_t device_table_bytes() const;

 private:
  std::size_t slot_of(std::uint64_t id) const;
  void grow_index();

  std::vector<DeviceState> devices_;
  std::vector<std::uint32_t> index_;  // open addressing, linear probing; kNone = empty
  std::vector<Group> groups_;
  std::unordered_map<std::string, std::uint32_t> group_by_name_;
  std::vector<AccountState> accounts_;
  std::unordered_map<std::uint64_t, std::uint32_t> account_by_id_;
};

}  // namespace m2m::platform
