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
#include "platform/registry_follower.hpp"
#include "platform/registry_sync.hpp"
#include "platform/store_writer.hpp"

namespace m2m::platform {

class LiveRegistry final : public RegistryFollower {
 public:
  static constexpr std::chrono::milliseconds kDefaultCheck{250};

  static Result<std::unique_ptr<LiveRegistry>> start(const std::string& path, Registry& reg, Hooks hooks,
                                                      std::chrono::milliseconds check = kDefaultCheck);
  LiveRegistry(std::unique_ptr<StoreWriter> writer, Registry& reg, Hooks hooks);

  int fd() const override { return writer_->fd(); }
  void ready() override { writer_->drain(); }
  void add_device(const DeviceRecord& rec, AddDone done) override;
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
