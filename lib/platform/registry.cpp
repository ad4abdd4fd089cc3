#include "platform/registry.hpp"

#include <algorithm>

namespace m2m::platform {

namespace {
std::size_t hash_id(std::uint64_t id) { return static_cast<std::size_t>((id * 0x9E3779B97F4A7C15ull) >> 17); }
}  // namespace

std::size_t Registry::slot_of(std::uint64_t id) const {
  const std::size_t mask = index_.size() - 1;
  std::size_t s = hash_id(id) & mask;
  while (index_[s] != kNone && devices_[index_[s]].id != id) s = (s + 1) & mask;
  return s;
}

void Registry::grow_index() {
  std::size_t n = index_.empty() ? 64 : index_.size() * 2;
  index_.assign(n, kNone);
  for (std::uint32_t i = 0; i < devices_.size(); ++i) index_[slot_of(devices_[i].id)] = i;
}

std::uint32_t Registry::find_device_any(std::uint64_t id) const {
  if (index_.empty()) return kNone;
  return index_[slot_of(id)];
}

std::uint32_t Registry::find_device(std::uint64_t id) const {
  std::uint32_t i = find_device_any(id);
  return i != kNone && devices_[i].removed ? kNone : i;
}

void Registry::remove_device(std::uint32_t i) {
  DeviceState& s = devices_[i];
  if (s.removed) return;
  s.removed = true;
  s.enabled = false;
  auto& m = groups_[s.group].members;
  if (auto it = std::find(m.begin(), m.end(), i); it != m.end()) m.erase(it);
}

std::uint32_t Registry::group_index(const std::string& name) {
  if (auto it = group_by_name_.find(name); it != group_by_name_.end()) return it->second;
  auto i = static_cast<std::uint32_t>(groups_.size());
  groups_.push_back(Group{name, {}});
  group_by_name_.emplace(name, i);
  return i;
}

std::uint32_t Registry::put_device(const DeviceRecord& d) {
  std::uint32_t g = group_index(d.group);
  std::uint32_t i = find_device_any(d.id);
  auto by_id = [this](std::uint32_t a, std::uint64_t id) { return devices_[a].id < id; };
  if (i != kNone) {
    DeviceState& s = devices_[i];
    s.password = d.password;
    s.enabled = d.enabled;
    if (s.removed) {  // back from the dead: into its (possibly new) group
      s.removed = false;
      s.group = g;
      auto& m = groups_[g].members;
      m.insert(std::lower_bound(m.begin(), m.end(), d.id, by_id), i);
    } else if (s.group != g) {
      auto& old = groups_[s.group].members;
      old.erase(std::find(old.begin(), old.end(), i));
      auto& m = groups_[g].members;
      m.insert(std::lower_bound(m.begin(), m.end(), d.id, by_id), i);
      s.group = g;
    }
    return i;
  }
  if ((devices_.size() + 1) * 2 > index_.size()) grow_index();
  i = static_cast<std::uint32_t>(devices_.size());
  DeviceState s;
  s.id = d.id;
  s.password = d.password;
  s.group = g;
  s.enabled = d.enabled;
  devices_.push_back(s);
  index_[slot_of(d.id)] = i;
  auto& m = groups_[g].members;
  if (m.empty() || devices_[m.back()].id < d.id)
    m.push_back(i);  // the common case: loading in id order
  else
    m.insert(std::lower_bound(m.begin(), m.end(), d.id, by_id), i);
  return i;
}

std::uint32_t Registry::put_account(const AccountRecord& a) {
  AccountState s;
  s.id = a.id;
  s.name = a.name;
  s.password = a.password;
  s.enabled = a.enabled;
  s.all_groups = a.all_groups;
  for (const auto& g : a.groups) s.groups.push_back(group_index(g));
  s.first_group = s.groups.empty() ? (a.all_groups ? group_index(std::string(kDefaultGroup)) : kNone) : s.groups[0];
  if (auto it = account_by_id_.find(a.id); it != account_by_id_.end()) {
    AccountState& old = accounts_[it->second];
    s.fd = old.fd;
    s.token = old.token;
    s.next_seq = old.next_seq;
    old = std::move(s);
    return it->second;
  }
  auto i = static_cast<std::uint32_t>(accounts_.size());
  account_by_id_.emplace(a.id, i);
  accounts_.push_back(std::move(s));
  return i;
}

std::uint32_t Registry::find_account_any(std::uint64_t id) const {
  auto it = account_by_id_.find(id);
  return it == account_by_id_.end() ? kNone : it->second;
}

std::uint32_t Registry::find_account(std::uint64_t id) const {
  std::uint32_t i = find_account_any(id);
  return i != kNone && accounts_[i].removed ? kNone : i;
}

void Registry::remove_account(std::uint32_t i) {
  accounts_[i].removed = true;
  accounts_[i].enabled = false;
}

bool Registry::can_see(const AccountState& a, std::uint32_t group) const {
  return a.all_groups || std::find(a.groups.begin(), a.groups.end(), group) != a.groups.end();
}

std::size_t Registry::device_table_bytes() const {
  return devices_.capacity() * sizeof(DeviceState) + index_.capacity() * sizeof(std::uint32_t);
}

}  // namespace m2m::platform
