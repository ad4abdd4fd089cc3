// Gree serial codec: request and status frames, checksum variants, the stream reader
// (the remote-code bits are in gree_remote_code_test.cpp). Golden frames were computed by hand (and with a one-line Python sum/xor)
// from gree-protocol(7), not by this codec.
#include <doctest/doctest.h>

#include <string>

#include "gree/frame.hpp"

using namespace m2m;
using namespace m2m::gree;

namespace {

// Builds a frame from its ASCII body with start and end codes around it.
Bytes frame(std::uint8_t start, const std::string& ascii, std::uint8_t end) {
  Bytes b;
  b.reserve(ascii.size() + 2);
  b.push_back(start);
  for (char c : ascii) b.push_back(static_cast<std::uint8_t>(c));
  b.push_back(end);
  return b;
}

RemoteCode code_of(std::uint8_t b1, std::uint8_t b2, std::uint8_t b3, std::uint8_t b4) {
  RemoteCode c;
  c.bytes = {b1, b2, b3, b4};
  return c;
}

}  // namespace

TEST_CASE("gree checksum: sum8 and xor8 over ASCII") {
  const auto b = as_bytes("102319072050");
  CHECK(checksum(Checksum::sum8, b) == 0x5E);
  CHECK(checksum(Checksum::xor8, b) == 0x08);
  CHECK(checksum(Checksum::sum8, {}) == 0x00);
  CHECK(parse_checksum("sum8") == Checksum::sum8);
  CHECK(parse_checksum("xor8") == Checksum::xor8);
  CHECK_FALSE(parse_checksum("crc8").has_value());
  CHECK(to_string(Checksum::xor8) == "xor8");
}

TEST_CASE("gree request: addressed 0x07 encodes byte for byte") {
  Request r{RequestKind::addressed, 1023, code_of(0x19, 0x07, 0x20, 0x50)};
  auto sum = encode_request(r, Checksum::sum8);
  REQUIRE(sum);
  CHECK(*sum == frame(0x07, "1023190720505E", 0x0D));
  CHECK(sum->size() == kRequestSize);
  auto x = encode_request(r, Checksum::xor8);
  REQUIRE(x);
  CHECK(*x == frame(0x07, "10231907205008", 0x0D));

  auto back = decode_request(*sum, Checksum::sum8);
  REQUIRE(back);
  CHECK(*back == r);
  // The same bytes do not pass the other checksum variant.
  auto wrong = decode_request(*sum, Checksum::xor8);
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().kind == ErrorKind::bad_checksum);
  CHECK(wrong.error().offset == 13);
}

TEST_CASE("gree request: read and broadcast always carry address 0000") {
  auto read = encode_request({RequestKind::read, 1023, RemoteCode::factory()});
  REQUIRE(read);
  CHECK(*read == frame(0x06, "00000009205050", 0x0D));
  auto bc = encode_request({RequestKind::broadcast, 55, code_of(0x39, 0x08, 0x20, 0x50)});
  REQUIRE(bc);
  CHECK(*bc == frame(0x05, "0000390820505B", 0x0D));
  auto set = encode_request({RequestKind::set_address, 0, RemoteCode::factory()});
  REQUIRE(set);
  CHECK((*set)[0] == 0x0A);
  CHECK(std::string(set->begin() + 1, set->begin() + 5) == "0000");
}

TEST_CASE("gree request: encoder refuses what cannot go on the wire") {
  CHECK_FALSE(encode_request({RequestKind::addressed, 0, RemoteCode::factory()}));
  CHECK_FALSE(encode_request({RequestKind::addressed, 10000, RemoteCode::factory()}));
  CHECK_FALSE(encode_request({RequestKind::set_address, -1, RemoteCode::factory()}));
  CHECK(encode_request({RequestKind::addressed, 9999, RemoteCode::factory()}));
}

TEST_CASE("gree request kinds and replies") {
  CHECK(expects_reply(RequestKind::read));
  CHECK_FALSE(expects_reply(RequestKind::broadcast));
  CHECK(expects_reply(RequestKind::addressed));
  CHECK(expects_reply(RequestKind::set_address));
  CHECK(to_string(RequestKind::set_address) == "set_address");
  for (int b = 0; b < 256; ++b)
    CHECK(is_request_start(static_cast<std::uint8_t>(b)) == (b == 5 || b == 6 || b == 7 || b == 10));
}

