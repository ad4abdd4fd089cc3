// The registry file: devices, groups and client accounts in one SQLite database in WAL mode,
// so readers never wait for a writer and writers queue behind each other (busy timeout).
// Only a writing command creates the file. The offline subcommands edit it; the server loads
// it at start, follows other processes' changes (registry_sync) and writes the devices that
// clients register at run time (platform.add_terminal) from its writer thread (store_writer).
#pragma once

#include <functional>
#include <string>
#include <unordered_map>

#include "platform/record_store.hpp"
#include "platform/records.hpp"
#include "platform/sqlite.hpp"

namespace m2m::platform {

class Store final : public RecordStore {
 public:
  using Access = Database::Access;
  // read_only opens without writing anything (not even the schema); the others create the
  // schema when the file has none yet.
  static Result<Store> open(const std::string& path, Access access = Access::create);

  Result<void> put_device(const DeviceRecord& d, Mode mode) override;
  Result<bool> remove_device(std::uint64_t id) override;
  Result<void> each_device(const std::function<void(const DeviceRecord&)>& fn) override;

  Result<void> put_account(const AccountRecord& a, Mode mode) override;
  Result<bool> remove_account(std::uint64_t id) override;
  Result<void> each_account(const std::function<void(const AccountRecord&)>& fn) override;

  // One transaction (BEGIN ... COMMIT); a batch left uncommitted rolls back when the store closes.
  Result<void> begin() override;
  Result<void> commit() override;
  bool atomic_batches() const override { return true; }

  Database& db() { return db_; }

 private:
  Result<std::int64_t> group_id(const std::string& name);

  Database db_;
  std::unordered_map<std::string, std::int64_t> group_ids_;
  Statement insert_device_, upsert_device_, insert_group_, find_group_;
};

}  // namespace m2m::platform
