// Following the registry file while serving: tombstones in the in-memory registry, the diff
// that says whose sessions end, and the data_version watch.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "platform/registry.hpp"
#include "platform/registry_sync.hpp"
#include "platform/store.hpp"
#include "temp_dir.hpp"

using namespace m2m;
using namespace m2m::platform;

namespace {
DeviceRecord dev(std::uint64_t id, const char* group = "g1", bool enabled = true, std::uint8_t pw = 1) {
  DeviceRecord d;
  d.id = id;
  d.group = group;
  d.enabled = enabled;
  d.password = {pw, 0, 0, 0, 0, 0, 0, 0};
  return d;
}
AccountRecord acc(std::uint64_t id, bool enabled = true, std::uint8_t pw = 1) {
  AccountRecord a;
  a.id = id;
  a.name = "a" + std::to_string(id);
  a.groups = {"g1"};
  a.enabled = enabled;
  a.password = {pw, 0, 0, 0, 0, 0, 0, 0};
  return a;
}
std::string reasons(const std::vector<Revocation>& r, Registry& reg, bool devices) {
  std::string out;
  for (const auto& x : r)
    out += std::to_string(devices ? reg.device(x.index).id : reg.account(x.index).id) + ":" + std::string(x.reason) + " ";
  return out;
}
using m2m_test::TempDir;
}  // namespace

TEST_CASE("registry: a removed device is unknown, keeps its index, and comes back under it") {
  Registry reg;
  std::uint32_t a = reg.put_device(dev(1));
  std::uint32_t b = reg.put_device(dev(2));
  reg.remove_device(a);
  CHECK(reg.find_device(1) == kNone);
  CHECK(reg.find_device_any(1) == a);
  CHECK(reg.find_device(2) == b);
  CHECK(reg.groups()[reg.group_index("g1")].members == std::vector<std::uint32_t>{b});
  CHECK(reg.put_device(dev(1, "g2")) == a);
  CHECK(reg.find_device(1) == a);
  CHECK(reg.groups()[reg.group_index("g2")].members == std::vector<std::uint32_t>{a});
  CHECK(reg.groups()[reg.group_index("g1")].members == std::vector<std::uint32_t>{b});

  std::uint32_t x = reg.put_account(acc(7));
  reg.remove_account(x);
  CHECK(reg.find_account(7) == kNone);
  CHECK(reg.find_account_any(7) == x);
  CHECK(reg.put_account(acc(7)) == x);
  CHECK(reg.find_account(7) == x);
}

TEST_CASE("registry sync: the diff applies adds, changes and removals and names whose sessions end") {
  Registry reg;
  for (auto d : {dev(1), dev(2), dev(3), dev(4), dev(5)}) reg.put_device(d);
  for (auto a : {acc(10), acc(11), acc(12), acc(13)}) reg.put_account(a);
  // Live state that the sync itself keeps (the server then ends the revoked sessions).
  reg.device(reg.find_device(1)).fd = 42;
  reg.device(reg.find_device(1)).token = {9, 9, 9, 9, 9, 9, 9, 9};
  reg.account(reg.find_account(10)).fd = 43;

  RegistrySnapshot snap;
  snap.devices = {dev(1, "g2"),             // moved to another group: logs in again there
                  dev(2, "g1", false),      // disabled
                  dev(3, "g1", true, 2),    // new password
                  dev(5),                   // unchanged
                  dev(6, "g3")};            // new; 4 is gone
  snap.accounts = {acc(10), acc(11, false), acc(12, true, 7), acc(14)};  // 13 is gone
  SyncResult r = apply_snapshot(reg, snap);

  CHECK(reasons(r.devices, reg, true) == "1:group_changed 2:disabled 3:password_changed 4:removed ");
  CHECK(reasons(r.accounts, reg, false) == "11:disabled 12:password_changed 13:removed ");
  CHECK(r.devices_added == 1);
  CHECK(r.devices_changed == 3);
  CHECK(r.devices_removed == 1);
  CHECK(r.accounts_added == 1);
  CHECK(r.accounts_changed == 2);
  CHECK(r.accounts_removed == 1);
  CHECK(reg.find_device(4) == kNone);
  CHECK(reg.find_device(6) != kNone);
  CHECK_FALSE(reg.device(reg.find_device(2)).enabled);
  CHECK(reg.device(reg.find_device(3)).password == ai::Password{2, 0, 0, 0, 0, 0, 0, 0});
  const DeviceState& one = reg.device(reg.find_device(1));
  CHECK(one.fd == 42);
  CHECK(one.token == Token{9, 9, 9, 9, 9, 9, 9, 9});
  CHECK(reg.groups()[one.group].name == "g2");
  CHECK(reg.account(reg.find_account(10)).fd == 43);
  CHECK(reg.find_account(13) == kNone);
  CHECK(reg.find_account(14) != kNone);

  // The same snapshot again changes nothing; removing everything tombstones everything.
  SyncResult again = apply_snapshot(reg, snap);
  CHECK_FALSE(again.changed());
  CHECK(again.devices.empty());
  SyncResult none = apply_snapshot(reg, RegistrySnapshot{});
  CHECK(none.devices_removed == 5);
  CHECK(none.accounts_removed == 4);
  for (const auto& g : reg.groups()) CHECK(g.members.empty());
  // And a device that comes back is a new login candidate under its old index.
  std::uint32_t old = reg.find_device_any(4);
  SyncResult back = apply_snapshot(reg, RegistrySnapshot{{dev(4)}, {}});
  CHECK(back.devices_added == 1);
  CHECK(reg.find_device(4) == old);
}

