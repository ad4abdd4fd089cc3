#include <doctest/doctest.h>

#include "core/bytes.hpp"

using namespace m2m;

TEST_CASE("to_hex is uppercase without separators") {
  CHECK(to_hex(Bytes{}) == "");
  CHECK(to_hex(Bytes{0x00, 0x55, 0xab, 0xff}) == "0055ABFF");
  std::string s = "x=";
  append_hex(s, Bytes{0x01, 0xa0});
  CHECK(s == "x=01A0");
}

TEST_CASE("parse_hex: strict even-length hex, either case") {
  auto r = parse_hex("0055abFF");
  REQUIRE(r);
  CHECK(*r == Bytes{0x00, 0x55, 0xab, 0xff});
  CHECK(parse_hex("")->empty());

  auto odd = parse_hex("abc");  // offset: the unpaired digit
  REQUIRE_FALSE(odd);
  CHECK(odd.error().kind == ErrorKind::bad_hex);
  CHECK(odd.error().message.find("odd") != std::string::npos);
  CHECK(odd.error().offset == 2);

  auto bad_hi = parse_hex("00g1");
  REQUIRE_FALSE(bad_hi);
  CHECK(bad_hi.error().offset == 2);
  CHECK(bad_hi.error().message.find("'g'") != std::string::npos);
  auto bad_lo = parse_hex("001z");
  REQUIRE_FALSE(bad_lo);
  CHECK(bad_lo.error().offset == 3);
  auto space = parse_hex("00 11");  // strict: no whitespace
  REQUIRE_FALSE(space);
  CHECK(space.error().offset == 2);
  auto ctrl = parse_hex("0\x01");
  REQUIRE_FALSE(ctrl);
  CHECK(ctrl.error().message.find("0x01") != std::string::npos);  // control bytes shown as hex
}

TEST_CASE("parse_hex_text: whitespace and # comments are ignored") {
  auto r = parse_hex_text("55 1D 00\tA0\r\n# a comment with 55 and zz in it\n00 01 # trailing\n  0a0B");
  REQUIRE(r);
  CHECK(to_hex(*r) == "551D00A000010A0B");
  CHECK(parse_hex_text("")->empty());
  CHECK(parse_hex_text("   \n# only a comment")->empty());
  CHECK(to_hex(*parse_hex_text("# comment at end without newline\nAB#cd")) == "AB");
  // A byte may be split by whitespace: the text is a digit stream.
  CHECK(to_hex(*parse_hex_text("5 5")) == "55");
}

TEST_CASE("parse_hex_text: odd digit count and bad characters carry offsets") {
  auto odd = parse_hex_text("55 1D\n0");
  REQUIRE_FALSE(odd);
  CHECK(odd.error().kind == ErrorKind::bad_hex);
  CHECK(odd.error().offset == 6);  // the unpaired digit
  CHECK(odd.error().message.find("odd") != std::string::npos);

  auto bad = parse_hex_text("55 1D 0x12");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().offset == 7);
  CHECK(bad.error().message.find("'x'") != std::string::npos);

  auto after_comment = parse_hex_text("# zz\n55,66");
  REQUIRE_FALSE(after_comment);
  CHECK(after_comment.error().offset == 7);

  auto high = parse_hex_text("AB\xC3\xA9");
  REQUIRE_FALSE(high);
  CHECK(high.error().offset == 2);
  CHECK(high.error().message.find("0xC3") != std::string::npos);
}

TEST_CASE("endian helpers") {
  Bytes b;
  put_le16(b, 0x1234);
  put_be16(b, 0x1234);
  put_be32(b, 0xA1B2C3D4);
  put_be64(b, 0x0102030405060708ULL);
  CHECK(to_hex(b) == "34121234A1B2C3D40102030405060708");
  CHECK(get_le16(&b[0]) == 0x1234);
  CHECK(get_be16(&b[2]) == 0x1234);
  CHECK(get_be32(&b[4]) == 0xA1B2C3D4);
  CHECK(get_be64(&b[8]) == 0x0102030405060708ULL);
  CHECK(get_le16(as_bytes("\xff\xfe").data()) == 0xFEFF);
}
