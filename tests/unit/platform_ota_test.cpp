// The platform's side of OTA without I/O: image, file-name rule, frame serving, campaign.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "m2m/frame.hpp"
#include "m2m/term.hpp"
#include "platform/ota.hpp"

using namespace m2m;
using namespace m2m::platform::ota;
using namespace std::chrono_literals;

namespace {
Bytes pattern(std::size_t n) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i * 7 + 3);
  return b;
}
const Time t0 = Time{} + 1000s;
}  // namespace

TEST_CASE("ota checksum is the sum of the image bytes mod 256") {
  CHECK(checksum(Bytes{}) == 0);
  CHECK(checksum(Bytes{0xFF, 0x02}) == 0x01);
  Bytes b(1000, 0x01);
  CHECK(checksum(b) == (1000 % 256));
}

TEST_CASE("ota file names: a plain name inside the folder, each rule named") {
  CHECK(check_file_name("app-v2.bin"));
  CHECK(check_file_name("固件.bin"));
  CHECK(check_file_name("").error().message == "empty firmware file name");
  CHECK(check_file_name("..").error().message.find("is not a file") != std::string::npos);
  CHECK(check_file_name("../etc/passwd").error().message.find("names a path") != std::string::npos);
  CHECK(check_file_name("/etc/passwd").error().message.find("names a path") != std::string::npos);
  CHECK(check_file_name("a\\b").error().message.find("names a path") != std::string::npos);
  CHECK(check_file_name(std::string_view("a\0b", 3)).error().message.find("control") != std::string::npos);
  CHECK(check_file_name(std::string(256, 'a')).error().message.find("255") != std::string::npos);
}

TEST_CASE("ota max frame size makes the ok reply exactly 1400 bytes") {
  const std::string name = "app-v2.bin";
  const Bytes token(8, 0x11);
  const std::size_t size = max_frame_size(name.size(), token.size());
  ai::OtaFrameReply r{name, 0, static_cast<std::uint16_t>(size), Bytes(size, 0xAB)};
  Bytes data;
  REQUIRE(ai::put_ota_frame_reply(data, r));
  ai::Frame f{ai::cls::term, 0x57, 1, 0, ai::status::ok, 42, token, data};
  CHECK(ai::unescaped_size(f.view()) == ai::kMaxFrame);
  f.data.push_back(0);
  CHECK(ai::unescaped_size(f.view()) == ai::kMaxFrame + 1);
  CHECK(max_frame_size(1400, 8) == 0);
}

TEST_CASE("ota serve: frames from n x size, a short last one, refusals with reasons") {
  auto img = make_image("fw.bin", pattern(1000));
  auto s = serve(*img, "fw.bin", 0, 256);
  REQUIRE(s);
  CHECK(s->count == 256);
  CHECK(s->bytes.data() == img->bytes.data());  // a view into the one image, no copy
  s = serve(*img, "fw.bin", 3, 256);
  REQUIRE(s);
  CHECK(s->count == 1000 - 768);
  CHECK(s->bytes[0] == img->bytes[768]);
  auto even = make_image("e.bin", pattern(512));
  s = serve(*even, "e.bin", 2, 256);  // exactly at the end: an empty last frame
  REQUIRE(s);
  CHECK(s->count == 0);
  CHECK(serve(*even, "e.bin", 3, 256).error().message.find("past the end") != std::string::npos);
  CHECK(serve(*img, "other.bin", 0, 256).error().message == "unknown file \"other.bin\"");
  CHECK(serve(*img, "fw.bin", 0, 0).error().message == "frame size 0");
  CHECK(serve(*img, "fw.bin", 0xFFFF, 0xFFFF).error().message.find("past the end") != std::string::npos);
}

