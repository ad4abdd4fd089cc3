#include <doctest/doctest.h>

#include "gree/unit_model.hpp"

using namespace m2m;
using namespace m2m::gree;

namespace {
RemoteCode cool_at(int temp) {
  RemoteCode c;
  c.set_power(true);
  c.set_mode(Mode::cool);
  c.set_temp(temp);
  c.set_fan(Fan::auto_);
  return c;
}
}  // namespace

TEST_CASE("gree unit: which requests a unit executes and answers") {
  Unit u(UnitConfig{.address = 1023});
  CHECK(u.handle(Request{RequestKind::read, 0, cool_at(20)})->code == RemoteCode::factory());  // read executes nothing
  CHECK_FALSE(u.handle(Request{RequestKind::broadcast, 0, cool_at(20)}));                      // executes, silent
  CHECK(u.code() == cool_at(20));
  CHECK_FALSE(u.handle(Request{RequestKind::addressed, 1024, cool_at(22)}));  // another unit's
  CHECK(u.code() == cool_at(20));
  auto s = u.handle(Request{RequestKind::addressed, 1023, cool_at(22)});
  REQUIRE(s);
  CHECK(s->address == 1023);
  CHECK(s->code == cool_at(22));
  // re-sending the code the unit runs changes nothing: the only addressed read there is
  CHECK(u.handle(Request{RequestKind::addressed, 1023, s->settings()})->code == cool_at(22));
  // 0x0A takes the address and executes its code too
  auto a = u.handle(Request{RequestKind::set_address, 7, cool_at(23)});
  REQUIRE(a);
  CHECK(a->address == 7);
  CHECK(a->code == cool_at(23));
  CHECK(u.handle(Request{RequestKind::set_address, 0, cool_at(23)})->address == 0);
  // a unit without an address ignores every addressed request
  CHECK_FALSE(u.handle(Request{RequestKind::addressed, 7, cool_at(25)}));
  CHECK(u.code() == cool_at(23));
}

TEST_CASE("gree unit: every code is executed; a field out of range leaves that one setting as it was") {
  RemoteCode running = cool_at(24);
  running.set_fan(Fan::high);
  Unit u(UnitConfig{.address = 1023});
  u.handle(Request{RequestKind::addressed, 1023, running});
  // FFFFFFFF: power on, fan high, swing, sleep, turbo, light, ventilation, x-fan are bits a
  // unit can take; mode 7, 31 degrees and a 45-hour timer are not.
  auto s = u.handle(Request{RequestKind::addressed, 1023, RemoteCode{{0xFF, 0xFF, 0xFF, 0xFF}}});
  REQUIRE(s);
  const RemoteCode& c = s->code;
  CHECK(c.valid());
  CHECK(c.power());
  CHECK(c.raw_mode() == static_cast<int>(Mode::cool));  // kept
  CHECK(c.set_temp() == 24);                             // kept
  CHECK_FALSE(c.timer_on());                             // kept (was off)
  CHECK(c.fan() == Fan::high);
  CHECK(c.swing());
  CHECK(c.sleep());
  CHECK(c.turbo());
  CHECK(c.light());
  CHECK(c.ventilation());
  CHECK(c.x_fan());
  CHECK(c.reserved() == 0xFF);
  CHECK(c.hex() == "F908F0FF");
  CHECK(s->swing());  // and status 1 shows what runs
  CHECK(s->ventilation());
  // a valid timer is taken; then an invalid one leaves it
  RemoteCode timed = cool_at(24);
  timed.set_timer(5);
  CHECK(u.handle(Request{RequestKind::addressed, 1023, timed})->code.timer_half_hours() == 5);
  RemoteCode bad_timer = cool_at(26);
  bad_timer.bytes[1] = static_cast<std::uint8_t>(0x80 | 0x0A);  // timer on, 26 degrees
  bad_timer.bytes[2] = static_cast<std::uint8_t>((bad_timer.bytes[2] & 0xF0) | 0x0C);  // hours digit 12
  auto t = u.handle(Request{RequestKind::addressed, 1023, bad_timer});
  CHECK(t->code.set_temp() == 26);
  CHECK(t->code.timer_on());
  CHECK(t->code.timer_half_hours() == 5);
  // broadcasts and 0x0A follow the same rule
  u.handle(Request{RequestKind::broadcast, 0, RemoteCode{{0x0F, 0x0F, 0x00, 0x50}}});  // power on, mode 7, 31 degrees
  CHECK(u.code().raw_mode() == static_cast<int>(Mode::cool));
  CHECK(u.code().set_temp() == 26);
}

