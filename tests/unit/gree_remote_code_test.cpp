#include <doctest/doctest.h>

#include "gree/remote_code.hpp"

using namespace m2m::gree;

TEST_CASE("factory code is 00092050: off, auto, 25 degrees, light on") {
  RemoteCode c = RemoteCode::factory();
  CHECK(c.hex() == "00092050");
  CHECK_FALSE(c.power());
  CHECK(c.raw_mode() == 0);
  CHECK(c.set_temp() == 25);
  CHECK(c.light());
  CHECK(c.reserved() == 0x50);
  CHECK(c.executable());
}

TEST_CASE("byte 1: mode, power, fan, swing, sleep — the seed's mode codes") {
  RemoteCode c;
  c.set_power(true);
  for (auto [m, nibble] : {std::pair{Mode::auto_, 0x8}, {Mode::cool, 0x9}, {Mode::dry, 0xA}, {Mode::fan, 0xB}, {Mode::heat, 0xC}}) {
    c.set_mode(m);
    CHECK((c.bytes[0] & 0x0F) == nibble);
  }
  c.set_fan(Fan::medium);
  CHECK((c.bytes[0] & 0x30) == 0x20);
  CHECK(c.fan() == Fan::medium);
  c.set_swing(true);
  c.set_sleep(true);
  CHECK(c.bytes[0] == (0x80 | 0x40 | 0x20 | 0x08 | 0x04));
  c.set_power(false);
  CHECK_FALSE(c.power());
  CHECK(c.raw_mode() == static_cast<int>(Mode::heat));
  CHECK(mode_name(4) == "heat");
  CHECK(mode_name(7) == "mode7");
  CHECK(parse_mode("dry") == Mode::dry);
  CHECK_FALSE(parse_mode("ice"));
  CHECK(parse_fan("high") == Fan::high);
  CHECK_FALSE(parse_fan("max"));
}

TEST_CASE("byte 2/3: temperature, timer digits, turbo, light, ventilation, x-fan") {
  RemoteCode c;
  c.set_temp(16);
  CHECK((c.bytes[1] & 0x0F) == 0);
  c.set_temp(30);
  CHECK((c.bytes[1] & 0x0F) == 14);
  CHECK(c.set_temp() == 30);
  c.set_timer(2 * 12 + 1);  // 12.5 h: tens 1, hours 2, half
  CHECK(c.timer_on());
  CHECK((c.bytes[1] & 0xF0) == (0x80 | 0x20 | 0x10));
  CHECK((c.bytes[2] & 0x0F) == 2);
  CHECK(c.timer_half_hours() == 25);
  CHECK(c.set_temp() == 30);  // the timer leaves the temperature nibble alone
  c.set_timer(48);
  CHECK(c.timer_half_hours() == 48);
  c.set_timer(0);
  CHECK_FALSE(c.timer_on());
  CHECK(c.timer_half_hours() == 0);
  c.bytes[2] = 0;
  c.set_turbo(true);
  CHECK(c.bytes[2] == 0x10);
  c.set_light(true);
  c.set_ventilation(true);
  c.set_x_fan(true);
  CHECK(c.bytes[2] == 0xF0);
  CHECK(c.turbo());
  CHECK(c.ventilation());
  CHECK(c.x_fan());
}

TEST_CASE("the report-only code and other out-of-range codes are not executable") {
  CHECK_FALSE(RemoteCode::query().executable());
  RemoteCode c;
  c.bytes[0] = 0x0D;  // mode 5
  CHECK_FALSE(c.executable());
  c = RemoteCode{};
  c.bytes[1] = 0x0F;  // 31 degrees
  CHECK_FALSE(c.executable());
  c = RemoteCode{};
  c.bytes[1] = 0x80 | 0x40;  // timer 20 h + hours nibble 5 = 25 h
  c.bytes[2] = 0x05;
  CHECK_FALSE(c.executable());
  c.bytes[2] = 0x04;  // 24 h
  CHECK(c.executable());
}
