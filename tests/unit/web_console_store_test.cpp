// The console's users and metadata in the registry file (lib/web/users.hpp, meta.hpp): roles
// and what they allow, Argon2id hashes, the region tree's rules, device metadata, associations
// and the statistics' 30-day window.
#include <doctest/doctest.h>

#include <string>

#include "platform/store.hpp"
#include "temp_dir.hpp"
#include "web/meta.hpp"
#include "web/users.hpp"

using namespace m2m;
using namespace m2m::web;

TEST_CASE("roles: viewer reads, operator operates and manages, admin also manages users") {
  CHECK(allowed(Role::viewer, Action::view));
  CHECK_FALSE(allowed(Role::viewer, Action::control));
  CHECK_FALSE(allowed(Role::viewer, Action::manage));
  CHECK_FALSE(allowed(Role::viewer, Action::users));
  CHECK(allowed(Role::operator_, Action::control));
  CHECK(allowed(Role::operator_, Action::manage));
  CHECK_FALSE(allowed(Role::operator_, Action::users));
  CHECK(allowed(Role::admin, Action::users));
  CHECK(parse_role("operator").value() == Role::operator_);
  REQUIRE_FALSE(parse_role("root"));
  CHECK(parse_role("root").error().message == "role 'root': expected admin, operator or viewer");
  const auto table = role_table();
  REQUIRE(table.size() == 3);
  CHECK(table[0].first == Role::admin);
  CHECK(table[0].second.size() == 4);
  CHECK(table[2].second.size() == 1);
}

TEST_CASE("user names and passwords are checked before anything is stored") {
  CHECK(check_user_name("ops.team-1@site"));
  CHECK_FALSE(check_user_name(""));
  CHECK_FALSE(check_user_name(std::string(65, 'a')));
  CHECK(check_user_name("a b").error().message == "user name 'a b': use letters, digits, '.', '_', '-' or '@'");
  CHECK_FALSE(check_password("short"));
  CHECK(check_password("eight ch"));
  CHECK_FALSE(check_password(std::string(257, 'x')));
}

TEST_CASE("passwords are stored as Argon2id hashes that verify only the right password") {
  auto h = hash_password("correct horse");
  REQUIRE(h);
  CHECK(h->rfind("$argon2id$", 0) == 0);
  CHECK(h->find("correct") == std::string::npos);
  CHECK(verify_password(*h, "correct horse"));
  CHECK_FALSE(verify_password(*h, "correct hors"));
  CHECK_FALSE(verify_password("not a hash", "correct horse"));
  auto again = hash_password("correct horse");
  REQUIRE(again);
  CHECK(*again != *h);  // salted
}

TEST_CASE("the users table: add, refuse a second add, find, list in order, remove") {
  m2m_test::TempDir dir;
  auto store = UserStore::open(dir.db(), platform::Database::Access::create);
  REQUIRE(store);
  ConsoleUser u{"zed", "$argon2id$fake", Role::operator_, true};
  REQUIRE(store->put(u, false));
  auto again = store->put(u, false);
  REQUIRE_FALSE(again);
  CHECK(again.error().message == "user 'zed' exists (use 'user passwd' or 'user role')");
  REQUIRE(store->put(ConsoleUser{"amy", "$argon2id$x", Role::admin, true}, false));
  auto list = store->list();
  REQUIRE(list);
  REQUIRE(list->size() == 2);
  CHECK((*list)[0].name == "amy");
  CHECK((*list)[1].role == Role::operator_);
  CHECK(store->count_admins().value() == 1);
  auto f = store->find("zed");
  REQUIRE(f);
  REQUIRE(f->has_value());
  CHECK((*f)->hash == "$argon2id$fake");
  CHECK(store->remove("zed").value());
  CHECK_FALSE(store->remove("zed").value());
  CHECK_FALSE(store->find("zed").value().has_value());
}

