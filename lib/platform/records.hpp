// Registry records as the offline subcommands and the CSV files see them: devices (the
// console's "terminal management" table) and client accounts ("central server management").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "m2m/messages.hpp"

namespace m2m::platform {

inline constexpr std::string_view kDefaultGroup = "default";
inline constexpr std::string_view kDeviceCsvHeader = "id,password,group,enabled,description";
inline constexpr std::string_view kAccountCsvHeader = "id,name,password,groups,enabled,description";

struct DeviceRecord {
  std::uint64_t id = 0;
  ai::Password password{};
  std::string group{kDefaultGroup};
  bool enabled = true;
  std::string description;
};

struct AccountRecord {
  std::uint64_t id = 0;
  std::string name;
  ai::Password password{};
  bool all_groups = false;          // groups column "*"
  std::vector<std::string> groups;  // when not all_groups
  bool enabled = true;
  std::string description;
};

// A group name: 1-64 bytes, no ';' or ',' (list and CSV separators), not "*".
Result<void> check_group_name(std::string_view name);
// "1"/"0", "true"/"false", "yes"/"no", "enabled"/"disabled"; empty = true.
Result<bool> parse_enabled(std::string_view s);
// "*" or "a;b;c" (empty = no group).
Result<void> parse_group_list(std::string_view s, AccountRecord& out);
std::string format_group_list(const AccountRecord& a);

// CSV rows in the column order of the headers above. Passwords are written as 16 hex digits.
Result<DeviceRecord> device_from_csv(const std::vector<std::string>& fields);
std::vector<std::string> device_to_csv(const DeviceRecord& d);
Result<AccountRecord> account_from_csv(const std::vector<std::string>& fields);
std::vector<std::string> account_to_csv(const AccountRecord& a);

}  // namespace m2m::platform
