#include <doctest/doctest.h>

#include <random>
#include <sstream>

#include "cli/hex_stream.hpp"
#include "m2m/deframer.hpp"

using namespace m2m;
using namespace m2m::ai;

namespace {

// An event reduced to comparable text, so sequences from different chunkings can be compared.
struct Ev {
  bool ok = false;
  std::string kind;  // "ok" or the error kind
  std::uint64_t offset = 0;
  std::uint64_t error_offset = 0;
  std::uint64_t skipped = 0;
  std::string raw;
  std::string info;  // ok: cls cmd seq device token data
  bool operator==(const Ev&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Ev& e) {
  return os << e.kind << "@" << e.offset << " err@" << e.error_offset << " skipped=" << e.skipped << " raw=" << e.raw
            << " " << e.info;
}

Ev reduce(const DeframeEvent& d) {
  Ev e;
  e.ok = d.ok;
  e.kind = d.ok ? "ok" : std::string(to_string(d.error.kind));
  e.offset = d.offset;
  e.skipped = d.skipped;
  e.raw = to_hex(d.raw);
  if (d.ok) {
    std::ostringstream s;
    s << int(d.frame.cls) << "/" << int(d.frame.cmd) << "/" << d.frame.seq << "/" << format_device(d.frame.device) << "/"
      << to_hex(d.frame.token) << "/" << to_hex(d.frame.data);
    e.info = s.str();
    // The unescaped view is the decoded frame.
    REQUIRE(d.unescaped.size() == get_le16(d.unescaped.data() + 1));
  } else {
    e.error_offset = d.error.offset;
    REQUIRE_FALSE(d.error.message.empty());
  }
  return e;
}

// Feeds `in` in chunks of the given sizes (cycled), then finish(); checks buffered() stays bounded
// and that a garbage event keeps the first `keep` of its skipped bytes.
std::vector<Ev> run(ByteView in, const std::vector<std::size_t>& sizes, std::size_t keep = kGarbageRawLimit) {
  Deframer d(CrcVariant::modbus, keep);
  std::vector<Ev> out;
  auto add = [&](const DeframeEvent& ev) {
    out.push_back(reduce(ev));
    if (!ev.ok && ev.error.kind == ErrorKind::garbage) REQUIRE(ev.raw.size() == std::min<std::uint64_t>(ev.skipped, keep));
  };
  DeframeEvent ev;
  std::size_t at = 0, k = 0;
  while (at < in.size()) {
    std::size_t n = std::min(sizes[k++ % sizes.size()], in.size() - at);
    d.feed(in.subspan(at, n));
    at += n;
    while (d.next(ev)) add(ev);
    REQUIRE(d.buffered() <= kMaxEscaped);
    REQUIRE(d.offset() == at);
  }
  d.finish();
  while (d.next(ev)) add(ev);
  CHECK_FALSE(d.next(ev));
  CHECK(d.idle());
  return out;
}

std::vector<Ev> run_whole(ByteView in, std::size_t keep = kGarbageRawLimit) {
  return run(in, {in.size() ? in.size() : 1}, keep);
}

// Checks that whole, one-byte and random chunkings all give the same events; returns them.
std::vector<Ev> run_all_ways(ByteView in, std::size_t keep = kGarbageRawLimit) {
  auto whole = run_whole(in, keep);
  CHECK(run(in, {1}, keep) == whole);
  std::mt19937 rng(12345);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<std::size_t> sizes;
    for (int i = 0; i < 64; ++i) sizes.push_back(std::uniform_int_distribution<std::size_t>(1, trial < 10 ? 8 : 300)(rng));
    INFO("trial " << trial);
    REQUIRE(run(in, sizes, keep) == whole);
  }
  return whole;
}

Frame make(std::uint8_t cls, std::uint8_t cmd, std::uint16_t seq, Bytes data, Bytes token = Bytes(8, 0x5A)) {
  Frame f;
  f.cls = cls;
  f.cmd = cmd;
  f.seq = seq;
  f.device = 0x0000ACCF23A5B6C7;
  f.token = std::move(token);
  f.data = std::move(data);
  return f;
}

Bytes wire(const Frame& f) {
  auto r = encode(f);
  REQUIRE(r);
  return *r;
}

void append(Bytes& to, const Bytes& b) { to.insert(to.end(), b.begin(), b.end()); }

// Re-encodes a wire frame after changing one unescaped byte, keeping the CRC as it was.
Bytes corrupt(const Bytes& w, std::size_t unescaped_index, std::uint8_t x) {
  Bytes un;
  REQUIRE(unescape(w, un));
  un[unescaped_index] ^= x;
  Bytes out{kHead};
  for (std::size_t i = 1; i + 1 < un.size(); ++i) {
    if (un[i] == kHead) append(out, {kEscape, 0x01});
    else if (un[i] == kEscape) append(out, {kEscape, 0x02});
    else out.push_back(un[i]);
  }
  out.push_back(kHead);
  return out;
}

}  // namespace

