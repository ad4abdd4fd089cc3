#include <doctest/doctest.h>

#include <algorithm>

#include "m2m/frame.hpp"

using namespace m2m;
using namespace m2m::ai;

namespace {

Frame make(std::uint8_t cls, std::uint8_t cmd, std::uint16_t seq, std::uint64_t device, Bytes token, Bytes data,
           std::uint8_t st = status::request) {
  Frame f;
  f.cls = cls;
  f.cmd = cmd;
  f.seq = seq;
  f.status = st;
  f.device = device;
  f.token = std::move(token);
  f.data = std::move(data);
  return f;
}

Bytes encode_ok(const Frame& f, CrcVariant v = CrcVariant::modbus) {
  auto r = encode(f, v);
  REQUIRE(r);
  return *r;
}

// Wire -> unescaped -> decoded, checking every field against the original.
void check_round_trip(const Frame& f, CrcVariant v = CrcVariant::modbus) {
  Bytes wire = encode_ok(f, v);
  REQUIRE(wire.front() == kHead);
  REQUIRE(wire.back() == kHead);
  // The only 0x55 on the wire are head and tail; every 0x54 starts an escape.
  CHECK(std::count(wire.begin(), wire.end(), kHead) == 2);
  for (std::size_t i = 1; i + 1 < wire.size(); ++i)
    if (wire[i] == kEscape) {
      REQUIRE((wire[i + 1] == 0x01 || wire[i + 1] == 0x02));
      ++i;
    }
  Bytes un;
  REQUIRE(unescape(wire, un));
  CHECK(un.size() == unescaped_size(f.view()));
  CHECK(get_le16(&un[1]) == un.size());
  auto d = decode(un, v);
  REQUIRE(d);
  CHECK(d->cls == f.cls);
  CHECK(d->cmd == f.cmd);
  CHECK(d->seq == f.seq);
  CHECK(d->ext == f.ext);
  CHECK(d->status == f.status);
  CHECK(d->device == f.device);
  if (has_token_field(f.cls, f.cmd)) CHECK(Bytes(d->token.begin(), d->token.end()) == f.token);
  else CHECK(d->token.empty());
  CHECK(Bytes(d->data.begin(), d->data.end()) == f.data);
}

// The wire CRC bytes (unescaped) of a frame.
std::pair<std::uint8_t, std::uint8_t> crc_bytes(const Frame& f) {
  Bytes un;
  REQUIRE(unescape(encode_ok(f), un));
  return {un[un.size() - 3], un[un.size() - 2]};
}

}  // namespace

TEST_CASE("encode: known login frame, byte for byte (CRC from an independent bitwise model)") {
  Frame f = make(cls::link, 0x00, 1, 0xFED24A, {0xEE}, {1, 2, 3, 4, 5, 6, 7, 8});
  CHECK(to_hex(encode_ok(f)) == "551D00A00001000000020000000000FED24A01020304050607082F0555");
}

TEST_CASE("encode: 0x54/0x55 in sequence, device id, token and data are escaped") {
  Frame f = make(cls::link, 0x01, 0x5455, 0x5500000000FED254, {0x54, 0x55, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF}, {});
  CHECK(to_hex(encode_ok(f)) ==
        "551E00A00154015402000002540100000000FED254020854025401AABBCCDDEEFF38EE55");
  check_round_trip(f);
  check_round_trip(make(cls::data, 0xEE, 0x5555, 0x5454545455555555, Bytes(8, 0x55), Bytes(40, 0x54)));
  check_round_trip(make(cls::data, 0xEE, 0x5454, 0x5555545455555454, Bytes(8, 0x54), {0x55, 0x54, 0x55, 0x01, 0x02}));
}

TEST_CASE("encode: 0x54/0x55 in the length field") {
  const Bytes tok(8, 0x11);
  // Unescaped length = 18 + 9 + data + 3 = 30 + data.
  for (std::size_t len : {0x54u, 0x55u, 0x154u, 0x155u, 0x554u, 0x555u}) {
    INFO(len);
    Frame f = make(cls::data, 0xEE, 9, 42, tok, Bytes(len - 30, 0x33));
    Bytes un;
    REQUIRE(unescape(encode_ok(f), un));
    REQUIRE(un.size() == len);
    CHECK(un[1] == (len & 0xFF));
    check_round_trip(f);
  }
}

