#include <doctest/doctest.h>

#include "core/gbk.hpp"

using namespace m2m;

TEST_CASE("GBK -> UTF-8") {
  // 中文 = D6D0 CEC4 in GBK; 升级 = C9FD BCB6.
  auto r = gbk_to_utf8(Bytes{0xD6, 0xD0, 0xCE, 0xC4, 'O', 'K'});
  REQUIRE(r);
  CHECK(*r == "中文OK");
  CHECK(*gbk_to_utf8(Bytes{0xC9, 0xFD, 0xBC, 0xB6}) == "升级");
  CHECK(*gbk_to_utf8(as_bytes("plain ascii")) == "plain ascii");
  CHECK(gbk_to_utf8(Bytes{})->empty());
}

TEST_CASE("UTF-8 -> GBK") {
  auto r = utf8_to_gbk("中文OK");
  REQUIRE(r);
  CHECK(to_hex(*r) == "D6D0CEC44F4B");
  CHECK(to_hex(*utf8_to_gbk("升级")) == "C9FDBCB6");
  CHECK(utf8_to_gbk("")->empty());
}

TEST_CASE("GBK round trip of every two-byte code that converts") {
  int converted = 0;
  for (int hi = 0x81; hi <= 0xFE; ++hi)
    for (int lo = 0x40; lo <= 0xFE; lo += 7) {
      Bytes g{static_cast<std::uint8_t>(hi), static_cast<std::uint8_t>(lo)};
      auto u = gbk_to_utf8(g);
      if (!u) continue;
      ++converted;
      auto back = utf8_to_gbk(*u);
      REQUIRE(back);
      REQUIRE(*back == g);
    }
  CHECK(converted > 2000);
}

TEST_CASE("invalid GBK and UTF-8 are errors with the byte offset") {
  auto trunc = gbk_to_utf8(Bytes{'a', 'b', 0xD6});  // lead byte without its trail
  REQUIRE_FALSE(trunc);
  CHECK(trunc.error().kind == ErrorKind::bad_value);
  CHECK(trunc.error().offset == 2);
  auto bad = gbk_to_utf8(Bytes{'x', 0xFF, 0xFF});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().offset == 1);

  auto bad_utf8 = utf8_to_gbk("ab\xC3(");
  REQUIRE_FALSE(bad_utf8);
  CHECK(bad_utf8.error().offset == 2);
  auto no_gbk = utf8_to_gbk("ok \xF0\x9F\x98\x80");  // an emoji has no GBK code
  REQUIRE_FALSE(no_gbk);
  CHECK(no_gbk.error().offset == 3);
  // A failed conversion leaves the (cached) converter usable.
  CHECK(*utf8_to_gbk("中") == Bytes{0xD6, 0xD0});
}

TEST_CASE("GBK 0x80 (euro sign) grows three times and still fits") {
  Bytes euros(200, 0x80);
  auto r = gbk_to_utf8(euros);
  if (!r) {
    // Some iconv builds treat 0x80 as invalid GBK; then it must be a clean error at byte 0.
    CHECK(r.error().offset == 0);
    return;
  }
  CHECK(r->size() == 600);
  CHECK(r->substr(0, 3) == "€");
}