TEST_CASE("deframer: back-to-back frames, including escapes everywhere") {
  Bytes in;
  std::vector<Bytes> frames = {wire(make(cls::link, 0x00, 1, {1, 2, 3, 4, 5, 6, 7, 8})),
                               wire(make(cls::link, 0x01, 0x5455, {}, Bytes(8, 0x55))),
                               wire(make(cls::data, 0xEE, 0x5554, Bytes(100, 0x54))),
                               wire(make(cls::term, 0xF0, 4, {0x10, 'o', 'k', 0}, {}))};
  for (auto& f : frames) append(in, f);
  auto ev = run_all_ways(in);
  REQUIRE(ev.size() == frames.size());
  std::uint64_t off = 0;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    CHECK(ev[i].ok);
    CHECK(ev[i].offset == off);
    CHECK(ev[i].raw == to_hex(frames[i]));
    off += frames[i].size();
  }
  CHECK(ev[1].info == "160/1/21589/0000ACCF23A5B6C7/5555555555555555/");
}

TEST_CASE("deframer: garbage before, between and after frames is counted once per run") {
  Bytes a = wire(make(cls::link, 0x01, 1, {}));
  Bytes b = wire(make(cls::link, 0x01, 2, {}));
  Bytes in = {0x01, 0x02, 0x03};
  append(in, a);
  append(in, {0xAB, 0xCD});
  append(in, b);
  append(in, {0x00, 0x00, 0x00, 0x00});
  auto ev = run_all_ways(in);
  REQUIRE(ev.size() == 5);
  CHECK(ev[0].kind == "garbage");
  CHECK(ev[0].offset == 0);
  CHECK(ev[0].error_offset == 0);
  CHECK(ev[0].skipped == 3);
  CHECK(ev[0].raw == "010203");  // the skipped bytes themselves (an empty raw before issue 15)
  CHECK(ev[1].ok);
  CHECK(ev[1].offset == 3);
  CHECK(ev[2].kind == "garbage");
  CHECK(ev[2].offset == 3 + a.size());
  CHECK(ev[2].skipped == 2);
  CHECK(ev[2].raw == "ABCD");
  CHECK(ev[3].ok);
  CHECK(ev[3].offset == 5 + a.size());
  CHECK(ev[4].kind == "garbage");  // trailing garbage is flushed by finish()
  CHECK(ev[4].skipped == 4);
  CHECK(ev[4].offset == 5 + a.size() + b.size());
  CHECK(ev[4].raw == "00000000");
}

TEST_CASE("deframer: garbage bytes are kept up to the bound, the message counts them all") {
  Bytes a = wire(make(cls::link, 0x01, 1, {}));
  Bytes in;
  for (std::size_t i = 0; i < 5000; ++i) in.push_back(static_cast<std::uint8_t>(i % 0x50));  // no 0x55
  append(in, a);
  auto ev = run_all_ways(in);
  REQUIRE(ev.size() == 2);
  CHECK(ev[0].kind == "garbage");
  CHECK(ev[0].skipped == 5000);
  CHECK(ev[0].raw == to_hex(ByteView(in).first(kGarbageRawLimit)));
  CHECK(ev[1].ok);

  Deframer d(CrcVariant::modbus, kGarbageRawLimit);
  d.feed(in);
  DeframeEvent e;
  REQUIRE(d.next(e));
  CHECK(e.error.message == "skipped 5000 bytes outside any frame (raw holds the first 1400)");
  REQUIRE(d.next(e));
  CHECK(e.ok);

  // Exactly the bound: every byte kept, the message as for a short run.
  Deframer b(CrcVariant::modbus, 4);
  const Bytes four = {1, 2, 3, 4, 0x55, 0x55};  // a chunk must outlive the events
  b.feed(four);
  REQUIRE(b.next(e));
  CHECK(to_hex(e.raw) == "01020304");
  CHECK(e.error.message == "skipped 4 bytes outside any frame");
  CHECK_FALSE(b.next(e));
  // A one-byte run: singular.
  Deframer one(CrcVariant::modbus, 4);
  const Bytes nine = {9};
  one.feed(nine);
  one.finish();
  REQUIRE(one.next(e));
  CHECK(to_hex(e.raw) == "09");
  CHECK(e.error.message == "skipped 1 byte outside any frame");
}

TEST_CASE("deframer: by default no garbage bytes are kept (a server only counts them)") {
  Bytes a = wire(make(cls::link, 0x01, 1, {}));
  Bytes in(3000, 0x01);
  append(in, a);
  auto ev = run_all_ways(in, 0);
  REQUIRE(ev.size() == 2);
  CHECK(ev[0].skipped == 3000);
  CHECK(ev[0].raw == "");
  Deframer d;
  d.feed(in);
  DeframeEvent e;
  REQUIRE(d.next(e));
  CHECK(e.raw.empty());
  CHECK(e.error.message == "skipped 3000 bytes outside any frame");
}

