#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "telematics/deframer.hpp"

using namespace m2m;
using namespace m2m::telematics;

namespace {

Bytes hex(std::string_view s) { return *parse_hex_text(s); }

// login seq 7 from terminal 013800138000; the same with seq 8
const std::string kLogin = "7E01000000013800138000070000000000AC7E";
const std::string kLogin8 = "7E01000000013800138000080000000000A37E";

// Events as "kind@offset[/error offset][ skipped=N]" (ok: "ok@offset id=… seq=…").
std::vector<std::string> run(ByteView in, std::size_t chunk) {
  Deframer d;
  std::vector<std::string> out;
  DeframeEvent ev;
  auto drain = [&] {
    while (d.next(ev)) {
      std::string s = ev.ok ? "ok" : std::string(to_string(ev.error.kind));
      s += "@" + std::to_string(ev.offset);
      if (ev.ok) s += " seq=" + std::to_string(ev.frame.seq);
      else if (ev.error.kind != ErrorKind::garbage) s += "/" + std::to_string(ev.error.offset);
      if (ev.skipped) s += " skipped=" + std::to_string(ev.skipped);
      out.push_back(s);
    }
    CHECK(d.buffered() <= kMaxEscaped);
  };
  for (std::size_t at = 0; at < in.size(); at += chunk) {
    d.feed(in.subspan(at, std::min(chunk, in.size() - at)));
    drain();
  }
  d.finish();
  drain();
  return out;
}

// The same events whatever the chunking.
std::vector<std::string> run_all(const Bytes& in) {
  auto whole = run(in, in.size() ? in.size() : 1);
  for (std::size_t c : {1, 2, 3, 7, 64}) CHECK(run(in, c) == whole);
  return whole;
}

}  // namespace

TEST_CASE("telematics deframer: frames back to back") {
  auto ev = run_all(hex(kLogin + kLogin8));
  CHECK(ev == std::vector<std::string>{"ok@0 seq=7", "ok@19 seq=8"});
}

TEST_CASE("telematics deframer: the frame's raw bytes and content") {
  Deframer d;
  Bytes in = hex(kLogin);
  d.feed(in);
  d.finish();
  DeframeEvent ev;
  REQUIRE(d.next(ev));
  REQUIRE(ev.ok);
  CHECK(to_hex(ev.raw) == kLogin);
  CHECK(format_terminal(ev.frame.terminal) == "013800138000");
  CHECK_FALSE(d.next(ev));
}

TEST_CASE("telematics deframer: resync after garbage") {
  // garbage, then a frame; garbage between frames; garbage at the end
  auto ev = run_all(hex("00 11 22 " + kLogin + " 33 44 " + kLogin8 + " 55"));
  CHECK(ev == std::vector<std::string>{"garbage@0 skipped=3", "ok@3 seq=7", "garbage@22 skipped=2", "ok@24 seq=8",
                                       "garbage@43 skipped=1"});
}

TEST_CASE("telematics deframer: joining a stream mid-frame") {
  // The tail of a frame (its closing flag) and then whole frames: the closing flag pairs with
  // the next opening flag as `7e 7e`, so nothing good is lost.
  Bytes in = hex(kLogin.substr(10) + kLogin + kLogin8);
  auto ev = run_all(in);
  CHECK(ev == std::vector<std::string>{"garbage@0 skipped=13", "ok@14 seq=7", "ok@33 seq=8"});
}

TEST_CASE("telematics deframer: an undelimited bad candidate gives its closing flag to the next frame") {
  // 7e 01 02 7e: too short, not delimited by a length field, so its closing flag opens the
  // next candidate; the login's own opening flag follows at once (`7e 7e`) and restarts it.
  Bytes in = hex("7E 01 02 " + kLogin);
  auto ev = run_all(in);
  CHECK(ev == std::vector<std::string>{"bad_length@0/1", "ok@3 seq=7"});
}

TEST_CASE("telematics deframer: a bad checksum is reported and the next frame decodes") {
  Bytes bad = hex(kLogin);
  bad[bad.size() - 2] ^= 0x01;
  Bytes in = bad;
  Bytes good = hex(kLogin8);
  in.insert(in.end(), good.begin(), good.end());
  auto ev = run_all(in);
  CHECK(ev == std::vector<std::string>{"bad_checksum@0/17", "ok@19 seq=8"});
}

TEST_CASE("telematics deframer: bad escape, error offset on the wire") {
  Bytes in = hex("7E 01 7D 05 00 7E" + kLogin);
  auto ev = run_all(in);
  CHECK(ev == std::vector<std::string>{"bad_escape@0/2", "ok@6 seq=7"});
}

TEST_CASE("telematics deframer: truncated input") {
  Bytes in = hex(kLogin + kLogin8.substr(0, 20));
  auto ev = run_all(in);
  CHECK(ev == std::vector<std::string>{"ok@0 seq=7", "truncated@19/19"});
}

TEST_CASE("telematics deframer: too long candidates are bounded and skipped") {
  Bytes in = hex("7E");
  in.insert(in.end(), kMaxEscaped + 100, 0x11);
  Bytes good = hex(kLogin);
  in.insert(in.end(), good.begin(), good.end());
  auto ev = run_all(in);
  REQUIRE(ev.size() == 2);
  CHECK(ev[0] == "too_long@0/0 skipped=" + std::to_string(kMaxEscaped + 101));
  // The too-long candidate ends at the login's opening flag, which then opens the login.
  CHECK(ev[1] == "ok@" + std::to_string(kMaxEscaped + 101) + " seq=7");
}

TEST_CASE("telematics deframer: empty input and lone flags") {
  CHECK(run_all({}).empty());
  CHECK(run_all(hex("7E 7E " + kLogin)) == std::vector<std::string>{"ok@2 seq=7"});
}