TEST_CASE("encode: CRC bytes equal to 0x55 or 0x54 are escaped too") {
  // Search sequence numbers for frames whose CRC low/high byte is 0x54 or 0x55.
  bool found[4] = {};  // low 55, low 54, high 55, high 54
  for (unsigned seq = 0; seq < 65536 && !(found[0] && found[1] && found[2] && found[3]); ++seq) {
    Frame f = make(cls::data, 0xEE, static_cast<std::uint16_t>(seq), 0x0000ACCF23456789, Bytes(8, 0x42), {0xDE, 0xAD});
    auto [lo, hi] = crc_bytes(f);
    int which = lo == 0x55 ? 0 : lo == 0x54 ? 1 : hi == 0x55 ? 2 : hi == 0x54 ? 3 : -1;
    if (which < 0 || found[which]) continue;
    found[which] = true;
    const int crc_lo = lo, crc_hi = hi;  // not the bindings: clang 14 cannot capture them
    INFO("seq " << seq << " crc " << crc_lo << " " << crc_hi);
    check_round_trip(f);
    Bytes wire = encode_ok(f);
    // The escaped CRC sits just before the tail.
    const std::uint8_t b = which % 2 == 0 ? 0x01 : 0x02;
    if (which < 2) CHECK(((wire[wire.size() - 4] == kEscape && wire[wire.size() - 3] == b)));
    else CHECK((wire[wire.size() - 3] == kEscape && wire[wire.size() - 2] == b));
  }
  CHECK(found[0]);
  CHECK(found[1]);
  CHECK(found[2]);
  CHECK(found[3]);
}

TEST_CASE("token field: absent exactly in A0 00 and EF 00, present (even L = 0) elsewhere") {
  for (std::uint8_t c : {cls::link, cls::platform})
    for (std::uint8_t st : {status::request, status::ok, status::fail}) {
      INFO(int(c) << " status " << int(st));
      Frame f = make(c, 0x00, 7, 1, {0xAB, 0xCD}, {1, 2, 3, 4, 5, 6, 7, 8}, st);
      CHECK_FALSE(has_token_field(c, 0x00));
      Bytes un;
      REQUIRE(unescape(encode_ok(f), un));
      CHECK(un.size() == kMinFrame + 8);  // the token given is ignored
      CHECK(un[18] == 1);                 // data starts right after the device id
      auto d = decode(un);
      REQUIRE(d);
      CHECK(d->token.empty());
      CHECK(d->data.size() == 8);
    }
  for (auto [c, cmd] : {std::pair{cls::link, std::uint8_t{0x01}}, {cls::data, std::uint8_t{0x00}},
                        {cls::term, std::uint8_t{0x00}}, {cls::platform, std::uint8_t{0x01}}, {std::uint8_t{0x12}, std::uint8_t{0x00}}}) {
    const int cls_i = c, cmd_i = cmd;  // not the bindings: clang 14 cannot capture them
    INFO(cls_i << " " << cmd_i);
    CHECK(has_token_field(c, cmd));
    Frame empty_token = make(c, cmd, 1, 2, {}, {});
    Bytes un;
    REQUIRE(unescape(encode_ok(empty_token), un));
    CHECK(un.size() == kMinFrame + 1);
    CHECK(un[18] == 0);  // L = 0
    check_round_trip(empty_token);
    check_round_trip(make(c, cmd, 1, 2, Bytes(8, 0x77), {9, 9}));
  }
  // A0 00 frames from the platform (the login reply) carry the token in the *data*.
  check_round_trip(make(cls::link, 0x00, 3, 5, {}, {8, 1, 2, 3, 4, 5, 6, 7, 8}, status::ok));
}

TEST_CASE("encode/decode at the 1400-byte limit; 1401 refused and reported") {
  Frame max = make(cls::data, 0xEE, 1, 2, Bytes(8, 0x55), Bytes(kMaxFrame - 30, 0x54));
  CHECK(unescaped_size(max.view()) == 1400);
  Bytes wire = encode_ok(max);
  CHECK(wire.size() <= kMaxEscaped);
  check_round_trip(max);

  Frame over = max;
  over.data.push_back(0);
  auto r = encode(over);
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == ErrorKind::too_long);
  CHECK(r.error().message.find("1400") != std::string::npos);
  CHECK(r.error().message.find("1401") != std::string::npos);
  // The message says how many data bytes fit with this header and token (issue 15).
  CHECK(r.error().message ==
        "frame would be 1401 bytes; the protocol limit is 1400: with its header and 8-byte token at most 1370 "
        "data bytes fit (it has 1371)");
  Bytes out{0xAA};
  CHECK_FALSE(encode(over.view(), CrcVariant::modbus, out));
  CHECK(out == Bytes{0xAA});  // unchanged on failure

  // A well-formed 1401-byte frame (length and CRC right) is still refused by decode.
  Bytes big(1401, 0x33);
  big[0] = big[1400] = kHead;
  big[1] = 1401 & 0xFF;
  big[2] = 1401 >> 8;
  std::uint16_t c = crc16(CrcVariant::modbus, ByteView(big).first(1398));
  big[1398] = c & 0xFF;
  big[1399] = c >> 8;
  auto d = decode(big);
  REQUIRE_FALSE(d);
  CHECK(d.error().kind == ErrorKind::too_long);
  CHECK(d.error().message.find("1400") != std::string::npos);
}

