// What gree-ctl may send to an addressed unit on a bus, and the record it keeps of each unit.
#include <doctest/doctest.h>

#include "gree/known_state.hpp"

using namespace m2m;
using namespace m2m::gree;

namespace {
RemoteCode cool_24_high() {
  RemoteCode c;
  c.bytes = {0x39, 0x08, 0x20, 0x50};  // on, cool, fan high, 24 degrees, light
  return c;
}
}  // namespace

TEST_CASE("gree known state: set --addr changes only what was asked, on top of the last known code") {
  auto code = addressed_code(cool_24_high(), Json{{"set_temp", 22}});
  REQUIRE(code);
  REQUIRE(*code);
  CHECK((*code)->hex() == "39062050");  // still on, cool, fan high
  auto same = addressed_code(cool_24_high(), Json::object());  // a read: exactly the known code
  REQUIRE(same);
  CHECK(**same == cool_24_high());
}

TEST_CASE("gree known state: with no known code only a patch of every main setting is sent") {
  auto refused = addressed_code(std::nullopt, Json{{"set_temp", 22}});
  REQUIRE(refused);
  CHECK_FALSE(*refused);
  CHECK_FALSE(*addressed_code(std::nullopt, Json::object()));
  CHECK_FALSE(*addressed_code(std::nullopt, Json{{"power", true}, {"mode", "cool"}, {"set_temp", 24}}));
  auto full = addressed_code(std::nullopt, Json{{"power", true}, {"mode", "cool"}, {"set_temp", 24}, {"fan", "high"}});
  REQUIRE(full);
  REQUIRE(*full);
  CHECK((*full)->hex() == "39082050");  // the rest from the factory state
  CHECK(gives_main_settings(Json{{"power", false}, {"mode", "heat"}, {"set_temp", 16}, {"fan", "auto"}, {"swing", true}}));
  CHECK_FALSE(addressed_code(cool_24_high(), Json{{"set_temp", 40}}));  // a bad patch is an error, not a refusal
}

TEST_CASE("gree known state: the record of a status frame, to JSON and back") {
  Status s{1023, cool_24_high(), 26, 0x68, 0x22, 0x40};  // status 1: swing, light, fan high
  const KnownState k = known_state_of(s, Checksum::sum8, "/dev/ttyUSB0", "2026-12-02T08:00:00.000Z");
  CHECK(k.address == 1023);
  CHECK(k.code.hex() == "79082050");  // swing taken from status 1
  CHECK(k.frame == to_hex(*encode_status(s)));
  const Json j = known_state_to_json(k);
  CHECK(j["v"] == 1);
  CHECK(j["port"] == "/dev/ttyUSB0");
  CHECK(j["address"] == 1023);
  CHECK(j["code"] == "79082050");
  CHECK(j["seen"] == "2026-12-02T08:00:00.000Z");
  CHECK(j["mode"] == "cool");
  CHECK(j["swing"] == true);
  auto back = known_state_from_json(Json::parse(j.dump()));
  REQUIRE(back);
  CHECK(*back == k);
  CHECK_FALSE(known_state_from_json(Json{{"v", 1}, {"port", "/x"}, {"address", 1023}, {"code", "7908"}}));
  CHECK_FALSE(known_state_from_json(Json{{"v", 2}, {"port", "/x"}, {"address", 1023}, {"code", "79082050"}}));
  CHECK_FALSE(known_state_from_json(Json{{"v", 1}, {"port", "/x"}, {"address", 0}, {"code", "79082050"}}));
  CHECK_FALSE(known_state_from_json(Json::array()));
}

TEST_CASE("gree known state: one file per port and address, names that cannot collide") {
  CHECK(state_file_name("/dev/ttyUSB0", 1023) == "dev%2FttyUSB0@1023.json");
  CHECK(state_file_name("/dev/serial/by-id/usb-FTDI_A1-if00", 7) == "dev%2Fserial%2Fby-id%2Fusb-FTDI_A1-if00@7.json");
  CHECK(state_file_name("/tmp/a b%@", 1) == "tmp%2Fa%20b%25%40@1.json");
  CHECK(state_file_name("/dev/tty_USB0", 1) != state_file_name("/dev/tty/USB0", 1));
}
