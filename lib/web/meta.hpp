// What the console keeps about the registry beyond what the platform needs to serve: regions
// (行政区域, a tree; groups and devices belong to one), device categories, associations between
// terminals (关联设备), and the online statistics (per-minute samples per group and region,
// kept 30 days). It lives in the registry file, in tables of its own (console_*), written
// only on the console's worker thread; the loop holds a copy (ConsoleMeta) for its answers.
// The platform never reads these tables: a device logs in the same with or without them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/error.hpp"
#include "platform/records.hpp"
#include "platform/sqlite.hpp"

namespace m2m::web {

struct Region {
  std::int64_t id = 0;
  std::string name;
  std::optional<std::int64_t> parent;
};

struct DeviceMeta {
  std::optional<std::int64_t> region;  // none: the group's region
  std::string category;
};

struct ConsoleMeta {
  std::vector<Region> regions;
  std::unordered_map<std::uint64_t, DeviceMeta> devices;
  std::unordered_map<std::string, std::int64_t> group_region;
  std::unordered_map<std::uint64_t, std::string> descriptions;          // non-empty ones
  std::unordered_map<std::uint64_t, std::vector<std::uint64_t>> links;  // both directions
  std::vector<std::string> empty_groups;  // groups created in the console that hold no device yet

  const Region* region(std::int64_t id) const;
  // The device's region: its own, else its group's.
  std::optional<std::int64_t> region_of(std::uint64_t device, const std::string& group) const;
};

struct Sample {
  std::int64_t minute;  // Unix time / 60
  char kind;            // 'g' group, 'r' region, 't' total
  std::string name;
  std::int64_t online;
};

// The tables (created when missing: call on a connection that may write).
Result<void> create_meta_tables(platform::Database& db);
Result<ConsoleMeta> load_meta(platform::Database& db);

// A device's record as the registry file has it (for an edit that leaves the password).
Result<std::optional<platform::DeviceRecord>> find_device_record(platform::Database& db, std::uint64_t id);
Result<std::optional<platform::AccountRecord>> find_account_record(platform::Database& db, std::uint64_t id);

Result<std::int64_t> add_region(platform::Database& db, const std::string& name, std::optional<std::int64_t> parent);
// Renames or moves; refused when `parent` is the region itself or below it.
Result<void> update_region(platform::Database& db, std::int64_t id, const std::string& name,
                           std::optional<std::int64_t> parent);
// Refused while it has sub-regions, groups or devices.
Result<bool> remove_region(platform::Database& db, std::int64_t id);

Result<void> set_device_meta(platform::Database& db, std::uint64_t id, const DeviceMeta& m);
Result<void> remove_device_meta(platform::Database& db, std::uint64_t id);  // and its associations
Result<void> set_group_region(platform::Database& db, const std::string& group, std::optional<std::int64_t> region);
Result<void> add_group(platform::Database& db, const std::string& group);
Result<void> associate(platform::Database& db, std::uint64_t a, std::uint64_t b);
Result<bool> dissociate(platform::Database& db, std::uint64_t a, std::uint64_t b);

// Statistics: one minute's samples; those older than 30 days go at the same time.
Result<void> add_samples(platform::Database& db, const std::vector<Sample>& samples);
Result<std::vector<Sample>> samples_since(platform::Database& db, std::int64_t minute, char kind);

}  // namespace m2m::web