TEST_CASE("deframer: kept garbage stays valid while the event queued behind it is handed out") {
  Bytes f = wire(make(cls::data, 0xEE, 9, {1, 2, 3}));
  Bytes in = {0x11, 0x22};
  append(in, f);
  Bytes more = {0x33};
  append(more, f);
  Deframer d(CrcVariant::modbus, kGarbageRawLimit);
  DeframeEvent ev;
  d.feed(in);
  REQUIRE(d.next(ev));
  CHECK(to_hex(ev.raw) == "1122");
  REQUIRE(d.next(ev));
  CHECK(ev.ok);
  CHECK_FALSE(d.next(ev));
  d.feed(more);  // a second run reuses the buffer
  REQUIRE(d.next(ev));
  CHECK(to_hex(ev.raw) == "33");
  CHECK(ev.offset == in.size());
  REQUIRE(d.next(ev));
  CHECK(ev.ok);
  CHECK(to_hex(ev.raw) == to_hex(f));
  CHECK_FALSE(d.next(ev));
  d.release_memory();
  CHECK(d.idle());
}

TEST_CASE("deframer: an event queued behind a garbage report keeps its views") {
  Bytes f = wire(make(cls::data, 0xEE, 9, {1, 2, 3}));
  Bytes in = {0x11, 0x22};
  append(in, f);
  Deframer d;
  d.feed(in);
  DeframeEvent ev;
  REQUIRE(d.next(ev));
  CHECK(ev.error.kind == ErrorKind::garbage);
  CHECK(ev.skipped == 2);
  CHECK_FALSE(d.idle());
  REQUIRE(d.next(ev));
  REQUIRE(ev.ok);
  CHECK(ev.frame.seq == 9);
  CHECK(to_hex(ev.frame.data) == "010203");
  CHECK(to_hex(ev.raw) == to_hex(f));
  CHECK_FALSE(d.next(ev));
}

TEST_CASE("deframer: bad_crc is delimited (tail consumed), offset points at the CRC on the wire") {
  // Escapes before the CRC shift its wire position: seq 0x5555 adds two bytes.
  Bytes good = wire(make(cls::data, 0xEE, 0x5555, {7, 7}));
  Bytes bad = corrupt(good, 20, 0x01);  // change the token, keep the CRC
  Bytes in = {0x99};
  append(in, bad);
  append(in, good);
  auto ev = run_all_ways(in);
  REQUIRE(ev.size() == 3);
  CHECK(ev[0].kind == "garbage");
  CHECK(ev[0].raw == "99");
  CHECK(ev[1].kind == "bad_crc");
  CHECK(ev[1].offset == 1);
  CHECK(ev[1].raw == to_hex(bad));
  Bytes un;
  REQUIRE(unescape(bad, un));
  // wire position of the CRC low byte = unescaped position + escapes before it
  CHECK(ev[1].error_offset == 1 + (un.size() - 3) + (bad.size() - un.size()));
  CHECK(ev[2].ok);
  CHECK(ev[2].offset == 1 + bad.size());
}

TEST_CASE("deframer: bad_length and bad_escape hand their closing 0x55 to the next frame") {
  Bytes good = wire(make(cls::link, 0x01, 3, {}));
  SUBCASE("bad_length") {
    // 55 10 00 03 | 55…: the length field says 16, the candidate has 5 bytes: undelimited.
    Bytes in = {0x55, 0x10, 0x00, 0x03};
    append(in, good);
    auto ev = run_all_ways(in);
    REQUIRE(ev.size() == 2);
    CHECK(ev[0].kind == "bad_length");
    CHECK(ev[0].offset == 0);
    CHECK(ev[0].error_offset == 1);  // the length field
    CHECK(ev[0].raw == "5510000355");  // raw shows the 0x55 that became the next head
    CHECK(ev[1].ok);
    CHECK(ev[1].offset == 4);
    CHECK(ev[1].raw == to_hex(good));
  }
  SUBCASE("length field agrees but the frame is too short: delimited bad_length") {
    Bytes in = {0x55, 0x05, 0x00, 0x01, 0x55};
    append(in, good);
    auto ev = run_all_ways(in);
    REQUIRE(ev.size() == 2);
    CHECK(ev[0].kind == "bad_length");
    CHECK(ev[0].raw == "5505000155");
    CHECK(ev[1].ok);
    CHECK(ev[1].offset == 5);  // tail consumed; the next 0x55 is a fresh head
  }
  SUBCASE("bad_escape") {
    Bytes bad = good;
    bad.insert(bad.begin() + 12, {kEscape, 0x07});
    Bytes in = bad;
    append(in, good);
    auto ev = run_all_ways(in);
    REQUIRE(ev.size() == 2);
    CHECK(ev[0].kind == "bad_escape");
    CHECK(ev[0].offset == 0);
    CHECK(ev[0].error_offset == 12);
    CHECK(ev[1].ok);
    CHECK(ev[1].offset == bad.size());
  }
  SUBCASE("escape right before the tail") {
    Bytes in = {0x55, 0x01, 0x54, 0x55};
    append(in, good);
    auto ev = run_all_ways(in);
    REQUIRE(ev.size() == 2);
    CHECK(ev[0].kind == "bad_escape");
    CHECK(ev[0].error_offset == 2);
    CHECK(ev[1].ok);
  }
}

