// Firmware updates through the router (m2m-server --firmware-dir), without sockets.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "../support/router_harness.hpp"
#include "m2m/term.hpp"
#include "platform/ota.hpp"

using namespace m2m;
using namespace m2m::platform;
using namespace m2m::platform::testing;

namespace {
constexpr std::uint64_t A = 0xA1;
namespace fs = std::filesystem;

struct FirmwareDir {
  fs::path dir = fs::temp_directory_path() / ("router_ota_" + std::to_string(::getpid()));
  Bytes image;
  FirmwareDir() {
    fs::remove_all(dir);
    fs::create_directories(dir / "fw");
    image.resize(3000);
    for (std::size_t i = 0; i < image.size(); ++i) image[i] = static_cast<std::uint8_t>(i * 13 + 1);
    std::ofstream(dir / "fw" / "app-v2.bin", std::ios::binary)
        .write(reinterpret_cast<const char*>(image.data()), static_cast<std::streamsize>(image.size()));
    std::ofstream(dir / "outside.bin") << "secret";
  }
  ~FirmwareDir() { fs::remove_all(dir); }
  std::string path() const { return (dir / "fw").string(); }
};

Bytes start_body(const std::string& file, std::optional<std::uint8_t> sum) {
  Bytes b;
  if (sum) {
    REQUIRE(ai::put_ota_start(b, ai::OtaStart{file, *sum}));
  } else {
    REQUIRE(ai::put_gbk_string(b, file));
  }
  return b;
}

Bytes frame_request(const std::string& file, std::uint16_t n, std::uint16_t size) {
  Bytes b;
  REQUIRE(ai::put_ota_frame_request(b, ai::OtaFrameRequest{file, n, size}));
  return b;
}

// A platform with device A (TCP session on fd 5) and operator account 7 (fd 6), logged in.
struct Platform {
  Harness h;
  Token ta{}, t7{};
  explicit Platform(const std::string& firmware_dir) : h(options(firmware_dir)) {
    h.add_device(A, "pa", "g1");
    h.add_account(7, "app", {"g1"});
    h.connect(5);
    h.connect(6);
    auto a = h.tcp_login(5, A, "pa");
    auto o = h.tcp_login(6, 7, "app", ai::cls::platform);
    REQUIRE((a && o));
    ta = *a;
    t7 = *o;
  }
  static RouterOptions options(const std::string& dir) {
    RouterOptions opt;
    opt.firmware_dir = dir;
    return opt;
  }
};
}  // namespace

TEST_CASE("router ota: the platform fills in the checksum and serves every frame from its folder") {
  FirmwareDir fw;
  Platform p(fw.path());
  Harness& h = p.h;
  const Token* ta = &p.ta;
  const Token* t7 = &p.t7;

  h.tcp(6, request(ai::cls::term, 0x56, A, *t7, start_body("app-v2.bin", std::nullopt), 0x0101));
  auto fwd = h.last_to(5);
  REQUIRE(fwd);
  CHECK(fwd->cmd == 0x56);
  auto start = ai::get_ota_start(fwd->data);
  REQUIRE(start);
  CHECK(start->file == "app-v2.bin");
  CHECK(start->checksum == ota::checksum(fw.image));

  // The device pulls the image; frames are numbered from 0 and cover n x size.
  Bytes got;
  for (std::uint16_t n = 0;; ++n) {
    h.tcp(5, request(ai::cls::term, 0x57, A, *ta, frame_request("app-v2.bin", n, 1024), 0x300 + n));
    auto r = h.last_to(5);
    REQUIRE(r);
    REQUIRE(r->status == ai::status::ok);
    auto reply = ai::get_ota_frame_reply(r->data);
    REQUIRE(reply);
    CHECK(reply->frame == n);
    got.insert(got.end(), reply->bytes.begin(), reply->bytes.end());
    if (reply->count < 1024) break;
  }
  CHECK(got == fw.image);

  // Past the end, another file, or a size whose reply cannot fit: fail, with the reason logged.
  h.tcp(5, request(ai::cls::term, 0x57, A, *ta, frame_request("app-v2.bin", 9, 1024), 0x400));
  CHECK(h.last_to(5)->status == ai::status::fail);
  h.tcp(5, request(ai::cls::term, 0x57, A, *ta, frame_request("other.bin", 0, 1024), 0x401));
  CHECK(h.last_to(5)->status == ai::status::fail);
  h.tcp(5, request(ai::cls::term, 0x57, A, *ta, frame_request("app-v2.bin", 0, 1400), 0x402));
  CHECK(h.last_to(5)->status == ai::status::fail);
  auto refused = h.find("ota_frame_refused");
  REQUIRE(refused.size() == 3);
  CHECK(refused[0]["message"].get<std::string>().find("past the end") != std::string::npos);
  CHECK(refused[1]["message"].get<std::string>().find("other.bin") != std::string::npos);
  CHECK(refused[2]["message"].get<std::string>().find("1400-byte") != std::string::npos);
}

