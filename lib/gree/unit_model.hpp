// The behaviour of an emulated Gree unit and of several units sharing one RS485 bus: which
// requests a unit executes and answers (gree-protocol(7)), how its room temperature drifts and
// which parts run. Pure: time comes in as "advance by N ms", so tests are deterministic.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/bytes.hpp"
#include "gree/frame.hpp"

namespace m2m::gree {

struct UnitConfig {
  int address = 0;                   // 0 = factory, no address
  bool cooling_only = false;         // model bit of status 3
  int room_temp = 26;                // °C at start
  std::int64_t ms_per_degree = 30000; // room temperature drift speed while running; 0 = none
  std::uint8_t faults = 0;           // bit n-1 = fault En
};

class Unit {
 public:
  explicit Unit(const UnitConfig& cfg);

  // Acts on a request as a unit on the line would: returns the status frame it answers with,
  // or nullopt when it stays silent (0x05, or a 0x07 for another address). 0x06 executes
  // nothing; 0x05, 0x07 (to this unit) and 0x0A execute the code they carry, whatever it is.
  std::optional<Status> handle(const Request& r);
  // Takes a remote code as the unit's new settings (see handle()).
  void execute(const RemoteCode& code);
  // Lets simulated time pass: room temperature moves one degree per ms_per_degree toward the
  // set point while the compressor (or, in fan-free modes, the heater) runs.
  void advance(std::int64_t ms);
  Status status() const;

  int address() const { return address_; }
  const RemoteCode& code() const { return code_; }
  void set_faults(std::uint8_t bits) { faults_ = bits & 0x3F; }

 private:
  bool heats() const;  // running in a heating sense now (heat, or auto below the set point)
  bool demand() const;

  int address_;
  bool cooling_only_;
  std::int64_t ms_per_degree_;
  std::uint8_t faults_;
  RemoteCode code_ = RemoteCode::factory();
  double room_;
};

// Several units on one bus. Each request goes to every unit; when more than one answers, their
// transmitters overlap: the result is modelled as the bytewise AND of the frames (a driven 0
// wins over an idle 1 on the line), which almost always breaks the checksum.
class Bus {
 public:
  explicit Bus(std::vector<Unit> units) : units_(std::move(units)) {}
  // The replies of every unit that answers, in unit order.
  std::vector<Status> handle(const Request& r);
  void advance(std::int64_t ms);
  std::vector<Unit>& units() { return units_; }

 private:
  std::vector<Unit> units_;
};

// What a listener hears when these frames are sent at the same moment.
Bytes collide(const std::vector<Bytes>& frames);

}  // namespace m2m::gree
