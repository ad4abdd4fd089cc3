// Where registry records are kept: what the offline subcommands (`m2m-server device …`,
// `account …`) and the server's own writes (platform.add_terminal) need of a store. Two
// implement it: the SQLite file of a single node (store.hpp) and, in cluster mode, a
// JetStream key-value bucket (cluster/kv_registry.hpp).
#pragma once

#include <cstdint>
#include <functional>

#include "core/error.hpp"
#include "platform/records.hpp"

namespace m2m::platform {

class RecordStore {
 public:
  enum class Mode { insert, upsert };  // insert fails (ErrorKind::bad_value) when the id exists
  virtual ~RecordStore() = default;

  virtual Result<void> put_device(const DeviceRecord& d, Mode mode) = 0;
  virtual Result<bool> remove_device(std::uint64_t id) = 0;  // false: no such device
  // In id order.
  virtual Result<void> each_device(const std::function<void(const DeviceRecord&)>& fn) = 0;

  virtual Result<void> put_account(const AccountRecord& a, Mode mode) = 0;
  virtual Result<bool> remove_account(std::uint64_t id) = 0;
  virtual Result<void> each_account(const std::function<void(const AccountRecord&)>& fn) = 0;

  // A batch of writes: all or nothing where the store can (SQLite: one transaction). A store
  // without transactions (the bucket) writes each record as it comes and says so here.
  virtual Result<void> begin() { return {}; }
  virtual Result<void> commit() { return {}; }
  virtual bool atomic_batches() const { return false; }
};

}  // namespace m2m::platform
