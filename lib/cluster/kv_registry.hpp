// The cluster's registry (m2m-server(1), CLUSTER): devices and client accounts in a JetStream
// key-value bucket, so every node follows one registry that outlives any of them.
//
// Keys are subject tokens: `device.<16 hex digits>` and `account.<decimal id>`; a value is the
// record's CSV row, the same columns as `device export` / `account export` (records.hpp), so the
// bucket holds nothing a file could not. The bucket keeps one revision per key; a removal is a
// delete marker, which every follower sees.
//
// KvRecords is the blocking store (the offline subcommands with --cluster, and the server's
// writes from its store thread). KvFollower is the server's side: the initial values read
// before it serves, then a watcher whose changes are applied on the loop's thread, record by
// record (registry_sync.hpp), with the same revocations as a file reload. After NATS comes
// back (a reconnect) the follower reads the whole bucket again, so a change made while it was
// away is not missed; it does so on a new connection, never stopping a watcher on a live one
// (kv_registry.cpp, KvFollower::Watch, says why).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "platform/record_store.hpp"
#include "platform/registry.hpp"
#include "platform/registry_follower.hpp"
#include "platform/registry_sync.hpp"
#include "platform/store_writer.hpp"

struct __natsConnection;
struct __jsCtx;
struct __kvStore;

namespace m2m::cluster {

inline constexpr const char* kRegistryBucket = "m2m_registry";

std::string device_key(std::uint64_t id);
std::string account_key(std::uint64_t id);

class KvRecords final : public platform::RecordStore {
 public:
  enum class Open { existing, create };  // existing: a missing bucket is an error that says how to make one
  // Connects to NATS at `url` (bounded by `timeout`) and opens the bucket. With `reconnected`,
  // the connection reconnects forever and sets the flag each time it does (the follower);
  // without, a lost connection fails the command at once.
  static Result<KvRecords> open(const std::string& url, Open how, std::chrono::milliseconds timeout = std::chrono::seconds(2),
                                std::atomic<bool>* reconnected = nullptr);
  KvRecords(KvRecords&& o) noexcept;
  KvRecords& operator=(KvRecords&& o) noexcept;
  KvRecords(const KvRecords&) = delete;
  KvRecords& operator=(const KvRecords&) = delete;
  ~KvRecords() override;

  Result<void> put_device(const platform::DeviceRecord& d, Mode mode) override;
  Result<bool> remove_device(std::uint64_t id) override;
  Result<void> each_device(const std::function<void(const platform::DeviceRecord&)>& fn) override;
  Result<void> put_account(const platform::AccountRecord& a, Mode mode) override;
  Result<bool> remove_account(std::uint64_t id) override;
  Result<void> each_account(const std::function<void(const platform::AccountRecord&)>& fn) override;

  // Every record, in id order.
  Result<platform::RegistrySnapshot> snapshot();
  __kvStore* kv() const { return kv_; }
  const std::string& url() const { return url_; }
  // Closes the connection (the handles stay valid until this object goes): what was in flight
  // fails, and nothing more is sent.
  void close() noexcept;

 private:
  KvRecords() = default;
  Result<void> put(const std::string& key, const std::string& value, Mode mode, const std::string& what);
  Result<bool> remove(const std::string& key);
  void reset() noexcept;

  std::string url_;
  __natsConnection* nc_ = nullptr;
  __jsCtx* js_ = nullptr;
  __kvStore* kv_ = nullptr;
};

// A process that used NATS without a cluster node (the offline subcommands) calls this after
// its last KvRecords is gone, so nats.c's threads end before the process does.
void close_nats();

class KvFollower final : public platform::RegistryFollower {
 public:
  // Opens the bucket (it must exist), loads every record into `reg` before returning (nothing
  // is reported: nothing was served yet), then follows the bucket's changes.
  static Result<std::unique_ptr<KvFollower>> start(const std::string& url, platform::Registry& reg, Hooks hooks);
  ~KvFollower() override;

  int fd() const override { return writer_->fd(); }
  void ready() override { writer_->drain(); }
  void add_device(const platform::DeviceRecord& rec, AddDone done) override;

  struct Watch;  // the watcher's state, on the store thread (kv_registry.cpp)
  struct Change;

 private:
  KvFollower(platform::Registry& reg, Hooks hooks);
  void apply(const std::vector<Change>& changes);

  platform::Registry& reg_;
  Hooks hooks_;
  // Set by nats.c's callback thread. A reconnect callback queued just before the connection
  // closed may still run after this follower is gone, so the flag is never freed (one per
  // follower: a byte each, from a pool that lives as long as the process).
  std::atomic<bool>* reconnected_;
  std::shared_ptr<Watch> watch_;  // shared with the idle job; stopped by a last job at the end
  std::unique_ptr<platform::BasicStoreWriter<KvRecords>> writer_;  // last: its thread stops first
};

}  // namespace m2m::cluster
