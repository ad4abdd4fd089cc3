// The registry while the server runs: the glue between the event loop, the in-memory
// Registry and the file. It owns a StoreWriter whose idle job is a RegistryWatch (every
// `check` interval: PRAGMA data_version, and a snapshot only when another process
// committed), applies each snapshot on the loop's thread and asks the server, through hooks,
// to end the sessions of revoked devices and accounts. It also runs the server's own writes
// (platform.add_terminal) on the writer thread and completes them on the loop.
//
// The loop's part is small: put fd() in its epoll set and call ready() when it is readable.
// Nothing here blocks the loop: SQLite runs on the writer thread only.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>

#include "platform/registry.hpp"
#include "platform/registry_sync.hpp"
#include "platform/store_writer.hpp"

namespace m2m::platform {

class LiveRegistry {
 public:
  struct Hooks {
    // End the sessions of a device or account whose record was revoked (reason: "removed",
    // "disabled", "password_changed"). The registry already holds the new state.
    std::function<void(std::uint32_t device, std::string_view reason)> revoke_device;
    std::function<void(std::uint32_t account, std::string_view reason)> revoke_account;
    std::function<void(const SyncResult&)> synced;  // after a reload that changed something
    std::function<void(const Error&)> failed;       // a reload that could not be read
  };
  static constexpr std::chrono::milliseconds kDefaultCheck{250};

  static Result<std::unique_ptr<LiveRegistry>> start(const std::string& path, Registry& reg, Hooks hooks,
                                                      std::chrono::milliseconds check = kDefaultCheck);
  LiveRegistry(std::unique_ptr<StoreWriter> writer, Registry& reg, Hooks hooks);

  int fd() const { return writer_->fd(); }
  // The loop saw fd() readable: applies what the writer thread finished.
  void ready() { writer_->drain(); }

  // platform.add_terminal: writes `rec` (insert: fails when the id exists in the file), then,
  // on the loop, adds it to the registry and calls done(nullptr), or done(reason) with
  // "exists" or "store_failed" (the error is passed on too).
  using AddDone = std::function<void(const char* refused, const Error* error)>;
  void add_device(const DeviceRecord& rec, AddDone done);
  // An add of this id is in flight (a second request for it is refused as "exists").
  bool adding(std::uint64_t id) const { return adding_.count(id) != 0; }
  std::size_t in_flight() const { return writer_->in_flight(); }

 private:
  void apply(const RegistrySnapshot& snap);

  Registry& reg_;
  Hooks hooks_;
  std::unordered_set<std::uint64_t> adding_;
  std::unique_ptr<StoreWriter> writer_;  // last: its thread stops first
};

}  // namespace m2m::platform