TEST_CASE("deframer: while resynchronising, further undelimited candidates count as garbage") {
  Bytes good = wire(make(cls::link, 0x01, 3, {}));
  Bytes in = {0x55, 0x01, 0x02, 0x55, 0x03, 0x04, 0x55, 0x05, 0x06, 0x07};
  append(in, good);
  auto ev = run_all_ways(in);
  REQUIRE(ev.size() == 3);
  CHECK(ev[0].kind == "bad_length");
  CHECK(ev[0].raw == "55010255");
  CHECK(ev[1].kind == "garbage");
  CHECK(ev[1].offset == 3);
  CHECK(ev[1].skipped == 7);  // 55 03 04 and 55 05 06 07
  CHECK(ev[1].raw == "55030455050607");
  CHECK(ev[2].ok);
  CHECK(ev[2].offset == 10);
}

TEST_CASE("deframer: joining a stream mid-frame resynchronises on the next frame") {
  Bytes f1 = wire(make(cls::data, 0xEE, 1, Bytes(30, 0x21)));
  Bytes f2 = wire(make(cls::data, 0xEE, 2, {1}));
  Bytes f3 = wire(make(cls::data, 0xEE, 3, {2}));
  for (std::size_t join : {1u, 5u, 20u, 30u}) {
    INFO("join at " << join);
    Bytes in(f1.begin() + join, f1.end());
    append(in, f2);
    append(in, f3);
    auto ev = run_all_ways(in);
    // The tail of f1 is taken as a head, f2's head makes an empty pair: only garbage is lost.
    REQUIRE(ev.size() == 3);
    CHECK(ev[0].kind == "garbage");
    CHECK(ev[0].skipped == f1.size() - join - 1);
    CHECK(ev[0].raw == to_hex(ByteView(f1).subspan(join, f1.size() - join - 1)));
    CHECK(ev[1].ok);
    CHECK(ev[1].offset == f1.size() - join);
    CHECK(ev[1].info.starts_with("170/238/2/"));
    CHECK(ev[2].ok);
  }
  // Joining where garbage separates the frames: the stray tail opens one undelimited candidate.
  Bytes in(f1.begin() + 10, f1.end());
  append(in, {0x01, 0x02});
  append(in, f2);
  auto ev = run_all_ways(in);
  REQUIRE(ev.size() == 3);
  CHECK(ev[0].kind == "garbage");
  CHECK(ev[1].kind == "bad_length");
  CHECK(ev[1].raw == "55010255");
  CHECK(ev[2].ok);
}

TEST_CASE("deframer: `55 55` empty pairs and stray heads are not frames") {
  Bytes f = wire(make(cls::link, 0x01, 1, {}));
  Bytes in = {0x55, 0x55, 0x55};
  append(in, f);
  append(in, {0x55});
  append(in, f);
  auto ev = run_all_ways(in);
  REQUIRE(ev.size() == 2);
  CHECK(ev[0].ok);
  CHECK(ev[0].offset == 3);
  // The lone 0x55 after the first frame and the next head form an empty pair: nothing lost.
  CHECK(ev[1].ok);
  CHECK(ev[1].offset == 4 + f.size());
  auto pair_at_end = run_all_ways(Bytes{0x55, 0x55});  // the second head starts a frame that never ends
  REQUIRE(pair_at_end.size() == 1);
  CHECK(pair_at_end[0].kind == "truncated");
  CHECK(pair_at_end[0].offset == 1);
  CHECK(pair_at_end[0].raw == "55");
  CHECK(run_all_ways(Bytes{}).empty());
}

