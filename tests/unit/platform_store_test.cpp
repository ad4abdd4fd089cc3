// The registry file layer: CSV records that span lines, who may create or write the file,
// and errors that name the file.
#include <doctest/doctest.h>


#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "platform/csv.hpp"
#include "platform/records.hpp"
#include "platform/store.hpp"
#include "temp_dir.hpp"

using namespace m2m;
using namespace m2m::platform;

namespace {
std::vector<std::vector<std::string>> read_all(const std::string& text, std::vector<std::uint64_t>* lines = nullptr) {
  std::istringstream in(text);
  CsvReader r(in);
  std::vector<std::vector<std::string>> out;
  std::vector<std::string> f;
  for (;;) {
    auto more = r.next(f);
    REQUIRE(more);
    if (!*more) break;
    out.push_back(f);
    if (lines) lines->push_back(r.record_line());
  }
  return out;
}

using m2m_test::TempDir;
}  // namespace

TEST_CASE("csv reader: quoted fields may hold line breaks; records report their first line") {
  std::vector<std::uint64_t> lines;
  auto recs = read_all("a,b\r\n\"x\ny\",\"say \"\"hi\"\"\"\n\"\r\n\",\n,\nlast,\"q\"", &lines);
  REQUIRE(recs.size() == 5);
  CHECK(recs[0] == std::vector<std::string>{"a", "b"});
  CHECK(recs[1] == std::vector<std::string>{"x\ny", "say \"hi\""});
  CHECK(recs[2] == std::vector<std::string>{"\r\n", ""});
  CHECK(recs[3] == std::vector<std::string>{"", ""});
  CHECK(recs[4] == std::vector<std::string>{"last", "q"});
  CHECK(lines == std::vector<std::uint64_t>{1, 2, 4, 6, 7});
  CHECK(read_all("").empty());
  CHECK(read_all("\n") == std::vector<std::vector<std::string>>{{""}});
}

TEST_CASE("csv reader: errors carry the line") {
  std::istringstream in("h\nok\n\"open\n\nnever closed");
  CsvReader r(in);
  std::vector<std::string> f;
  REQUIRE(*r.next(f));
  REQUIRE(*r.next(f));
  auto bad = r.next(f);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().offset == 3);
  CHECK(bad.error().message == "unterminated quoted field (opened on line 3)");
  std::istringstream in2("a,b\"c\n");
  CsvReader r2(in2);
  CHECK_FALSE(r2.next(f));
}

TEST_CASE("csv: every description survives the writer and the reader") {
  const std::vector<std::string> descs = {"line one\nline two", "say \"hi\", then leave", " padded ", "crlf\r\nin",
                                          "a,b", "\"", "", "\n", "trailing\r", "ünï, 中文"};
  std::string text;
  for (const auto& d : descs) {
    DeviceRecord rec;
    rec.id = 0xD00 + text.size();
    rec.description = d;
    text += join_csv(device_to_csv(rec)) + "\n";
  }
  auto recs = read_all(text);
  REQUIRE(recs.size() == descs.size());
  for (std::size_t i = 0; i < descs.size(); ++i) {
    auto d = device_from_csv(recs[i]);
    REQUIRE(d);
    CHECK(d->description == descs[i]);
  }
}

TEST_CASE("store: only the create access makes a file; errors name the file") {
  TempDir dir;
  const std::string path = dir.file("reg.db");
  for (auto access : {Store::Access::read_only, Store::Access::read_write}) {
    auto s = Store::open(path, access);
    REQUIRE_FALSE(s);
    CHECK(s.error().message.rfind(path + ": no registry file (No such file or directory)", 0) == 0);
    CHECK_FALSE(std::filesystem::exists(path));
  }
  {
    auto s = Store::open(path, Store::Access::create);
    REQUIRE(s);
    DeviceRecord d;
    d.id = 7;
    d.description = "two\nlines";
    REQUIRE(s->put_device(d, Store::Mode::insert));
  }
  auto ro = Store::open(path, Store::Access::read_only);
  REQUIRE(ro);
  std::vector<DeviceRecord> got;
  REQUIRE(ro->each_device([&](const DeviceRecord& r) { got.push_back(r); }));
  REQUIRE(got.size() == 1);
  CHECK(got[0].description == "two\nlines");
  DeviceRecord other;
  other.id = 8;
  auto w = ro->put_device(other, Store::Mode::insert);
  REQUIRE_FALSE(w);
  CHECK(w.error().message.rfind(path + ": attempt to write a readonly database", 0) == 0);

  const std::string junk = dir.file("junk.db");
  {
    std::FILE* f = std::fopen(junk.c_str(), "w");
    for (int i = 0; i < 100; ++i) std::fputs("this is not an SQLite file\n", f);
    std::fclose(f);
  }
  auto j = Store::open(junk, Store::Access::read_only);
  REQUIRE_FALSE(j);
  CHECK(j.error().message == junk + ": file is not a database");
}

TEST_CASE("store: a writer waits for another connection's write lock instead of failing") {
  TempDir dir;
  const std::string path = dir.file("reg.db");
  REQUIRE(Store::open(path, Store::Access::create));
  auto a = Store::open(path, Store::Access::read_write);
  auto b = Store::open(path, Store::Access::read_write);
  REQUIRE(a);
  REQUIRE(b);
  // b holds the write lock while a reads: WAL readers do not wait for writers.
  Transaction tx(b->db());
  REQUIRE(tx.begin());
  DeviceRecord d;
  d.id = 1;
  REQUIRE(b->put_device(d, Store::Mode::insert));
  int n = 0;
  REQUIRE(a->each_device([&](const DeviceRecord&) { ++n; }));
  CHECK(n == 0);  // the uncommitted row is not visible
  REQUIRE(tx.commit());
  auto v0 = a->db().data_version();
  REQUIRE(b->put_device(DeviceRecord{.id = 2, .description = {}}, Store::Mode::insert));
  auto v1 = a->db().data_version();
  REQUIRE(v0);
  REQUIRE(v1);
  CHECK(*v0 != *v1);  // a sees that another connection changed the file
  auto v2 = a->db().data_version();
  CHECK(*v1 == *v2);
  REQUIRE(a->put_device(DeviceRecord{.id = 3, .description = {}}, Store::Mode::insert));
  CHECK(*a->db().data_version() == *v2);  // its own writes do not count
}
