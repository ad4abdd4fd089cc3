#include <doctest/doctest.h>

#include "telematics/reassembly.hpp"

using namespace m2m;
using namespace m2m::telematics;

namespace {

Frame part(std::uint16_t number, std::uint16_t total, Bytes body, std::uint16_t seq) {
  Frame f;
  f.id = 0x0004;
  f.terminal = *parse_terminal("013800138000");
  f.seq = seq;
  f.subpackage = true;
  f.total = total;
  f.number = number;
  f.additional = 0;
  f.body = std::move(body);
  return f;
}

}  // namespace

TEST_CASE("telematics reassembly: parts in any order make one message") {
  Reassembler r;
  std::vector<Incomplete> dropped;
  Frame p2 = part(2, 3, {0x22}, 11), p1 = part(1, 3, {0x11, 0x12}, 10), p3 = part(3, 3, {0x33}, 12);
  auto a = r.add(p2.view(), 100, dropped);
  REQUIRE(a);
  CHECK_FALSE(*a);
  auto b = r.add(p1.view(), 50, dropped);
  REQUIRE(b);
  CHECK_FALSE(*b);
  CHECK(r.pending() == 1);
  auto c = r.add(p3.view(), 200, dropped);
  REQUIRE(c);
  REQUIRE(*c);
  const Reassembled& m = **c;
  CHECK(m.parts == 3);
  CHECK(m.offset == 100);  // the earliest part in the stream
  CHECK(to_hex(m.frame.body) == "11122233");
  CHECK(m.frame.seq == 10);  // part 1's header
  CHECK_FALSE(m.frame.subpackage);
  CHECK(m.frame.id == 0x0004);
  CHECK(dropped.empty());
  CHECK(r.pending() == 0);
  CHECK(r.finish().empty());
}

TEST_CASE("telematics reassembly: missing parts are reported at the end") {
  Reassembler r;
  std::vector<Incomplete> dropped;
  Frame p1 = part(1, 4, {0x11}, 1), p3 = part(3, 4, {0x33}, 3);
  REQUIRE(r.add(p1.view(), 7, dropped));
  REQUIRE(r.add(p3.view(), 40, dropped));
  auto left = r.finish();
  REQUIRE(left.size() == 1);
  CHECK(left[0].missing == std::vector<std::uint16_t>{2, 4});
  CHECK(left[0].total == 4);
  CHECK(left[0].offset == 7);
  Error e = left[0].error();
  CHECK(e.kind == ErrorKind::truncated);
  CHECK(e.offset == 7);
  CHECK(e.message == "sub-packaged working_data (0x0004) from terminal 013800138000: 2 of 4 parts arrived; missing 2,4");
}

TEST_CASE("telematics reassembly: a repeated part starts the set over") {
  Reassembler r;
  std::vector<Incomplete> dropped;
  Frame p1 = part(1, 2, {0x11}, 1);
  REQUIRE(r.add(p1.view(), 0, dropped));
  REQUIRE(r.add(p1.view(), 30, dropped));
  REQUIRE(dropped.size() == 1);
  CHECK(dropped[0].missing == std::vector<std::uint16_t>{2});
  Frame p2 = part(2, 2, {0x22}, 2);
  auto m = r.add(p2.view(), 60, dropped);
  REQUIRE(m);
  REQUIRE(*m);
  CHECK((*m)->offset == 30);
  CHECK(to_hex((*m)->frame.body) == "1122");
}

TEST_CASE("telematics reassembly: sets of different messages stay apart; bad part numbers") {
  Reassembler r;
  std::vector<Incomplete> dropped;
  Frame a1 = part(1, 2, {0xA1}, 1);
  Frame b1 = part(1, 2, {0xB1}, 1);
  b1.terminal = *parse_terminal("2");
  Frame a2 = part(2, 2, {0xA2}, 2);
  REQUIRE(r.add(a1.view(), 0, dropped));
  REQUIRE(r.add(b1.view(), 1, dropped));
  auto m = r.add(a2.view(), 2, dropped);
  REQUIRE(m);
  REQUIRE(*m);
  CHECK(to_hex((*m)->frame.body) == "A1A2");
  CHECK(r.pending() == 1);
  Frame zero = part(0, 2, {}, 3), over = part(3, 2, {}, 3);
  CHECK_FALSE(r.add(zero.view(), 3, dropped));
  CHECK_FALSE(r.add(over.view(), 3, dropped));
  CHECK(r.finish().size() == 1);
}

TEST_CASE("telematics reassembly: pending bytes are bounded") {
  Reassembler r;
  std::vector<Incomplete> dropped;
  Frame old = part(1, 2, {0x01}, 1);
  REQUIRE(r.add(old.view(), 0, dropped));
  std::size_t parts = 0;
  for (std::uint16_t n = 1; dropped.empty() && n < 60000; ++n) {  // one huge message, never complete
    Frame p = part(n, 60000, Bytes(kMaxBody, 0x55), n);
    REQUIRE(r.add(p.view(), n, dropped));
    ++parts;
  }
  CHECK((parts + 1) * Reassembler::kPartCost + parts * kMaxBody + 1 > Reassembler::kMaxPendingBytes);
  REQUIRE(dropped.size() == 1);
  CHECK(dropped.front().total == 2);  // the oldest set goes first
}

TEST_CASE("telematics reassembly: the number of pending sets is bounded, empty parts too") {
  Reassembler r;
  std::vector<Incomplete> dropped;
  for (std::uint16_t t = 2; t < 2 + Reassembler::kMaxPendingSets; ++t) {
    Frame p = part(1, t, {}, 1);
    REQUIRE(r.add(p.view(), t, dropped));
  }
  CHECK(dropped.empty());
  Frame one_more = part(1, 60000, {}, 1);
  REQUIRE(r.add(one_more.view(), 0, dropped));
  REQUIRE(dropped.size() == 1);
  CHECK(dropped[0].total == 2);
  CHECK(r.pending() == Reassembler::kMaxPendingSets);
}