TEST_CASE("registry sync: one record at a time gives what the whole snapshot gives") {
  // The same changes as above, as a store that reports records one by one (the cluster's
  // bucket) delivers them: the same revocations, counts and final registry.
  Registry reg;
  for (auto d : {dev(1), dev(2), dev(3), dev(4), dev(5)}) reg.put_device(d);
  for (auto a : {acc(10), acc(11), acc(12), acc(13)}) reg.put_account(a);
  reg.device(reg.find_device(1)).fd = 42;
  SyncResult r;
  apply_device(reg, dev(1, "g2"), r);
  apply_device(reg, dev(2, "g1", false), r);
  apply_device(reg, dev(3, "g1", true, 2), r);
  apply_device(reg, dev(5), r);  // unchanged: nothing counted
  apply_device(reg, dev(6, "g3"), r);
  CHECK(apply_device_removed(reg, 4, r));
  CHECK_FALSE(apply_device_removed(reg, 4, r));   // already gone: nothing more
  CHECK_FALSE(apply_device_removed(reg, 99, r));  // never registered
  apply_account(reg, acc(11, false), r);
  apply_account(reg, acc(12, true, 7), r);
  apply_account(reg, acc(14), r);
  CHECK(apply_account_removed(reg, 13, r));
  CHECK_FALSE(apply_account_removed(reg, 13, r));

  CHECK(reasons(r.devices, reg, true) == "1:group_changed 2:disabled 3:password_changed 4:removed ");
  CHECK(reasons(r.accounts, reg, false) == "11:disabled 12:password_changed 13:removed ");
  CHECK(r.devices_added == 1);
  CHECK(r.devices_changed == 3);
  CHECK(r.devices_removed == 1);
  CHECK(r.accounts_added == 1);
  CHECK(r.accounts_changed == 2);
  CHECK(r.accounts_removed == 1);
  CHECK(reg.device(reg.find_device(1)).fd == 42);  // live state stays; the server ends the session
  CHECK(reg.groups()[reg.device(reg.find_device(1)).group].name == "g2");
  // A removed device that comes back returns under its old index, as a new record.
  const std::uint32_t old = reg.find_device_any(4);
  SyncResult back;
  CHECK(apply_device(reg, dev(4), back) == old);
  CHECK(back.devices_added == 1);
  CHECK(back.devices.empty());
}

TEST_CASE("registry watch: reloads only when another connection committed") {
  TempDir dir;
  const std::string path = (dir.path / "reg.db").string();
  auto mine = Store::open(path, Store::Access::create);
  auto other = Store::open(path, Store::Access::read_write);
  REQUIRE(mine);
  REQUIRE(other);
  REQUIRE(other->put_device(dev(1), Store::Mode::insert));
  RegistryWatch watch;
  auto first = watch.poll(*mine);
  REQUIRE(first);
  REQUIRE(first->has_value());  // nothing to compare with yet: the whole registry
  CHECK((*first)->devices.size() == 1);
  auto quiet = watch.poll(*mine);
  REQUIRE(quiet);
  CHECK_FALSE(quiet->has_value());
  REQUIRE(other->put_device(dev(2), Store::Mode::insert));
  REQUIRE(other->put_account(acc(5), Store::Mode::insert));
  auto moved = watch.poll(*mine);
  REQUIRE(moved);
  REQUIRE(moved->has_value());
  CHECK((*moved)->devices.size() == 2);
  REQUIRE((*moved)->accounts.size() == 1);
  CHECK((*moved)->accounts[0].id == 5);
  REQUIRE(mine->put_device(dev(3), Store::Mode::insert));  // our own write: nothing to reload
  auto own = watch.poll(*mine);
  REQUIRE(own);
  CHECK_FALSE(own->has_value());
}
