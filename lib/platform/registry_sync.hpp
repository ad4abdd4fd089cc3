// Following the registry file while the server runs. Another process (`m2m-server device
// add|remove|import`, `account …`) commits to the file; SQLite's PRAGMA data_version tells a
// connection that some other connection committed, so a cheap check every few hundred
// milliseconds says when to reload. The reload is read into a snapshot away from the event
// loop (on the store writer's thread); apply_snapshot then brings the in-memory registry to
// the snapshot and says whose sessions must end, and why.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "platform/records.hpp"
#include "platform/registry.hpp"
#include "platform/store.hpp"

namespace m2m::platform {

struct RegistrySnapshot {
  std::vector<DeviceRecord> devices;
  std::vector<AccountRecord> accounts;
};

Result<RegistrySnapshot> load_snapshot(Store& store);

// A device or account whose sessions must end: its record was removed, disabled, or its
// password changed (a session must not outlive the credentials it was opened with), or a
// device moved to another group (it logs in again into the new one: group_list, relay and
// P2P introductions then see one group only).
struct Revocation {
  std::uint32_t index;
  std::string_view reason;  // "removed", "disabled", "password_changed", "group_changed"
};

struct SyncResult {
  std::vector<Revocation> devices, accounts;
  std::size_t devices_added = 0, devices_changed = 0, devices_removed = 0;
  std::size_t accounts_added = 0, accounts_changed = 0, accounts_removed = 0;
  bool changed() const {
    return devices_added + devices_changed + devices_removed + accounts_added + accounts_changed + accounts_removed > 0;
  }
};

// Makes `reg` hold exactly the snapshot's records. Live state (tokens, sessions, UDP
// presence) of records that stay is kept; account group changes apply at once; removed records
// become tombstones (Registry::remove_device). O(registered devices), no allocation per
// unchanged record.
SyncResult apply_snapshot(Registry& reg, const RegistrySnapshot& snap);

// One change at a time, with the same semantics (a store that reports changes record by
// record: the cluster's bucket). apply_device/apply_account add or update the record, count
// it in `out` and add a revocation when its sessions must end; they return its index. The
// removals return false when no such record is registered (nothing changes then).
std::uint32_t apply_device(Registry& reg, const DeviceRecord& d, SyncResult& out);
bool apply_device_removed(Registry& reg, std::uint64_t id, SyncResult& out);
std::uint32_t apply_account(Registry& reg, const AccountRecord& a, SyncResult& out);
bool apply_account_removed(Registry& reg, std::uint64_t id, SyncResult& out);

// Tells whether other connections committed to the file since the last look.
class RegistryWatch {
 public:
  // The file's records when another connection changed them since the previous call (and on
  // the first call, which has nothing to compare with); nullopt when nothing changed.
  Result<std::optional<RegistrySnapshot>> poll(Store& store);

 private:
  std::optional<std::int64_t> version_;
};

}  // namespace m2m::platform
