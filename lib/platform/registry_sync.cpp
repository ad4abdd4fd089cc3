#include "platform/registry_sync.hpp"

namespace m2m::platform {

Result<RegistrySnapshot> load_snapshot(Store& store) {
  RegistrySnapshot snap;
  // One read transaction, so devices and accounts come from the same commit.
  if (auto r = store.db().exec("BEGIN"); !r) return unexpected(r.error());
  auto d = store.each_device([&](const DeviceRecord& rec) { snap.devices.push_back(rec); });
  auto a = d ? store.each_account([&](const AccountRecord& rec) { snap.accounts.push_back(rec); }) : d;
  (void)store.db().exec("COMMIT");
  if (!d) return unexpected(d.error());
  if (!a) return unexpected(a.error());
  return snap;
}

namespace {
bool same_groups(Registry& reg, const AccountState& s, const AccountRecord& a) {
  if (s.all_groups != a.all_groups || s.groups.size() != a.groups.size()) return false;
  for (std::size_t i = 0; i < a.groups.size(); ++i)
    if (reg.groups()[s.groups[i]].name != a.groups[i]) return false;
  return true;
}
}  // namespace

namespace {
void remove_device_at(Registry& reg, std::uint32_t i, SyncResult& out) {
  reg.remove_device(i);
  out.devices.push_back({i, "removed"});
  ++out.devices_removed;
}
void remove_account_at(Registry& reg, std::uint32_t i, SyncResult& out) {
  reg.remove_account(i);
  out.accounts.push_back({i, "removed"});
  ++out.accounts_removed;
}
}  // namespace

std::uint32_t apply_device(Registry& reg, const DeviceRecord& d, SyncResult& out) {
  std::uint32_t i = reg.find_device_any(d.id);
  if (i == kNone || reg.device(i).removed) {
    ++out.devices_added;
    return reg.put_device(d);
  }
  const DeviceState& s = reg.device(i);
  std::string_view reason;
  const bool regrouped = reg.groups()[s.group].name != d.group;
  if (s.password != d.password)
    reason = "password_changed";
  else if (s.enabled && !d.enabled)
    reason = "disabled";
  else if (regrouped)
    reason = "group_changed";  // its peers, tokens handed out and online index were the old group's
  if (s.password != d.password || s.enabled != d.enabled || regrouped) {
    reg.put_device(d);
    ++out.devices_changed;
  }
  if (!reason.empty()) out.devices.push_back({i, reason});
  return i;
}

bool apply_device_removed(Registry& reg, std::uint64_t id, SyncResult& out) {
  const std::uint32_t i = reg.find_device(id);
  if (i == kNone) return false;
  remove_device_at(reg, i, out);
  return true;
}

std::uint32_t apply_account(Registry& reg, const AccountRecord& a, SyncResult& out) {
  std::uint32_t i = reg.find_account_any(a.id);
  if (i == kNone || reg.account(i).removed) {
    ++out.accounts_added;
    return reg.put_account(a);
  }
  const AccountState& s = reg.account(i);
  std::string_view reason;
  if (s.password != a.password)
    reason = "password_changed";
  else if (s.enabled && !a.enabled)
    reason = "disabled";
  if (s.password != a.password || s.enabled != a.enabled || s.name != a.name || !same_groups(reg, s, a)) {
    reg.put_account(a);
    ++out.accounts_changed;
  }
  if (!reason.empty()) out.accounts.push_back({i, reason});
  return i;
}

bool apply_account_removed(Registry& reg, std::uint64_t id, SyncResult& out) {
  const std::uint32_t i = reg.find_account(id);
  if (i == kNone) return false;
  remove_account_at(reg, i, out);
  return true;
}

SyncResult apply_snapshot(Registry& reg, const RegistrySnapshot& snap) {
  SyncResult out;
  std::vector<bool> seen(reg.devices().size());
  for (const DeviceRecord& d : snap.devices) {
    const std::uint32_t i = apply_device(reg, d, out);
    if (i >= seen.size()) seen.resize(reg.devices().size());
    seen[i] = true;
  }
  for (std::uint32_t i = 0; i < reg.devices().size(); ++i)
    if (!seen[i] && !reg.device(i).removed) remove_device_at(reg, i, out);

  std::vector<bool> seen_acc(reg.accounts().size());
  for (const AccountRecord& a : snap.accounts) {
    const std::uint32_t i = apply_account(reg, a, out);
    if (i >= seen_acc.size()) seen_acc.resize(reg.accounts().size());
    seen_acc[i] = true;
  }
  for (std::uint32_t i = 0; i < reg.accounts().size(); ++i)
    if (!seen_acc[i] && !reg.account(i).removed) remove_account_at(reg, i, out);
  return out;
}

Result<std::optional<RegistrySnapshot>> RegistryWatch::poll(Store& store) {
  auto v = store.db().data_version();
  if (!v) return unexpected(v.error());
  if (version_ && *version_ == *v) return std::optional<RegistrySnapshot>();
  auto snap = load_snapshot(store);
  if (!snap) return unexpected(snap.error());
  version_ = *v;
  return std::optional<RegistrySnapshot>(std::move(*snap));
}

}  // namespace m2m::platform