TEST_CASE("router ota: file names outside the folder and missing files are refused to the operator") {
  FirmwareDir fw;
  Platform p(fw.path());
  Harness& h = p.h;
  const Token* ta = &p.ta;
  const Token* t7 = &p.t7;
  const std::size_t before = h.to_fd(5).size();
  for (const char* name : {"../outside.bin", "/etc/passwd", "..", "missing.bin"}) {
    h.tcp(6, request(ai::cls::term, 0x56, A, *t7, start_body(name, std::nullopt), 0x0102));
    auto back = h.last_to(6);
    REQUIRE(back);
    CHECK(back->status == ai::status::fail);
  }
  CHECK(h.to_fd(5).size() == before);  // nothing reached the device
  auto ev = h.find("route_refused", "reason", "no_firmware");
  REQUIRE(ev.size() == 4);
  CHECK(ev[0]["message"].get<std::string>().find("names a path") != std::string::npos);
  CHECK(ev[3]["message"].get<std::string>().find("No such file") != std::string::npos);
  // A device cannot fetch outside the folder either.
  h.tcp(5, request(ai::cls::term, 0x57, A, *ta, frame_request("../outside.bin", 0, 512), 0x500));
  CHECK(h.last_to(5)->status == ai::status::fail);
}

TEST_CASE("router ota: without --firmware-dir a start with checksum passes, frames are unsupported") {
  Platform p("");
  Harness& h = p.h;
  const Token* ta = &p.ta;
  const Token* t7 = &p.t7;
  h.tcp(6, request(ai::cls::term, 0x56, A, *t7, start_body("x.bin", 0x3C), 0x0103));
  auto fwd = h.last_to(5);
  REQUIRE(fwd);
  CHECK(fwd->cmd == 0x56);
  CHECK(fwd->data == start_body("x.bin", 0x3C));
  h.tcp(6, request(ai::cls::term, 0x56, A, *t7, start_body("x.bin", std::nullopt), 0x0104));
  CHECK(h.last_to(6)->status == ai::status::fail);
  CHECK(h.find("route_refused", "reason", "no_firmware").size() == 1);
  h.tcp(5, request(ai::cls::term, 0x57, A, *ta, frame_request("x.bin", 0, 512), 0x600));
  CHECK(h.last_to(5)->status == ai::status::unsupported);
}

TEST_CASE("router ota: over UDP the frames of an update an operator started pass the reply budget") {
  FirmwareDir fw;
  RouterOptions opt;
  opt.firmware_dir = fw.path();
  Harness h(opt);
  h.add_device(A, "pa", "g1");
  h.add_account(7, "app", {"g1"});
  const auto dev = Harness::addr(9, 6000);
  auto ta = h.udp_login(dev, A, "pa");
  h.connect(6);
  auto t7 = h.tcp_login(6, 7, "app", ai::cls::platform);
  REQUIRE((ta && t7));
  // Before any start: a 1 KiB frame for a 30-byte request is over the budget, dropped.
  h.udp(dev, request(ai::cls::term, 0x57, A, *ta, frame_request("app-v2.bin", 0, 1024), 0x700));
  CHECK(h.to_udp(dev).back().cmd != 0x57);
  CHECK(h.router.counters().udp_capped == 1);
  h.tcp(6, request(ai::cls::term, 0x56, A, *t7, start_body("app-v2.bin", std::nullopt), 0x0105));
  REQUIRE(h.to_udp(dev).back().cmd == 0x56);
  h.udp(dev, request(ai::cls::term, 0x57, A, *ta, frame_request("app-v2.bin", 0, 1024), 0x701));
  auto r = h.to_udp(dev).back();
  CHECK(r.cmd == 0x57);
  CHECK(r.status == ai::status::ok);
  CHECK(ai::get_ota_frame_reply(r.data)->count == 1024);
  // The outcome event closes the exemption.
  Bytes ev;
  REQUIRE(ai::put_event(ev, ai::Event{ai::event_code::upgrade, "upgrade ok: app-v2.bin 3000 bytes"}));
  h.udp(dev, request(ai::cls::term, 0xF0, A, *ta, ev, 0x702));
  h.udp(dev, request(ai::cls::term, 0x57, A, *ta, frame_request("app-v2.bin", 1, 1024), 0x703));
  CHECK(h.to_udp(dev).back().cmd != 0x57);
  CHECK(h.router.counters().udp_capped == 2);
  // The operator saw the outcome.
  auto out = h.last_to(6);
  REQUIRE(out);
  CHECK(out->cmd == 0xF0);
  CHECK(ai::get_event(out->data)->description == "upgrade ok: app-v2.bin 3000 bytes");
}
