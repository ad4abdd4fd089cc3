// m2m-simdevice --state (lib/device/sim_state.hpp): what is saved comes back; defaults are
// not saved; a broken file is an error naming it, a missing one is an empty state.
#include <doctest/doctest.h>

#include <fstream>
#include <map>

#include "device/sim_state.hpp"
#include "temp_dir.hpp"

using namespace m2m;
using namespace m2m::device;

TEST_CASE("sim state: own parameters round-trip, defaults are left out") {
  m2m_test::TempDir dir;
  const std::string file = dir.file("state.json");
  ParamValues defaults;
  Params touched(&defaults), untouched(&defaults);
  ParamValues& v = touched.own();
  v.software = "app-v2";
  v.server = {"platform.example", 9000, false};
  v.fallback = {"198.51.100.9", 8266, true};
  v.dns = 0x08080404;
  v.heartbeat_s = 45;
  v.rtc_offset_s = -3600;
  v.read_timeout = 4;
  REQUIRE(save_state(file, [&](const std::function<void(std::uint64_t, const Params&)>& f) {
    f(0xFED24A, touched);
    f(0xFED24B, untouched);
  }));
  std::map<std::uint64_t, ParamValues> got;
  REQUIRE(load_state(file, defaults, [&](std::uint64_t id, const ParamValues& p) { got[id] = p; }));
  REQUIRE(got.size() == 1);
  const ParamValues& g = got.at(0xFED24A);
  CHECK(g.software == "app-v2");
  CHECK(g.server.host == "platform.example");
  CHECK(g.server.port == 9000);
  CHECK(!g.server.tcp);
  CHECK(g.fallback.host == "198.51.100.9");
  CHECK(g.dns == 0x08080404u);
  CHECK(g.heartbeat_s == 45);
  CHECK(g.rtc_offset_s == -3600);
  CHECK(g.read_timeout == 4);
  CHECK(g.write_timeout == defaults.write_timeout);
}

TEST_CASE("sim state: a missing file is empty, a broken one an error that names it") {
  m2m_test::TempDir dir;
  ParamValues defaults;
  int calls = 0;
  CHECK(load_state(dir.file("none.json"), defaults, [&](std::uint64_t, const ParamValues&) { ++calls; }));
  CHECK(calls == 0);
  const std::string bad = dir.file("bad.json");
  std::ofstream(bad) << R"({"v":1,"devices":{"FED24A":{"heartbeat_interval":0}}})";
  auto r = load_state(bad, defaults, [&](std::uint64_t, const ParamValues&) { ++calls; });
  REQUIRE(!r);
  CHECK(r.error().message.find(bad) != std::string::npos);
  CHECK(r.error().message.find("heartbeat_interval") != std::string::npos);
  std::ofstream(bad) << "{not json";
  CHECK(!load_state(bad, defaults, [&](std::uint64_t, const ParamValues&) { ++calls; }));
}