TEST_CASE("deframer: too_long candidates, buffered memory stays within 2 x 1400") {
  Bytes good = wire(make(cls::link, 0x01, 3, {}));
  SUBCASE("past kMaxEscaped wire bytes: discarded without buffering it all") {
    Bytes in = {0x55};
    in.resize(1 + 5000, 0x11);
    append(in, good);
    auto ev = run_all_ways(in);
    REQUIRE(ev.size() == 2);
    CHECK(ev[0].kind == "too_long");
    CHECK(ev[0].offset == 0);
    CHECK(ev[0].error_offset == 0);
    CHECK(ev[0].skipped == 5001);
    CHECK(ev[0].raw.size() == 2 * kMaxEscaped);  // hex of the first 2800 bytes
    CHECK(ev[1].ok);
    CHECK(ev[1].offset == 5001);
  }
  SUBCASE("exactly at the threshold") {
    for (std::size_t body : {kMaxEscaped - 2, kMaxEscaped - 1, kMaxEscaped}) {
      INFO(body);
      Bytes in = {0x55};
      in.resize(1 + body, 0x11);
      append(in, good);
      auto ev = run_all_ways(in);
      REQUIRE(ev.size() == 2);
      CHECK(ev[0].kind == "too_long");  // > 1400 unescaped either way
      CHECK(ev[0].skipped == 1 + body);
      CHECK(ev[0].raw.size() == 2 * std::min<std::size_t>(1 + body, kMaxEscaped));
      CHECK(ev[1].ok);
    }
  }
  SUBCASE("a shorter candidate that unescapes to more than 1400 bytes") {
    Bytes in = {0x55};
    in.resize(1500, 0x22);
    append(in, good);
    auto ev = run_all_ways(in);
    REQUIRE(ev.size() == 2);
    CHECK(ev[0].kind == "too_long");
    CHECK(ev[0].skipped == 1500);
    CHECK(ev[1].ok);
  }
  SUBCASE("reported even while resynchronising") {
    Bytes in = {0x55, 0x01, 0x02};  // undelimited -> resync
    Bytes big(4000, 0x33);
    big[0] = 0x55;
    append(in, big);
    append(in, good);
    auto ev = run_all_ways(in);
    REQUIRE(ev.size() == 3);
    CHECK(ev[0].kind == "bad_length");
    CHECK(ev[1].kind == "too_long");
    CHECK(ev[1].offset == 3);
    CHECK(ev[1].skipped == 4000);
    CHECK(ev[2].ok);
  }
  SUBCASE("input ends inside a too-long candidate") {
    Bytes in = good;
    in.push_back(0x55);
    in.resize(in.size() + 9999, 0x44);
    auto ev = run_all_ways(in);
    REQUIRE(ev.size() == 2);
    CHECK(ev[0].ok);
    CHECK(ev[1].kind == "too_long");
    CHECK(ev[1].offset == good.size());
    CHECK(ev[1].skipped == 10000);
  }
  SUBCASE("one byte at a time never buffers more than kMaxEscaped") {
    Deframer d;
    DeframeEvent ev;
    std::uint8_t head = 0x55, filler = 0x66;
    d.feed(ByteView(&head, 1));
    while (d.next(ev)) FAIL("no event expected");
    for (int i = 0; i < 100000; ++i) {
      d.feed(ByteView(&filler, 1));
      while (d.next(ev)) FAIL("no event expected");
      REQUIRE(d.buffered() <= kMaxEscaped);
    }
    d.feed(ByteView(&head, 1));
    REQUIRE(d.next(ev));
    CHECK(ev.error.kind == ErrorKind::too_long);
    CHECK(ev.skipped == 100001);
  }
}

TEST_CASE("deframer: finish() reports a partial frame as truncated") {
  Bytes good = wire(make(cls::data, 0xEE, 1, {1, 2, 3}));
  Bytes in = good;
  append(in, {0x01});
  in.insert(in.end(), good.begin(), good.begin() + 15);
  auto ev = run_all_ways(in);
  REQUIRE(ev.size() == 3);
  CHECK(ev[0].ok);
  CHECK(ev[1].kind == "garbage");
  CHECK(ev[1].skipped == 1);
  CHECK(ev[2].kind == "truncated");
  CHECK(ev[2].offset == good.size() + 1);
  CHECK(ev[2].error_offset == good.size() + 1);
  CHECK(ev[2].raw == to_hex(ByteView(good).first(15)));

  // A lone head after a good frame is a (1-byte) truncated frame …
  Bytes lone = good;
  lone.push_back(0x55);
  auto ev2 = run_all_ways(lone);
  REQUIRE(ev2.size() == 2);
  CHECK(ev2[1].kind == "truncated");
  CHECK(ev2[1].raw == "55");
  // … but the closing 0x55 of a bad candidate taken as a head is not reported again.
  auto ev3 = run_all_ways(Bytes{0x55, 0x01, 0x02, 0x55});
  REQUIRE(ev3.size() == 1);
  CHECK(ev3[0].kind == "bad_length");

  // Without finish() nothing is reported for the partial frame.
  Deframer d;
  d.feed(ByteView(good).first(10));
  DeframeEvent e;
  CHECK_FALSE(d.next(e));
  CHECK(d.buffered() == 10);
  d.finish();
  REQUIRE(d.next(e));
  CHECK(e.error.kind == ErrorKind::truncated);
  CHECK_FALSE(d.next(e));
  CHECK_FALSE(d.next(e));
}

