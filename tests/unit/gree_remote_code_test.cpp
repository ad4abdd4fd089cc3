// The Gree remote code (gree-protocol(7)): the one set of tests of its four bytes. Expected
// bytes are written from the notes by hand, not computed by the code under test.
#include <doctest/doctest.h>

#include "gree/frame.hpp"
#include "gree/remote_code.hpp"

using namespace m2m::gree;

TEST_CASE("gree remote code: factory code is 00092050 (off, auto, 25 degrees, fan auto, light on)") {
  RemoteCode c = RemoteCode::factory();
  CHECK(c.hex() == "00092050");
  CHECK_FALSE(c.power());
  CHECK(c.raw_mode() == 0);
  CHECK(c.set_temp() == 25);
  CHECK(c.fan() == Fan::auto_);
  CHECK(c.light());
  CHECK_FALSE(c.timer_on());
  CHECK(c.reserved() == 0x50);
  CHECK(c.valid());
}

TEST_CASE("gree remote code: byte 1 is mode, power, fan, swing, sleep (the seed's mode codes)") {
  RemoteCode c;
  c.set_power(true);
  CHECK(c.bytes[0] == 0x08);
  for (auto [m, nibble] : {std::pair{Mode::auto_, 0x8}, {Mode::cool, 0x9}, {Mode::dry, 0xA}, {Mode::fan, 0xB}, {Mode::heat, 0xC}}) {
    c.set_mode(m);
    CHECK((c.bytes[0] & 0x0F) == nibble);
  }
  c.set_fan(Fan::medium);
  CHECK((c.bytes[0] & 0x30) == 0x20);
  CHECK(c.fan() == Fan::medium);
  c.set_fan(Fan::high);
  CHECK(c.bytes[0] == 0x3C);
  c.set_swing(true);
  CHECK(c.bytes[0] == 0x7C);
  c.set_sleep(true);
  CHECK(c.bytes[0] == 0xFC);
  c.set_power(false);
  CHECK_FALSE(c.power());
  CHECK(c.raw_mode() == static_cast<int>(Mode::heat));
  CHECK(c.bytes[1] == 0x09);  // byte 1 setters leave the rest alone
  CHECK(c.bytes[2] == 0x20);
}

TEST_CASE("gree remote code: bytes 2 and 3 are set point, turbo, light, ventilation, x-fan; byte 4 is kept") {
  RemoteCode c = RemoteCode::factory();
  c.set_temp(16);
  CHECK(c.bytes[1] == 0x00);
  c.set_temp(30);
  CHECK(c.bytes[1] == 0x0E);
  CHECK(c.set_temp() == 30);
  c.set_temp(40);  // clamped
  CHECK(c.set_temp() == 30);
  c.set_light(false);
  CHECK(c.bytes[2] == 0x00);
  c.set_turbo(true);
  CHECK(c.bytes[2] == 0x10);
  c.set_light(true);
  c.set_ventilation(true);
  c.set_x_fan(true);
  CHECK(c.bytes[2] == 0xF0);
  CHECK(c.turbo());
  CHECK(c.light());
  CHECK(c.ventilation());
  CHECK(c.x_fan());
  CHECK(c.bytes[3] == 0x50);
}

TEST_CASE("gree remote code: timer digits (half hour, tens, hours) around the set point") {
  RemoteCode c = RemoteCode::factory();
  c.set_timer(1);  // 0.5 h
  CHECK(c.timer_on());
  CHECK(c.bytes[1] == (0x80 | 0x10 | 0x09));
  CHECK((c.bytes[2] & 0x0F) == 0);
  CHECK(c.timer_half_hours() == 1);
  c.set_timer(2 * 13 + 1);  // 13.5 h: tens 1, hours 3, half
  CHECK(c.bytes[1] == (0x80 | 0x20 | 0x10 | 0x09));
  CHECK((c.bytes[2] & 0x0F) == 3);
  CHECK(c.timer_half_hours() == 27);
  CHECK(c.set_temp() == 25);  // the timer leaves the temperature nibble alone
  c.set_timer(48);  // 24 h
  CHECK(c.bytes[1] == (0x80 | 0x40 | 0x09));
  CHECK((c.bytes[2] & 0x0F) == 4);
  c.set_timer(0);
  CHECK_FALSE(c.timer_on());
  CHECK(c.timer_half_hours() == 0);
  CHECK(c.bytes[1] == 0x09);
  CHECK(c.bytes[2] == 0x20);  // light kept
}

TEST_CASE("gree remote code: valid means every field in range (a unit still executes the others)") {
  CHECK(RemoteCode::factory().valid());
  RemoteCode all_ones{{0xFF, 0xFF, 0xFF, 0xFF}};
  CHECK_FALSE(all_ones.valid_mode());
  CHECK_FALSE(all_ones.valid_temp());
  CHECK_FALSE(all_ones.valid_timer());
  RemoteCode c = RemoteCode::factory();
  c.bytes[0] = 0x0D;  // power + mode 5
  CHECK_FALSE(c.valid());
  c = RemoteCode::factory();
  c.bytes[1] = 0x0F;  // 31 °C
  CHECK_FALSE(c.valid());
  c = RemoteCode::factory();
  c.bytes[1] = 0x89;
  c.bytes[2] = 0x2A;  // timer on with hours digit 10
  CHECK_FALSE(c.valid());
  c.bytes[1] = 0xC9;  // tens 2 + hours 5 = 25 h
  c.bytes[2] = 0x25;
  CHECK_FALSE(c.valid());
  c.bytes[2] = 0x24;  // 24 h
  CHECK(c.valid());
  c.bytes[1] = 0x09;  // timer off: its digits do not matter
  c.bytes[2] = 0x2F;
  CHECK(c.valid());
}

TEST_CASE("gree remote code: a status frame's settings take swing, light and ventilation from status 1") {
  Status s;
  s.code = RemoteCode::factory();  // light on, no swing, no ventilation in the echoed code
  s.code.set_power(true);
  s.s1 = 0x40 | 0x01;  // status 1: swing and ventilation on, light off
  const RemoteCode k = s.settings();
  CHECK(k.swing());
  CHECK(k.ventilation());
  CHECK_FALSE(k.light());
  CHECK(k.power());
  CHECK(k.hex() == "48094050");
}

TEST_CASE("gree remote code: mode and fan names") {
  CHECK(parse_mode("cool") == Mode::cool);
  CHECK(parse_mode("dry") == Mode::dry);
  CHECK_FALSE(parse_mode("ice"));
  CHECK(mode_name(2) == "dry");
  CHECK(mode_name(4) == "heat");
  CHECK(mode_name(7) == "mode7");
  CHECK(parse_fan("med") == Fan::medium);
  CHECK(parse_fan("high") == Fan::high);
  CHECK_FALSE(parse_fan("max"));
  CHECK(fan_name(Fan::auto_) == "auto");
}