TEST_CASE("gree status: every field of a 24-byte frame") {
  const Bytes f = frame(0x08, "102319072050244AB24516", 0x0F);
  REQUIRE(f.size() == kStatusSize);
  auto s = decode_status(f);
  REQUIRE(s);
  CHECK(s->address == 1023);
  CHECK(s->code.hex() == "19072050");
  CHECK(s->room_temp == 24);
  CHECK(s->s1 == 0x4A);
  CHECK(s->s2 == 0xB2);
  CHECK(s->s3 == 0x45);
  // status 1
  CHECK(s->swing());
  CHECK_FALSE(s->light());
  CHECK_FALSE(s->heater());
  CHECK(s->indoor_fan_high());
  CHECK_FALSE(s->indoor_fan_medium());
  CHECK(s->indoor_fan_low());
  CHECK_FALSE(s->ventilation());
  // status 2
  CHECK(s->outdoor_fan_low());
  CHECK(s->outdoor_fan_high());
  CHECK(s->four_way_valve());
  CHECK(s->compressor());
  // status 3: E1 + E3, memory, heat pump
  CHECK(s->faults() == 0x05);
  CHECK(s->memory());
  CHECK_FALSE(s->cooling_only());

  auto again = encode_status(*s);
  REQUIRE(again);
  CHECK(*again == f);
  auto x = encode_status(*s, Checksum::xor8);
  REQUIRE(x);
  CHECK(*x == frame(0x08, "102319072050244AB2450A", 0x0F));
}

TEST_CASE("gree status: each status bit maps to exactly one accessor") {
  for (int bit = 0; bit < 8; ++bit) {
    Status s;
    s.s1 = static_cast<std::uint8_t>(1u << bit);
    const int on = s.ventilation() + s.indoor_fan_low() + s.indoor_fan_medium() + s.indoor_fan_high() + s.heater() +
                   s.light() + s.swing();
    CHECK(on == (bit == 7 ? 0 : 1));  // bit 7 of status 1 is unused
  }
  Status s;
  s.s2 = 0x02; CHECK(s.compressor());
  s.s2 = 0x10; CHECK(s.four_way_valve());
  s.s2 = 0x20; CHECK(s.outdoor_fan_high());
  s.s2 = 0x80; CHECK(s.outdoor_fan_low());
  s.s2 = 0x4D; CHECK_FALSE((s.compressor() || s.four_way_valve() || s.outdoor_fan_high() || s.outdoor_fan_low()));
  s.s3 = 0x80; CHECK(s.cooling_only()); CHECK(s.faults() == 0); CHECK_FALSE(s.memory());
  s.s3 = 0x20; CHECK(s.faults() == 0x20);
}

TEST_CASE("gree status: lower-case hex is accepted, upper case is written") {
  // The checksum covers the bytes as received, so lower-case digits change the sum.
  Bytes f = frame(0x08, "102319072050244ab24556", 0x0F);
  auto s = decode_status(f);
  REQUIRE(s);
  CHECK(s->s1 == 0x4A);
  Bytes g = frame(0x08, "00000009205026000040DC", 0x0F);
  auto t = decode_status(g);
  REQUIRE(t);
  CHECK(t->code == RemoteCode::factory());
  CHECK(t->room_temp == 26);
}

TEST_CASE("gree decode: malformed frames give errors with offsets, never crash") {
  const Bytes good = frame(0x08, "102319072050244AB24516", 0x0F);
  SUBCASE("length") {
    auto e = decode_status(Bytes(good.begin(), good.end() - 1));
    REQUIRE_FALSE(e);
    CHECK(e.error().kind == ErrorKind::bad_length);
    CHECK_FALSE(decode_status(Bytes{}));
    CHECK_FALSE(decode_request(Bytes{}));
    CHECK_FALSE(decode_request(good));
  }
  SUBCASE("start and end codes") {
    Bytes b = good;
    b[0] = 0x07;
    CHECK_FALSE(decode_status(b));
    b = good;
    b[23] = 0x0D;
    auto e = decode_status(b);
    REQUIRE_FALSE(e);
    CHECK(e.error().offset == 23);
  }
  SUBCASE("non-digit address") {
    Bytes b = good;
    b[3] = 'A';
    auto e = decode_status(b);
    REQUIRE_FALSE(e);
    CHECK(e.error().kind == ErrorKind::bad_value);
    CHECK(e.error().offset == 3);
  }
  SUBCASE("non-hex code, room temperature, status, checksum") {
    for (std::size_t at : {6u, 14u, 16u, 21u}) {
      Bytes b = good;
      b[at] = 'G';
      auto e = decode_status(b);
      REQUIRE_FALSE(e);
      CHECK(e.error().offset == at);
    }
    Bytes b = good;
    b[13] = 'A';  // room temperature is decimal
    CHECK_FALSE(decode_status(b));
  }
  SUBCASE("bad checksum names both values") {
    Bytes b = good;
    b[21] = '7';
    auto e = decode_status(b);
    REQUIRE_FALSE(e);
    CHECK(e.error().kind == ErrorKind::bad_checksum);
    CHECK(e.error().message.find("76") != std::string::npos);
    CHECK(e.error().message.find("16") != std::string::npos);
  }
  SUBCASE("request with bad pieces") {
    const Bytes req = frame(0x07, "1023190720505E", 0x0D);
    REQUIRE(decode_request(req));
    Bytes b = req;
    b[0] = 0x08;
    CHECK_FALSE(decode_request(b));
    b = req;
    b[15] = 0x0F;
    CHECK_FALSE(decode_request(b));
    b = req;
    b[7] = 'x';
    CHECK_FALSE(decode_request(b));
    b = req;
    b[14] = 'F';
    CHECK(decode_request(b).error().kind == ErrorKind::bad_checksum);
  }
}