TEST_CASE("deframer: a bad_crc event shows the unescaped candidate, so other CRCs can be tried") {
  // seq 0x5455: escapes on the wire, so the unescaped view is not the raw bytes.
  auto w = encode(make(cls::data, 0xEE, 0x5455, {0x55, 1}), CrcVariant::ccitt_false);
  REQUIRE(w);
  Bytes un;
  REQUIRE(unescape(*w, un));
  Bytes in = {0x01};  // garbage first, so the bad_crc event waits behind it
  append(in, *w);
  Deframer m(CrcVariant::modbus, kGarbageRawLimit);
  m.feed(in);
  DeframeEvent ev;
  REQUIRE(m.next(ev));
  CHECK(ev.error.kind == ErrorKind::garbage);
  REQUIRE(m.next(ev));
  REQUIRE(ev.error.kind == ErrorKind::bad_crc);
  CHECK(to_hex(ev.raw) == to_hex(*w));
  CHECK(to_hex(ev.unescaped) == to_hex(un));
  CHECK(decode(ev.unescaped, CrcVariant::ccitt_false));
  CHECK_FALSE(decode(ev.unescaped, CrcVariant::xmodem));
  // Errors found before unescaping succeeded carry no unescaped view.
  Deframer b;
  const Bytes bad_escape = {0x55, 0x01, 0x54, 0x55};
  b.feed(bad_escape);
  REQUIRE(b.next(ev));
  CHECK(ev.error.kind == ErrorKind::bad_escape);
  CHECK(ev.unescaped.empty());
}

TEST_CASE("deframer: other CRC variants") {
  auto w = encode(make(cls::data, 0xEE, 1, {1}), CrcVariant::xmodem);
  REQUIRE(w);
  Deframer x(CrcVariant::xmodem), m;
  DeframeEvent ev;
  x.feed(*w);
  REQUIRE(x.next(ev));
  CHECK(ev.ok);
  m.feed(*w);
  REQUIRE(m.next(ev));
  CHECK(ev.error.kind == ErrorKind::bad_crc);
}

TEST_CASE("deframer: realistic mixed stream gives identical events however it is chunked") {
  std::mt19937 rng(2026);
  Bytes in;
  std::vector<std::pair<std::string, std::uint64_t>> expect;  // kind, event offset
  auto add_good = [&](const Frame& f) {
    expect.push_back({"ok", in.size()});
    append(in, wire(f));
  };
  auto rnd_data = [&](std::size_t n) {
    Bytes d(n);
    for (auto& b : d) b = static_cast<std::uint8_t>(rng() % 4 == 0 ? 0x54 + rng() % 2 : rng());
    return d;
  };
  const std::uint8_t cmds[][2] = {{0xA0, 0x00}, {0xA0, 0x01}, {0xAA, 0xEE}, {0xAA, 0xFF}, {0xF0, 0xF0}, {0xF0, 0xAA}, {0xEF, 0x00}};
  auto some_frame = [&](std::uint16_t seq) {
    auto& c = cmds[rng() % 7];
    return make(c[0], c[1], seq, rnd_data(rng() % 80), rnd_data(8));
  };
  expect.push_back({"garbage", 0});
  append(in, {0x01, 0x02, 0x03});
  std::uint16_t seq = 0;
  for (int round = 0; round < 30; ++round) {
    for (int i = 0; i < 5; ++i) add_good(some_frame(seq++));
    switch (round % 5) {
      case 0: {  // garbage between frames
        expect.push_back({"garbage", in.size()});
        append(in, {0x00, 0xFF, 0x10});
        break;
      }
      case 1: {  // bad CRC
        Bytes w = wire(some_frame(seq++));
        expect.push_back({"bad_crc", in.size()});
        append(in, corrupt(w, 10, 0x80));
        break;
      }
      case 2: {  // bad escape inside a frame; its tail then heads the next frame
        Bytes w = wire(some_frame(seq++));
        w.insert(w.begin() + 5, {kEscape, 0x09});
        expect.push_back({"bad_escape", in.size()});
        append(in, w);
        break;
      }
      case 3: {  // an overlong candidate whose end is the next frame's head
        expect.push_back({"too_long", in.size()});
        Bytes big(3000, 0x42);
        big[0] = 0x55;
        append(in, big);
        break;
      }
      case 4: {  // wrong length field, CRC recomputed (undelimited bad_length)
        Frame f = some_frame(seq++);
        Bytes w = wire(f);
        Bytes un;
        REQUIRE(unescape(w, un));
        un[1] = static_cast<std::uint8_t>(un[1] + 1);
        std::uint16_t c = crc16(CrcVariant::modbus, ByteView(un).first(un.size() - 3));
        un[un.size() - 3] = c & 0xFF;
        un[un.size() - 2] = c >> 8;
        Bytes re{kHead};
        for (std::size_t i = 1; i + 1 < un.size(); ++i) {
          if (un[i] == kHead) append(re, {kEscape, 1});
          else if (un[i] == kEscape) append(re, {kEscape, 2});
          else re.push_back(un[i]);
        }
        re.push_back(kHead);
        expect.push_back({"bad_length", in.size()});
        append(in, re);
        break;
      }
    }
  }
  add_good(some_frame(seq++));
  Bytes tail = wire(some_frame(seq++));
  expect.push_back({"truncated", in.size()});
  in.insert(in.end(), tail.begin(), tail.begin() + tail.size() / 2);

  auto ev = run_all_ways(in);
  REQUIRE(ev.size() == expect.size());
  for (std::size_t i = 0; i < ev.size(); ++i) {
    INFO("event " << i << ": " << ev[i]);
    CHECK(ev[i].kind == expect[i].first);
    CHECK(ev[i].offset == expect[i].second);
  }
}