TEST_CASE("regions form a tree: no cycles, no removal while something is inside") {
  m2m_test::TempDir dir;
  auto store = platform::Store::open(dir.db());
  REQUIRE(store);
  auto& db = store->db();
  REQUIRE(create_meta_tables(db));
  auto gd = add_region(db, "Guangdong", std::nullopt);
  REQUIRE(gd);
  auto sz = add_region(db, "Shenzhen", *gd);
  REQUIRE(sz);
  auto bad = add_region(db, "Nowhere", 999);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message == "no parent region 999");
  auto cycle = update_region(db, *gd, "Guangdong", *sz);
  REQUIRE_FALSE(cycle);
  CHECK(cycle.error().message == "a region cannot be inside itself");
  CHECK_FALSE(update_region(db, *gd, "Guangdong", *gd));
  REQUIRE(update_region(db, *sz, "Shenzhen City", *gd));
  auto busy = remove_region(db, *gd);
  REQUIRE_FALSE(busy);
  CHECK(busy.error().message.find("still holds sub-regions") != std::string::npos);

  platform::DeviceRecord d;
  d.id = 0xA1;
  d.group = "g1";
  d.description = "lobby";
  REQUIRE(store->put_device(d, platform::RecordStore::Mode::insert));
  REQUIRE(set_device_meta(db, 0xA1, DeviceMeta{*sz, "AC"}));
  REQUIRE(set_group_region(db, "g1", *gd));
  auto meta = load_meta(db);
  REQUIRE(meta);
  CHECK(meta->region(*sz)->name == "Shenzhen City");
  CHECK(meta->region(*sz)->parent == *gd);
  CHECK(meta->devices.at(0xA1).category == "AC");
  CHECK(meta->region_of(0xA1, "g1") == *sz);       // its own region
  CHECK(meta->region_of(0xB2, "g1") == *gd);       // its group's
  CHECK_FALSE(meta->region_of(0xB2, "g9").has_value());
  CHECK(meta->descriptions.at(0xA1) == "lobby");
  auto still = remove_region(db, *sz);
  REQUIRE_FALSE(still);  // the device is in it
  REQUIRE(remove_device_meta(db, 0xA1));
  CHECK(remove_region(db, *sz).value());
  CHECK_FALSE(remove_region(db, *sz).value());
}

TEST_CASE("associations go both ways, once, never with oneself") {
  m2m_test::TempDir dir;
  auto store = platform::Store::open(dir.db());
  REQUIRE(store);
  auto& db = store->db();
  REQUIRE(create_meta_tables(db));
  REQUIRE(associate(db, 2, 1));
  REQUIRE(associate(db, 1, 2));  // the same pair: no second row
  REQUIRE(associate(db, 1, 3));
  CHECK(associate(db, 4, 4).error().message == "a device cannot be associated with itself");
  auto meta = load_meta(db);
  REQUIRE(meta);
  CHECK(meta->links.at(1) == std::vector<std::uint64_t>{2, 3});
  CHECK(meta->links.at(2) == std::vector<std::uint64_t>{1});
  CHECK(dissociate(db, 2, 1).value());
  CHECK_FALSE(dissociate(db, 2, 1).value());
  CHECK(load_meta(db)->links.at(1) == std::vector<std::uint64_t>{3});
}

TEST_CASE("statistics keep 30 days of per-minute samples") {
  m2m_test::TempDir dir;
  auto store = platform::Store::open(dir.db());
  REQUIRE(store);
  auto& db = store->db();
  REQUIRE(create_meta_tables(db));
  const std::int64_t now = 29'000'000;  // a minute number
  REQUIRE(add_samples(db, {{now - 30 * 24 * 60 - 5, 'g', "old", 1}}));
  REQUIRE(add_samples(db, {{now - 10, 'g', "g1", 3}, {now - 10, 'r', "7", 2}}));
  REQUIRE(add_samples(db, {{now, 'g', "g1", 4}, {now, 't', "all", 4}}));  // prunes "old"
  auto g = samples_since(db, 0, 'g');
  REQUIRE(g);
  REQUIRE(g->size() == 2);
  CHECK((*g)[0].minute == now - 10);
  CHECK((*g)[0].online == 3);
  CHECK((*g)[1].online == 4);
  CHECK(samples_since(db, now - 5, 'g')->size() == 1);
  CHECK(samples_since(db, 0, 'r')->at(0).name == "7");
}
