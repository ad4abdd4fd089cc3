#include <doctest/doctest.h>

#include "telematics/frame.hpp"

using namespace m2m;
using namespace m2m::telematics;

namespace {

Bytes hex(std::string_view s) { return *parse_hex_text(s); }

Frame login() {
  Frame f;
  f.id = 0x0001;
  f.terminal = *parse_terminal("013800138000");
  f.seq = 7;
  return f;
}

}  // namespace

TEST_CASE("telematics: the protocol document's escaping example") {
  // telematics-protocol(7) "Escaping": a packet whose content is 30 7e 08 7d 55 goes on the wire as
  // 7e 30 7d 02 08 7d 01 55 7e.
  Bytes wire;
  escape(hex("30 7e 08 7d 55"), wire);
  CHECK(to_hex(wire) == "7E307D02087D01557E");
  Bytes back;
  REQUIRE(unescape(wire, back));
  CHECK(to_hex(back) == "307E087D55");
}

TEST_CASE("telematics: bad escapes are reported at the escape byte") {
  Bytes out;
  auto r = unescape(hex("7e 30 7d 03 7e"), out);
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == ErrorKind::bad_escape);
  CHECK(r.error().offset == 2);
  auto e = unescape(hex("7e 30 7d 7e"), out);
  REQUIRE_FALSE(e);
  CHECK(e.error().kind == ErrorKind::bad_escape);
  CHECK(e.error().offset == 2);
}

TEST_CASE("telematics: XOR checksum") {
  CHECK(xor_checksum(hex("")) == 0);
  CHECK(xor_checksum(hex("01 01 38 13 80 07")) == 0xAC);
  CHECK(xor_checksum(hex("FF 0F")) == 0xF0);
}

TEST_CASE("telematics: login frame bytes, little-endian header") {
  // id 01 00 | attr 00 00 | terminal 01 38 00 13 80 00 | seq 07 00 | additional 00 00 00 00 | xor AC
  auto wire = encode(login());
  REQUIRE(wire);
  CHECK(to_hex(*wire) == "7E01000000013800138000070000000000AC7E");
  Bytes content;
  REQUIRE(unescape(*wire, content));
  auto f = decode(content);
  REQUIRE(f);
  CHECK(f->id == 0x0001);
  CHECK(f->seq == 7);
  CHECK(format_terminal(f->terminal) == "013800138000");
  CHECK(f->body.empty());
  CHECK_FALSE(f->subpackage);
  CHECK(f->additional == 0);
}

TEST_CASE("telematics: escapes in header, body and checksum") {
  Frame f;
  f.id = 0x0004;
  f.terminal = *parse_terminal("013800138000");
  f.seq = 0x7e7d;
  f.body = hex("7E 7D 00");
  auto wire = encode(f);
  REQUIRE(wire);
  CHECK(to_hex(*wire) == "7E040003000138001380007D017D02000000007D027D0100AD7E");
  Bytes content;
  REQUIRE(unescape(*wire, content));
  CHECK(to_hex(content) == "040003000138001380007D7E000000007E7D00AD");
  auto d = decode(content);
  REQUIRE(d);
  CHECK(d->seq == 0x7e7d);
  CHECK(to_hex(d->body) == "7E7D00");
}

TEST_CASE("telematics: the additional field is a little-endian double word") {
  Frame f;
  f.id = 0xD001;
  f.terminal = *parse_terminal("013800138000");
  f.seq = 2;
  f.additional = 0x12345678;
  f.body = {0x01};
  auto wire = encode(f);
  REQUIRE(wire);
  CHECK(to_hex(*wire) == "7E01D0010001380013800002007856341201717E");
}

TEST_CASE("telematics: attribute bits: encryption, sub-package, reserved") {
  Frame f = login();
  f.body = hex("AABB");
  f.encryption = encryption::idea;
  f.subpackage = true;
  f.total = 3;
  f.number = 2;
  f.reserved = 2;
  auto wire = encode(f);
  REQUIRE(wire);
  Bytes content;
  REQUIRE(unescape(*wire, content));
  // attr = 2 | 1 << 10 | 1 << 13 | 2 << 14 = 0xA402, low byte first
  CHECK(to_hex(ByteView(content).subspan(2, 2)) == "02A4");
  CHECK(to_hex(ByteView(content).subspan(12, 4)) == "03000200");
  CHECK(content.size() == kSubHeaderSize + 2 + 1);
  auto d = decode(content);
  REQUIRE(d);
  CHECK(d->encryption == encryption::idea);
  CHECK(d->subpackage);
  CHECK(d->total == 3);
  CHECK(d->number == 2);
  CHECK(d->reserved == 2);
  CHECK(to_hex(d->body) == "AABB");
  CHECK(*encode(Frame::from(*d)) == *wire);
}

TEST_CASE("telematics: decode errors") {
  Bytes content = hex("01000000013800138000070000000000AC");
  SUBCASE("checksum") {
    content.back() ^= 1;
    auto r = decode(content);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::bad_checksum);
    CHECK(r.error().offset == content.size() - 1);
    CHECK(length_matches(content));
  }
  SUBCASE("length field") {
    content[2] = 4;
    auto r = decode(content);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::bad_length);
    CHECK(r.error().offset == 2);
    CHECK_FALSE(length_matches(content));
  }
  SUBCASE("too short") {
    auto r = decode(ByteView(content).first(10));
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::bad_length);
  }
}

TEST_CASE("telematics: body limit") {
  Frame f = login();
  f.body.assign(kMaxBody, 0x11);
  CHECK(encode(f));
  f.body.push_back(0);
  auto r = encode(f);
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == ErrorKind::too_long);
}

TEST_CASE("telematics: BCD terminal id") {
  auto t = parse_terminal("13800138000");  // 11 digits: left-padded
  REQUIRE(t);
  CHECK(to_hex(*t) == "013800138000");
  CHECK(is_bcd(*t));
  CHECK(format_terminal(*t) == "013800138000");
  CHECK(format_terminal(*parse_terminal("7")) == "000000000007");
  CHECK_FALSE(parse_terminal(""));
  CHECK_FALSE(parse_terminal("1234567890123"));
  CHECK_FALSE(parse_terminal("12x4"));
  // A non-BCD nibble in a capture still round-trips through the text form.
  TerminalId odd{0x01, 0x2A, 0xFF, 0x00, 0x00, 0x09};
  CHECK_FALSE(is_bcd(odd));
  CHECK(format_terminal(odd) == "012AFF000009");
  CHECK(*parse_terminal("012aff000009") == odd);
}