TEST_CASE("gree unit: cooling: compressor, outdoor fan and drift toward the set point") {
  Unit u(UnitConfig{.address = 1, .room_temp = 28, .ms_per_degree = 1000});
  u.handle(Request{RequestKind::broadcast, 0, cool_at(24)});
  Status s = u.status();
  CHECK(s.compressor());
  CHECK(s.outdoor_fan_high());  // 4 degrees away
  CHECK_FALSE(s.four_way_valve());
  CHECK(s.indoor_fan_high());   // auto fan, big gap
  u.advance(2000);
  CHECK(u.status().room_temp == 26);
  u.advance(1000);
  s = u.status();
  CHECK(s.room_temp == 25);
  CHECK(s.outdoor_fan_low());
  CHECK(s.indoor_fan_medium());
  u.advance(60000);
  s = u.status();
  CHECK(s.room_temp == 24);  // never overshoots
  CHECK_FALSE(s.compressor());
  CHECK(s.indoor_fan_low());
}

TEST_CASE("gree unit: heating reverses the valve; a cooling-only model does not heat") {
  RemoteCode heat = cool_at(26);
  heat.set_mode(Mode::heat);
  Unit hp(UnitConfig{.room_temp = 20, .ms_per_degree = 1000});
  hp.handle(Request{RequestKind::broadcast, 0, heat});
  Status s = hp.status();
  CHECK(s.compressor());
  CHECK(s.four_way_valve());
  CHECK(s.heater());  // 6 degrees below
  hp.advance(3000);
  CHECK(hp.status().room_temp == 23);
  Unit co(UnitConfig{.cooling_only = true, .room_temp = 20, .ms_per_degree = 1000});
  co.handle(Request{RequestKind::broadcast, 0, heat});
  s = co.status();
  CHECK(s.cooling_only());
  CHECK_FALSE(s.compressor());
  CHECK_FALSE(s.four_way_valve());
  co.advance(3000);
  CHECK(co.status().room_temp == 20);
}

TEST_CASE("gree unit: a fault stops the compressor and shows in status 3; power off stops everything") {
  Unit u(UnitConfig{.room_temp = 30, .faults = 0x04});
  u.handle(Request{RequestKind::broadcast, 0, cool_at(20)});
  Status s = u.status();
  CHECK(s.faults() == 0x04);
  CHECK(s.memory());
  CHECK_FALSE(s.compressor());
  CHECK(s.indoor_fan_high());
  u.set_faults(0);
  CHECK(u.status().compressor());
  RemoteCode off = cool_at(20);
  off.set_power(false);
  u.handle(Request{RequestKind::broadcast, 0, off});
  s = u.status();
  CHECK(s.s2 == 0);
  CHECK((s.s1 & 0x0E) == 0);
}

TEST_CASE("gree unit: a bus: addressed requests reach one unit, a read makes both answer and collide") {
  Bus bus({Unit(UnitConfig{.address = 1023}), Unit(UnitConfig{.address = 1024, .room_temp = 22})});
  auto one = bus.handle(Request{RequestKind::addressed, 1024, RemoteCode::factory()});
  REQUIRE(one.size() == 1);
  CHECK(one[0].address == 1024);
  auto both = bus.handle(Request{});
  REQUIRE(both.size() == 2);
  const Bytes heard = collide({*encode_status(both[0]), *encode_status(both[1])});
  CHECK(heard.size() == kStatusSize);
  CHECK_FALSE(decode_status(heard));  // garbled
  CHECK(collide({Bytes{0xF0, 0x0F}}) == Bytes{0xF0, 0x0F});
  CHECK(collide({Bytes{0xF0, 0x3C}, Bytes{0x3C, 0xF0}}) == Bytes{0x30, 0x30});
}
