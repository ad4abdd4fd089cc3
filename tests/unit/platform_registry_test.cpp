// Registry: CSV rows, the SQLite store and the in-memory hot registry.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "platform/csv.hpp"
#include "platform/records.hpp"
#include "platform/registry.hpp"
#include "platform/store.hpp"

using namespace m2m;
using namespace m2m::platform;

TEST_CASE("csv: quoted fields with commas and quotes survive a round trip") {
  auto f = parse_csv_line(R"(a,"b,c","say ""hi""",,x)" "\r");
  REQUIRE(f);
  CHECK(*f == std::vector<std::string>{"a", "b,c", "say \"hi\"", "", "x"});
  CHECK(join_csv(*f) == R"(a,"b,c","say ""hi""",,x)");
  CHECK_FALSE(parse_csv_line(R"(a,"unterminated)"));
  CHECK_FALSE(parse_csv_line(R"(a,b"c)"));
  CHECK_FALSE(parse_csv_line(R"("a"b,c)"));
}

TEST_CASE("records: device rows parse strictly and print back") {
  auto d = device_from_csv({"fed24a", "text:123", "", "0", "lobby"});
  REQUIRE(d);
  CHECK(d->id == 0xFED24A);
  CHECK(d->password == ai::Password{'1', '2', '3', 0, 0, 0, 0, 0});
  CHECK(d->group == "default");
  CHECK_FALSE(d->enabled);
  CHECK(device_to_csv(*d) == std::vector<std::string>{"0000000000FED24A", "3132330000000000", "default", "0", "lobby"});
  CHECK_FALSE(device_from_csv({"zz", "text:1", "g", "1", ""}));                   // bad id
  CHECK_FALSE(device_from_csv({"01", "0102", "g", "1", ""}));                     // short password
  CHECK_FALSE(device_from_csv({"01", "text:1", "a;b", "1", ""}));                 // bad group
  CHECK_FALSE(device_from_csv({"01", "text:1", "g", "maybe", ""}));               // bad enabled
  CHECK_FALSE(device_from_csv({"01", "text:1", "g", "1"}));                       // column missing
}

TEST_CASE("records: account rows with '*' and group lists") {
  auto a = account_from_csv({"42", "app", "0102030405060708", "north;south", "1", ""});
  REQUIRE(a);
  CHECK(a->id == 42);
  CHECK_FALSE(a->all_groups);
  CHECK(a->groups == std::vector<std::string>{"north", "south"});
  CHECK(account_to_csv(*a)[3] == "north;south");
  auto all = account_from_csv({"1", "ops", "text:x", "*", "yes", ""});
  REQUIRE(all);
  CHECK(all->all_groups);
  CHECK(format_group_list(*all) == "*");
  CHECK_FALSE(account_from_csv({"-1", "x", "text:x", "*", "1", ""}));
  CHECK_FALSE(account_from_csv({"1x", "x", "text:x", "*", "1", ""}));
}

TEST_CASE("store: devices and accounts persist, insert refuses duplicates, upsert replaces") {
  auto s = Store::open(":memory:");
  REQUIRE(s);
  DeviceRecord d;
  d.id = 0xFFFFFFFFFFFFFFFFull;  // the top bit must survive SQLite's signed integers
  d.password = {1, 2, 3, 4, 5, 6, 7, 8};
  d.group = "g1";
  REQUIRE(s->put_device(d, Store::Mode::insert));
  CHECK_FALSE(s->put_device(d, Store::Mode::insert));
  d.group = "g2";
  d.enabled = false;
  REQUIRE(s->put_device(d, Store::Mode::upsert));
  std::vector<DeviceRecord> got;
  REQUIRE(s->each_device([&](const DeviceRecord& r) { got.push_back(r); }));
  REQUIRE(got.size() == 1);
  CHECK(got[0].id == d.id);
  CHECK(got[0].password == d.password);
  CHECK(got[0].group == "g2");
  CHECK_FALSE(got[0].enabled);
  CHECK(*s->remove_device(d.id));
  CHECK_FALSE(*s->remove_device(d.id));

  AccountRecord a;
  a.id = 9;
  a.name = "app";
  a.groups = {"g1", "g3"};
  REQUIRE(s->put_account(a, Store::Mode::insert));
  CHECK_FALSE(s->put_account(a, Store::Mode::insert));
  std::vector<AccountRecord> accs;
  REQUIRE(s->each_account([&](const AccountRecord& r) { accs.push_back(r); }));
  REQUIRE(accs.size() == 1);
  CHECK(accs[0].groups == a.groups);
  CHECK(*s->remove_account(9));
}

TEST_CASE("store: a transaction that is not committed leaves nothing behind") {
  auto s = Store::open(":memory:");
  REQUIRE(s);
  {
    Transaction tx(s->db());
    REQUIRE(tx.begin());
    DeviceRecord d;
    d.id = 5;
    REQUIRE(s->put_device(d, Store::Mode::insert));
  }
  int n = 0;
  REQUIRE(s->each_device([&](const DeviceRecord&) { ++n; }));
  CHECK(n == 0);
}

TEST_CASE("registry: lookup by id over many devices, groups sorted by id, account visibility") {
  Registry reg;
  // Insert in descending order so the group lists must be kept sorted by insertion.
  for (std::uint64_t i = 5000; i-- > 0;) {
    DeviceRecord d;
    d.id = 0x100000000ull + i * 977;
    d.group = i % 2 ? "odd" : "even";
    reg.put_device(d);
  }
  CHECK(reg.devices().size() == 5000);
  for (std::uint64_t i = 0; i < 5000; ++i) {
    std::uint32_t idx = reg.find_device(0x100000000ull + i * 977);
    REQUIRE(idx != kNone);
    CHECK(reg.device(idx).id == 0x100000000ull + i * 977);
  }
  CHECK(reg.find_device(1) == kNone);
  const auto& odd = reg.groups()[reg.group_index("odd")].members;
  CHECK(odd.size() == 2500);
  for (std::size_t k = 1; k < odd.size(); ++k) CHECK(reg.device(odd[k - 1]).id < reg.device(odd[k]).id);

  // Moving a device to another group moves it between member lists.
  DeviceRecord moved;
  moved.id = 0x100000000ull;
  moved.group = "odd";
  std::uint32_t m = reg.put_device(moved);
  CHECK(reg.groups()[reg.group_index("odd")].members.size() == 2501);
  CHECK(reg.groups()[reg.group_index("even")].members.size() == 2499);
  CHECK(reg.groups()[reg.group_index("odd")].members.front() == m);

  AccountRecord a;
  a.id = 1;
  a.groups = {"odd"};
  reg.put_account(a);
  AccountRecord all;
  all.id = 2;
  all.all_groups = true;
  reg.put_account(all);
  const auto& acc = reg.account(reg.find_account(1));
  CHECK(reg.can_see(acc, reg.group_index("odd")));
  CHECK_FALSE(reg.can_see(acc, reg.group_index("even")));
  CHECK(reg.can_see(reg.account(reg.find_account(2)), reg.group_index("even")));
  CHECK(acc.first_group == reg.group_index("odd"));
  CHECK(sizeof(DeviceState) <= 48);
}