TEST_CASE("encode: the too_long message counts the data bytes that fit for the frame's token field") {
  // A login has no token field: 1400 - 21 bytes of data fit.
  auto login = encode(make(cls::link, 0x00, 1, 2, {}, Bytes(1400, 1)));
  REQUIRE_FALSE(login);
  CHECK(login.error().kind == ErrorKind::too_long);
  CHECK(login.error().message ==
        "frame would be 1421 bytes; the protocol limit is 1400: with its header and no token field at most 1379 "
        "data bytes fit (it has 1400)");
  // An empty token field still takes its length byte.
  auto empty = encode(make(cls::data, 0xEE, 1, 2, {}, Bytes(1400, 1)));
  REQUIRE_FALSE(empty);
  CHECK(empty.error().message ==
        "frame would be 1422 bytes; the protocol limit is 1400: with its header and 0-byte token at most 1378 "
        "data bytes fit (it has 1400)");
  // What the message says fits does fit.
  CHECK(encode(make(cls::link, 0x00, 1, 2, {}, Bytes(1379, 1))));
  CHECK(encode(make(cls::data, 0xEE, 1, 2, {}, Bytes(1378, 1))));
}

TEST_CASE("encode refuses a token longer than 255 bytes") {
  auto r = encode(make(cls::data, 0xEE, 1, 2, Bytes(256, 1), {}));
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == ErrorKind::bad_value);
  CHECK(r.error().message.find("255") != std::string::npos);
  CHECK(encode(make(cls::data, 0xEE, 1, 2, Bytes(255, 1), {})));
}

TEST_CASE("every CRC variant round-trips and a frame checked with another variant fails") {
  Frame f = make(cls::term, 0xAA, 77, 0xFED24A, Bytes(8, 3), {0x0C, 0x00});
  for (auto v : {CrcVariant::modbus, CrcVariant::ccitt_false, CrcVariant::xmodem}) check_round_trip(f, v);
  Bytes un;
  REQUIRE(unescape(encode_ok(f, CrcVariant::xmodem), un));
  auto d = decode(un, CrcVariant::modbus);
  REQUIRE_FALSE(d);
  CHECK(d.error().kind == ErrorKind::bad_crc);
  CHECK(d.error().message.find("modbus") != std::string::npos);
}

TEST_CASE("decode errors and their offsets") {
  Frame f = make(cls::data, 0xEE, 1, 2, Bytes(8, 1), {1, 2, 3});
  Bytes un;
  REQUIRE(unescape(encode_ok(f), un));
  REQUIRE(decode(un));

  SUBCASE("short") {
    auto d = decode(ByteView(un).first(20));
    REQUIRE_FALSE(d);
    CHECK(d.error().kind == ErrorKind::bad_length);
  }
  SUBCASE("head or tail not 0x55") {
    Bytes b = un;
    b.back() = 0;
    CHECK(decode(b).error().kind == ErrorKind::bad_length);
    b = un;
    b.front() = 0;
    CHECK(decode(b).error().kind == ErrorKind::bad_length);
  }
  SUBCASE("length field disagrees") {
    Bytes b = un;
    b[1] += 1;
    auto d = decode(b);
    REQUIRE_FALSE(d);
    CHECK(d.error().kind == ErrorKind::bad_length);
    CHECK(d.error().offset == 1);
  }
  SUBCASE("bad CRC points at the CRC") {
    Bytes b = un;
    b[20] ^= 0x80;
    auto d = decode(b);
    REQUIRE_FALSE(d);
    CHECK(d.error().kind == ErrorKind::bad_crc);
    CHECK(d.error().offset == b.size() - 3);
  }
  SUBCASE("token length past the end") {
    Bytes b = un;
    b[18] = 200;  // L runs past the data
    std::uint16_t c = crc16(CrcVariant::modbus, ByteView(b).first(b.size() - 3));
    b[b.size() - 3] = c & 0xFF;
    b[b.size() - 2] = c >> 8;
    auto d = decode(b);
    REQUIRE_FALSE(d);
    CHECK(d.error().kind == ErrorKind::bad_length);
    CHECK(d.error().offset == 18);
  }
  SUBCASE("no room for the token length byte") {
    Bytes b = {0x55, 21, 0, 0xAA, 0xEE, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0x55};
    std::uint16_t c = crc16(CrcVariant::modbus, ByteView(b).first(18));
    b[18] = c & 0xFF;
    b[19] = c >> 8;
    auto d = decode(b);
    REQUIRE_FALSE(d);
    CHECK(d.error().kind == ErrorKind::bad_length);
    // The same bytes are a valid A0 00 frame (no token field) once class and cmd say so.
    b[3] = 0xA0;
    b[4] = 0x00;
    c = crc16(CrcVariant::modbus, ByteView(b).first(18));
    b[18] = c & 0xFF;
    b[19] = c >> 8;
    CHECK(decode(b));
  }
}