TEST_CASE("deframer: offsets after escapes and in later chunks are wire offsets") {
  // seq 0x5555 and a token of 0x54s push the data and CRC right on the wire.
  Bytes good = wire(make(cls::data, 0xEE, 0x5555, {1, 2, 3}, Bytes(8, 0x54)));
  Bytes un;
  REQUIRE(unescape(good, un));
  // Wrong length field with a recomputed CRC: undelimited bad_length at the length field.
  Bytes lenbad = un;
  lenbad[1] = 0x55;  // escaped on the wire, still the field at wire offset 1
  Bytes re{kHead};
  for (std::size_t i = 1; i + 1 < lenbad.size(); ++i) {
    if (lenbad[i] == kHead) append(re, {kEscape, 1});
    else if (lenbad[i] == kEscape) append(re, {kEscape, 2});
    else re.push_back(lenbad[i]);
  }
  re.push_back(kHead);
  Bytes in(1000, 0x00);  // garbage first, so offsets are far from 0
  const std::uint64_t at = in.size();
  append(in, good);
  append(in, re);
  append(in, good);
  auto ev = run_all_ways(in);
  REQUIRE(ev.size() == 4);
  CHECK(ev[0].kind == "garbage");
  CHECK(ev[0].skipped == 1000);
  CHECK(ev[1].ok);
  CHECK(ev[1].offset == at);
  CHECK(ev[2].kind == "bad_length");
  CHECK(ev[2].offset == at + good.size());
  CHECK(ev[2].error_offset == at + good.size() + 1);
  CHECK(ev[3].ok);
  CHECK(ev[3].offset == at + good.size() + re.size());  // its own head (after an empty pair)
}

TEST_CASE("deframer: random streams of frame pieces - chunking never changes the events") {
  std::mt19937 rng(99);
  for (int iter = 0; iter < 150; ++iter) {
    Bytes in;
    std::size_t good_frames = 0;
    const int pieces = 1 + static_cast<int>(rng() % 12);
    for (int p = 0; p < pieces; ++p) {
      Bytes w = wire(make(static_cast<std::uint8_t>(0xA0 + (rng() % 2) * 0x0A), static_cast<std::uint8_t>(rng() % 3),
                          static_cast<std::uint16_t>(rng()), Bytes(rng() % 50, static_cast<std::uint8_t>(rng()))));
      switch (rng() % 6) {
        case 0: case 1: append(in, w); ++good_frames; break;
        case 2: w.resize(1 + rng() % w.size()); append(in, w); break;            // cut short
        case 3: w[1 + rng() % (w.size() - 2)] = static_cast<std::uint8_t>(rng()); append(in, w); break;  // any byte hit
        case 4: for (int k = 0; k < 1 + static_cast<int>(rng() % 40); ++k) in.push_back(0x53 + rng() % 4); break;
        case 5: in.resize(in.size() + rng() % 3500, static_cast<std::uint8_t>(rng())); break;  // long run
      }
    }
    auto whole = run_whole(in);
    std::vector<std::size_t> sizes;
    for (int i = 0; i < 16; ++i) sizes.push_back(1 + rng() % 200);
    INFO("iteration " << iter);
    REQUIRE(run(in, sizes) == whole);
    REQUIRE(run(in, {1}) == whole);
    // Every reported frame is genuine: its raw bytes decode on their own.
    std::size_t ok = 0;
    for (auto& e : whole)
      if (e.ok) {
        ++ok;
        auto raw = parse_hex(e.raw);
        Bytes un;
        REQUIRE(unescape(*raw, un));
        REQUIRE(decode(un));
      }
    CHECK(ok <= good_frames + static_cast<std::size_t>(pieces));
  }
}

TEST_CASE("deframer: idle() and release_memory()") {
  Bytes f = wire(make(cls::link, 0x01, 1, {}));
  Deframer d;
  CHECK(d.idle());
  d.feed(ByteView(f).first(5));
  DeframeEvent ev;
  CHECK_FALSE(d.next(ev));
  CHECK_FALSE(d.idle());
  CHECK(d.buffered() == 5);
  d.release_memory();  // keeps a partial frame
  CHECK(d.buffered() == 5);
  d.feed(ByteView(f).subspan(5));
  REQUIRE(d.next(ev));
  CHECK(ev.ok);
  CHECK_FALSE(d.next(ev));
  CHECK(d.idle());
  CHECK(d.buffered() == 0);
  d.release_memory();
  d.feed(f);
  REQUIRE(d.next(ev));
  CHECK(ev.ok);
  CHECK(d.offset() == 2 * f.size());
}

// ---- hex text in front of the deframer (m2m-decode --hex) --------------------------------