TEST_CASE("ota load_from_dir refuses names and links that leave the folder") {
  namespace fs = std::filesystem;
  const fs::path root = fs::temp_directory_path() / ("ota_test_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "fw");
  { std::ofstream(root / "fw" / "app.bin", std::ios::binary) << "ABC"; }
  { std::ofstream(root / "secret", std::ios::binary) << "no"; }
  fs::create_symlink(root / "secret", root / "fw" / "escape.bin");
  auto ok = load_from_dir((root / "fw").string(), "app.bin");
  REQUIRE(ok);
  CHECK((*ok)->bytes == Bytes{'A', 'B', 'C'});
  CHECK((*ok)->sum == static_cast<std::uint8_t>('A' + 'B' + 'C'));
  CHECK(load_from_dir((root / "fw").string(), "../secret").error().message.find("names a path") != std::string::npos);
  CHECK(load_from_dir((root / "fw").string(), "escape.bin").error().message.find("leads out of") != std::string::npos);
  auto missing = load_from_dir((root / "fw").string(), "none.bin");
  REQUIRE(!missing);
  CHECK(missing.error().message.find("No such file") != std::string::npos);
  fs::remove_all(root);
}

TEST_CASE("ota campaign: a device from start to ok with its new version") {
  Campaign c(make_image("fw.bin", pattern(600)), {});
  c.add_target(5);
  CHECK(!c.online(6, "v1", t0));  // not a target
  CHECK(c.online(5, "v1", t0));
  CHECK(c.in_flight() == 1);
  c.start_reply(5, true, t0 + 1ms);
  c.frame_served(5, 0, 256, t0 + 2ms);
  c.frame_served(5, 1, 256, t0 + 3ms);
  c.frame_served(5, 1, 256, t0 + 4ms);  // asked again: a retry
  c.frame_served(5, 2, 88, t0 + 5ms);
  c.upgrade_event(5, "upgrade ok: fw.bin 600 bytes", t0 + 6ms);
  CHECK(c.find(5)->phase == Phase::rebooting);
  CHECK(c.take_finished().empty());
  CHECK(!c.online(5, "v2", t0 + 2s));
  auto done = c.take_finished();
  REQUIRE(done.size() == 1);
  CHECK(done[0].phase == Phase::ok);
  CHECK(done[0].frames == 3);
  CHECK(done[0].retries == 1);
  CHECK(done[0].bytes == 856);
  CHECK(done[0].old_version == "v1");
  CHECK(done[0].new_version == "v2");
  CHECK(done[0].outcome == "upgrade ok: fw.bin 600 bytes");
  CHECK(done[0].elapsed == 2000ms);
  CHECK(c.done());
  CHECK(c.in_flight() == 0);
}

TEST_CASE("ota campaign: failures are reported with the reason") {
  Campaign c(make_image("fw.bin", pattern(600)), {.stall_timeout = 30s, .relogin_timeout = 60s});
  for (std::uint64_t d : {1, 2, 3, 4}) c.add_target(d);
  for (std::uint64_t d : {1, 2, 3, 4}) REQUIRE(c.online(d, "v1", t0));
  c.start_reply(1, false, t0);  // busy
  c.start_reply(2, true, t0);
  c.upgrade_event(2, "checksum mismatch: want 0x3C got 0x91", t0 + 1s);
  c.start_reply(3, true, t0);
  c.frame_served(3, 0, 256, t0 + 1s);
  c.frame_served(3, 17, 256, t0 + 2s);
  c.start_reply(4, true, t0);
  c.upgrade_event(4, "upgrade ok: fw.bin 600 bytes", t0 + 1s);
  CHECK(c.expire(t0 + 31s) == 0);  // frame 17 came at 2 s
  CHECK(c.expire(t0 + 32s) == 1);  // 3 stalled; 4 still has time to log in again
  CHECK(c.expire(t0 + 61s) == 1);  // 4 never came back
  auto f = c.take_finished();
  REQUIRE(f.size() == 4);
  CHECK(f[0].device == 1);
  CHECK(f[0].outcome.find("busy") == 0);
  CHECK(f[1].outcome == "checksum mismatch: want 0x3C got 0x91");
  CHECK(f[2].device == 3);
  CHECK(f[2].outcome == "stalled after frame 17 for 30 s");
  CHECK(f[3].outcome == "reported \"upgrade ok: fw.bin 600 bytes\" but did not log in again");
  CHECK(c.failed() == 4);
  CHECK(c.done());
}

TEST_CASE("ota campaign: same version after the reboot is a failure") {
  Campaign c(make_image("fw.bin", pattern(10)), {});
  c.add_target(9);
  REQUIRE(c.online(9, "v1", t0));
  c.start_reply(9, true, t0);
  c.upgrade_event(9, "upgrade ok: fw.bin 10 bytes", t0);
  c.online(9, "v1", t0 + 1s);
  auto f = c.take_finished();
  REQUIRE(f.size() == 1);
  CHECK(f[0].phase == Phase::failed);
  CHECK(f[0].outcome.find("still at version v1") != std::string::npos);
}

TEST_CASE("ota campaign: max_parallel bounds the updates in flight, the rest wait their turn") {
  Campaign c(make_image("fw.bin", pattern(10)), {.max_parallel = 2});
  for (std::uint64_t d = 1; d <= 5; ++d) c.add_target(d);
  unsigned started = 0;
  for (std::uint64_t d = 1; d <= 5; ++d) started += c.online(d, "v1", t0);
  CHECK(started == 2);
  CHECK(c.in_flight() == 2);
  CHECK(c.startable(t0).empty());
  c.start_reply(1, true, t0);
  c.upgrade_event(1, "checksum mismatch: want 0x01 got 0x02", t0);
  auto next = c.startable(t0);
  REQUIRE(next.size() == 1);
  CHECK(next[0] == 3);
  CHECK(c.in_flight() == 2);
  c.offline(4, t0);  // left while waiting: not started when a slot frees
  c.start_reply(2, true, t0);
  c.upgrade_event(2, "x", t0);
  next = c.startable(t0);
  REQUIRE(next.size() == 1);
  CHECK(next[0] == 5);
}

TEST_CASE("ota campaign: abort_after_failures stops starting new updates") {
  Campaign c(make_image("fw.bin", pattern(10)), {.max_parallel = 1, .abort_after_failures = 1});
  for (std::uint64_t d = 1; d <= 3; ++d) c.add_target(d);
  REQUIRE(c.online(1, "v1", t0));
  CHECK(!c.online(2, "v1", t0));
  c.start_reply(1, false, t0);
  CHECK(c.aborted());
  CHECK(c.startable(t0).empty());
  CHECK(!c.online(3, "v1", t0));
  CHECK(c.done());  // nothing in flight any more
  CHECK(c.succeeded() == 0);
}

TEST_CASE("ota campaign without targets takes every device that logs in") {
  Campaign c(make_image("fw.bin", pattern(10)), {});
  CHECK(!c.done());
  CHECK(c.online(77, "", t0));
  CHECK(c.targets() == 1);
  c.start_reply(77, true, t0);
  c.upgrade_event(77, "upgrade ok: fw.bin 10 bytes", t0);
  c.online(77, "", t0);  // version unknown: the reported success stands
  CHECK(c.succeeded() == 1);
}