TEST_CASE("unescape") {
  Bytes out;
  REQUIRE(unescape(Bytes{0x55, 0x54, 0x01, 0x54, 0x02, 0x07, 0x55}, out));
  CHECK(to_hex(out) == "5555540755");
  auto bad = unescape(Bytes{0x55, 0x10, 0x54, 0x03, 0x55}, out);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().kind == ErrorKind::bad_escape);
  CHECK(bad.error().offset == 2);
  CHECK(bad.error().message.find("0x03") != std::string::npos);
  auto dangling = unescape(Bytes{0x55, 0x10, 0x54, 0x55}, out);
  REQUIRE_FALSE(dangling);
  CHECK(dangling.error().kind == ErrorKind::bad_escape);
  CHECK(dangling.error().offset == 2);
  CHECK_FALSE(unescape(Bytes{0x55}, out));
  CHECK_FALSE(unescape(Bytes{0x10, 0x55}, out));
}

TEST_CASE("device ids: format and every accepted input form") {
  CHECK(format_device(0xFED24A) == "0000000000FED24A");
  CHECK(format_device(0xFFFFFFFFFFFFFFFFULL) == "FFFFFFFFFFFFFFFF");
  CHECK(*parse_device("0000000000FED24A") == 0xFED24A);
  CHECK(*parse_device("0000000000fed24a") == 0xFED24A);
  CHECK(*parse_device("0x0000000000FED24A") == 0xFED24A);
  CHECK(*parse_device("0XFED24A") == 0xFED24A);
  CHECK(*parse_device("FED24A") == 0xFED24A);
  CHECK(*parse_device("1") == 1);
  CHECK(*parse_device("FFFFFFFFFFFFFFFF") == 0xFFFFFFFFFFFFFFFFULL);
  CHECK(*parse_device("AA:BB:CC:DD:EE:FF") == 0xAABBCCDDEEFFULL);
  CHECK(*parse_device("aa-bb-cc-dd-ee-0f") == 0xAABBCCDDEE0FULL);
  for (std::uint64_t id : {0ULL, 1ULL, 0xFED24AULL, 0x5455545554555455ULL})
    CHECK(*parse_device(format_device(id)) == id);
}

TEST_CASE("device ids: refused forms") {
  for (const char* bad : {"", "0x", "00000000000000001", "FED24G", " FED24A", "FED24A ", "-1", "AA:BB:CC:DD:EE",
                          "AA:BB:CC:DD:EE:FF:", ":AA:BB:CC:DD:EE:FF", "AA:BB:CC:DD:EE:FF:11", "AA:BB-CC:DD:EE:FF",
                          "AABB:CC:DD:EE:FF", "A:BB:CC:DD:EE:FFF", "AA:BB:CC:DD:EE:GG", "AA::BB:CC:DD:EE"}) {
    INFO('"' << bad << '"');
    auto r = parse_device(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::bad_value);
  }
}

TEST_CASE("encode appends to a buffer; unescape reuses one") {
  Frame a = make(cls::data, 0xEE, 0x5455, 1, Bytes(8, 0x55), Bytes(300, 0x54));
  Frame b = make(cls::link, 0x01, 2, 3, {}, {});
  Bytes both;
  for (int i = 0; i < 50; ++i) {
    REQUIRE(encode(a.view(), CrcVariant::modbus, both));
    REQUIRE(encode(b.view(), CrcVariant::modbus, both));
  }
  Bytes wa = encode_ok(a), wb = encode_ok(b);
  REQUIRE(both.size() == 50 * (wa.size() + wb.size()));
  CHECK(std::equal(wa.begin(), wa.end(), both.begin()));
  CHECK(std::equal(wb.begin(), wb.end(), both.end() - static_cast<std::ptrdiff_t>(wb.size())));

  Bytes un;
  REQUIRE(unescape(wa, un));  // large first
  REQUIRE(unescape(wb, un));  // then a smaller frame into the same buffer
  CHECK(un.size() == unescaped_size(b.view()));
  CHECK(decode(un));
  CHECK_FALSE(unescape(Bytes{0x55, 0x54, 0x09, 0x55}, un));
  REQUIRE(unescape(wa, un));
  CHECK(un.size() == unescaped_size(a.view()));
}
