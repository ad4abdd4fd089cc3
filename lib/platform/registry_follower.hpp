// The registry while the server runs, whatever keeps it: the server puts fd() in its epoll
// set, calls ready() when it is readable, and hears through the hooks what changed. Two
// implement it: LiveRegistry (the SQLite file of a single node: live_registry.hpp) and, in
// cluster mode, the bucket every node follows (cluster/kv_registry.hpp).
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "core/error.hpp"
#include "platform/records.hpp"
#include "platform/registry_sync.hpp"

namespace m2m::platform {

class RegistryFollower {
 public:
  struct Hooks {
    // End the sessions of a device or account whose record was revoked (reason: "removed",
    // "disabled", "password_changed", "group_changed"). The registry already holds the new state.
    std::function<void(std::uint32_t device, std::string_view reason)> revoke_device;
    std::function<void(std::uint32_t account, std::string_view reason)> revoke_account;
    std::function<void(const SyncResult&)> synced;  // after changes were applied
    std::function<void(const Error&)> failed;       // changes that could not be read
  };
  // platform.add_terminal's completion, on the loop: done(nullptr), or done(reason) with
  // "exists" or "store_failed" (the error is passed on too).
  using AddDone = std::function<void(const char* refused, const Error* error)>;

  virtual ~RegistryFollower() = default;
  virtual int fd() const = 0;
  // The loop saw fd() readable: applies what the store's thread finished.
  virtual void ready() = 0;
  // platform.add_terminal: writes `rec` (an insert: fails when the id exists), then, on the
  // loop, adds it to the registry and calls done.
  virtual void add_device(const DeviceRecord& rec, AddDone done) = 0;

  // Calls the hooks for what `r` says (the revocations, then synced when something changed).
  static void report(const Hooks& hooks, const SyncResult& r) {
    for (const auto& v : r.devices)
      if (hooks.revoke_device) hooks.revoke_device(v.index, v.reason);
    for (const auto& v : r.accounts)
      if (hooks.revoke_account) hooks.revoke_account(v.index, v.reason);
    if (r.changed() && hooks.synced) hooks.synced(r);
  }
};

}  // namespace m2m::platform