namespace {

struct HexResult {
  std::string bytes;                // hex of the decoded bytes
  std::vector<std::string> errors;  // "offset: message"
  bool operator==(const HexResult&) const = default;
};

HexResult hex_text(std::string_view text, std::size_t chunk) {
  cli::HexTextStream h;
  HexResult r;
  Bytes out;
  ByteView all(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
  for (std::size_t at = 0; at < all.size(); at += chunk) {
    ByteView c = all.subspan(at, std::min(chunk, all.size() - at));
    while (!c.empty()) {
      c = c.subspan(h.feed(c, out));
      if (auto& e = h.error()) r.errors.push_back(std::to_string(e->offset) + ": " + e->message);
    }
  }
  if (auto e = h.finish(out)) r.errors.push_back(std::to_string(e->offset) + ": " + e->message);
  r.bytes = to_hex(out);
  return r;
}

// Whole, byte by byte and in odd chunks: the same result.
HexResult hex_text(std::string_view text) {
  HexResult whole = hex_text(text, text.size() ? text.size() : 1);
  for (std::size_t chunk : {1u, 2u, 3u, 7u, 9u}) {
    INFO("chunk " << chunk);
    CHECK(hex_text(text, chunk) == whole);
  }
  return whole;
}

}  // namespace

TEST_CASE("hex text: 0x, colon and xxd spellings give the same bytes as plain hex") {
  const std::string frame = "551D00A00007000000020000000000FED24A0102030405060708496355";
  CHECK(hex_text(frame + "\n").bytes == frame);
  CHECK(hex_text("55 1d00 a0 00 # head\n0700 0000 02 0000000000FED24A\n0102030405060708 4963 55").bytes == frame);
  CHECK(hex_text("0x55 0x1D 0x00 0xA0 0x00 0x07 0x00 0x00 0x00 0x02 0x00 0x00 0x00 0x00 0x00 0xFE 0xD2 0x4A\n"
                 "0x01 0x02 0x03 0x04 0x05 0x06 0x07 0x08 0x49 0x63 0x55\n").bytes == frame);
  CHECK(hex_text("0x551D 0X00A0 00070000000200000000 00FED24A0102030405060708496355").bytes == frame);
  CHECK(hex_text("55:1D:00:A0:00:07:00:00:00:02:00:00:00:00:00:FE:D2:4A:01:02:03:04:05:06:07:08:49:63:55").bytes ==
        frame);
  // xxd (default grouping), xxd -g 1 and xxd -u: offsets and the ASCII column are not data,
  // though the ASCII column shows 0x55 as 'U' and may hold '#'.
  CHECK(hex_text("00000000: 551d 00a0 0007 0000 0002 0000 0000 00fe  U...............\n"
                 "00000010: d24a 0102 0304 0506 0708 4963 55         .J........IcU\n")
            .bytes == frame);
  CHECK(hex_text("00000000: 55 1d 00 a0 00 07 00 00 00 02 00 00 00 00 00 fe  U...............\n"
                 "00000010: d2 4a 01 02 03 04 05 06 07 08 49 63 55           .J........Ic#\n")
            .bytes == frame);
  CHECK(hex_text("00000000: 551D 00A0 0007 0000 0002 0000 0000 00FE  U...............\n"
                 "00000010: D24A 0102 0304 0506 0708 4963 55         .J........IcU")
            .bytes == frame);
  // A short first word with a colon is data, not an offset; so is a long one at the end of text.
  CHECK(hex_text("55: 1D").bytes == "551D");
  CHECK(hex_text("0000000055").bytes == "0000000055");
  CHECK(hex_text("00000000:").bytes == "00000000");
  CHECK(hex_text("12345678901234567890").bytes == "12345678901234567890");  // longer than the held word
  // # comments still work, on their own line and after data.
  CHECK(hex_text("# a comment: 0x55 xxd\n55 # 66\n\t77 # end").bytes == "5577");
}

TEST_CASE("hex text: bad characters keep their line and column, an odd digit its partner message") {
  auto r = hex_text("55 1D\n0x55 zz 00\n66 77\n");
  CHECK(r.bytes == "551D556677");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0] == "11: not a hex digit: 'z' at line 2, column 6 (rest of the line skipped)");
  // x only after a 0 that starts a word
  r = hex_text("10x5 66\n0 x55\n00x55\n77");
  CHECK(r.bytes == "100077");  // bytes before a bad character are kept
  REQUIRE(r.errors.size() == 3);
  CHECK(r.errors[0] == "2: not a hex digit: 'x' at line 1, column 3 (rest of the line skipped)");
  CHECK(r.errors[1] == "10: not a hex digit: 'x' at line 2, column 3 (rest of the line skipped)");
  CHECK(r.errors[2] == "16: not a hex digit: 'x' at line 3, column 3 (rest of the line skipped)");
  // In an xxd line the offset is skipped; a bad character in the hex area is still reported.
  r = hex_text("00000000: 551d 0g00  U..\n");
  CHECK(r.bytes == "551D");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0] == "16: not a hex digit: 'g' at line 1, column 17 (rest of the line skipped)");
  // An odd digit at the end, also when it sits in a held first word.
  r = hex_text("55 1D\n123");
  CHECK(r.bytes == "551D12");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0] == "8: odd number of hex digits: the digit at line 2, column 3 has no partner");
}