TEST_CASE("gree status: encoder refuses out-of-range fields") {
  Status s;
  s.room_temp = 100;
  CHECK_FALSE(encode_status(s));
  s.room_temp = 5;
  s.address = 10000;
  CHECK_FALSE(encode_status(s));
  s.address = 7;
  auto ok = encode_status(s);
  REQUIRE(ok);
  CHECK(std::string(ok->begin() + 1, ok->begin() + 5) == "0007");
  CHECK(std::string(ok->begin() + 13, ok->begin() + 15) == "05");
}

TEST_CASE("gree faults: codes and messages") {
  CHECK(parse_fault("E3") == 3);
  CHECK(parse_fault("e6") == 6);
  CHECK_FALSE(parse_fault("E7"));
  CHECK_FALSE(parse_fault("E0"));
  CHECK_FALSE(parse_fault("F1"));
  CHECK_FALSE(parse_fault("E"));
  CHECK(fault_message(1) == "compressor high-pressure protection");
  CHECK(fault_message(6) == "communication fault");
}

TEST_CASE("gree stream reader: frames, garbage and resynchronisation") {
  const Bytes req = frame(0x07, "1023190720505E", 0x0D);
  const Bytes st = frame(0x08, "102319072050244AB24516", 0x0F);
  StreamReader rd;
  Bytes input{'x', 'y'};
  input.insert(input.end(), req.begin(), req.end());
  input.push_back(0xFF);
  input.insert(input.end(), st.begin(), st.end());
  // Fed one byte at a time, as a serial line delivers it; garbage may come in several
  // pieces (the reader reports it as soon as nothing plausible is buffered), so coalesce.
  std::vector<StreamReader::Item> items;
  auto add = [&](StreamReader::Item it) {
    if (!it.is_frame && !items.empty() && !items.back().is_frame)
      items.back().bytes.insert(items.back().bytes.end(), it.bytes.begin(), it.bytes.end());
    else
      items.push_back(std::move(it));
  };
  for (std::uint8_t b : input) {
    rd.feed(ByteView(&b, 1));
    while (auto it = rd.next()) add(*it);
  }
  while (auto it = rd.finish()) add(*it);
  REQUIRE(items.size() == 4);
  CHECK_FALSE(items[0].is_frame);
  CHECK(items[0].bytes == Bytes{'x', 'y'});
  CHECK(items[1].is_frame);
  CHECK(items[1].bytes == req);
  CHECK(items[1].offset == 2);
  CHECK_FALSE(items[2].is_frame);
  CHECK(items[2].offset == 18);
  CHECK(items[3].is_frame);
  CHECK(items[3].bytes == st);
  CHECK(items[3].offset == 19);
  CHECK(rd.buffered() == 0);
}

TEST_CASE("gree stream reader: a truncated frame is skipped when the next one starts") {
  const Bytes st = frame(0x08, "102319072050244AB24516", 0x0F);
  StreamReader rd;
  Bytes input(st.begin(), st.begin() + 10);  // cut off mid-frame (a dropped line)
  input.insert(input.end(), st.begin(), st.end());
  rd.feed(input);
  auto a = rd.next();
  REQUIRE(a);
  CHECK_FALSE(a->is_frame);
  CHECK(a->bytes.size() == 10);
  auto b = rd.next();
  REQUIRE(b);
  CHECK(b->is_frame);
  CHECK(b->bytes == st);
  CHECK_FALSE(rd.next());
}

TEST_CASE("gree stream reader: partial frame waits, finish reports the rest") {
  const Bytes st = frame(0x08, "102319072050244AB24516", 0x0F);
  StreamReader rd;
  rd.feed(ByteView(st).first(12));
  CHECK_FALSE(rd.next());
  CHECK(rd.buffered() == 12);
  auto rest = rd.finish();
  REQUIRE(rest);
  CHECK_FALSE(rest->is_frame);
  CHECK(rest->bytes.size() == 12);
  CHECK_FALSE(rd.finish());
}
