// The registry file: devices, groups and client accounts in one SQLite database (created on
// first use). The offline subcommands edit it; the server loads it at start and writes the
// devices that clients register at run time (platform.add_terminal).
#pragma once

#include <functional>
#include <string>
#include <unordered_map>

#include "platform/records.hpp"
#include "platform/sqlite.hpp"

namespace m2m::platform {

class Store {
 public:
  static Result<Store> open(const std::string& path, bool create = true);

  enum class Mode { insert, upsert };  // insert fails when the id exists
  Result<void> put_device(const DeviceRecord& d, Mode mode);
  Result<bool> remove_device(std::uint64_t id);  // false: no such device
  Result<void> each_device(const std::function<void(const DeviceRecord&)>& fn);

  Result<void> put_account(const AccountRecord& a, Mode mode);
  Result<bool> remove_account(std::uint64_t id);
  Result<void> each_account(const std::function<void(const AccountRecord&)>& fn);

  Database& db() { return db_; }

 private:
  Result<std::int64_t> group_id(const std::string& name);

  Database db_;
  std::unordered_map<std::string, std::int64_t> group_ids_;
  Statement insert_device_, upsert_device_, insert_group_, find_group_;
};

}  // namespace m2m::platform
