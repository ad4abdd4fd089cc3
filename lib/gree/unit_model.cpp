#include "gree/unit_model.hpp"

#include <algorithm>
#include <cmath>

namespace m2m::gree {

Unit::Unit(const UnitConfig& cfg)
    : address_(cfg.address),
      cooling_only_(cfg.cooling_only),
      ms_per_degree_(cfg.ms_per_degree),
      faults_(cfg.faults & 0x3F),
      room_(cfg.room_temp) {}

std::optional<Status> Unit::handle(const Request& r) {
  switch (r.kind) {
    case RequestKind::read:  // the vendor document: the unit "does not receive" this code
      return status();
    case RequestKind::broadcast:
      execute(r.code);
      return std::nullopt;
    case RequestKind::addressed:
      if (address_ == 0 || r.address != address_) return std::nullopt;
      execute(r.code);
      return status();
    case RequestKind::set_address:
      address_ = r.address;
      execute(r.code);
      return status();
  }
  return std::nullopt;
}

void Unit::execute(const RemoteCode& in) {
  // Every code is executed. A field the unit cannot interpret (mode 5..7, set point nibble
  // 15 = 31 °C, timer digits above 9 or beyond 24 h) leaves that one setting as it was; every
  // other bit is taken as sent (gree-protocol(7), "Invalid field values"). code_ is always
  // valid, so what the unit reports is what it runs.
  RemoteCode next = in;
  if (!in.valid_mode()) next.set_mode(static_cast<Mode>(code_.raw_mode()));
  if (!in.valid_temp()) next.bytes[1] = static_cast<std::uint8_t>((next.bytes[1] & 0xF0) | (code_.bytes[1] & 0x0F));
  if (!in.valid_timer()) {
    next.bytes[1] = static_cast<std::uint8_t>((next.bytes[1] & 0x0F) | (code_.bytes[1] & 0xF0));
    next.bytes[2] = static_cast<std::uint8_t>((next.bytes[2] & 0xF0) | (code_.bytes[2] & 0x0F));
  }
  code_ = next;
}

bool Unit::heats() const {
  const int set = code_.set_temp();
  const auto mode = code_.raw_mode();
  if (cooling_only_) return false;
  if (mode == static_cast<int>(Mode::heat)) return true;
  return mode == static_cast<int>(Mode::auto_) && std::lround(room_) < set;
}

bool Unit::demand() const {
  if (!code_.power()) return false;
  const long room = std::lround(room_);
  const int set = code_.set_temp();
  switch (static_cast<Mode>(code_.raw_mode())) {
    case Mode::cool:
    case Mode::dry: return room > set;
    case Mode::heat: return !cooling_only_ && room < set;
    case Mode::auto_: return room > set || (!cooling_only_ && room < set);
    case Mode::fan: return false;
  }
  return false;
}

void Unit::advance(std::int64_t ms) {
  if (ms <= 0 || ms_per_degree_ <= 0 || !demand() || faults_ != 0) return;
  const double step = static_cast<double>(ms) / static_cast<double>(ms_per_degree_);
  const double set = code_.set_temp();
  room_ = heats() ? std::min(set, room_ + step) : std::max(set, room_ - step);
}

Status Unit::status() const {
  Status s;
  s.address = address_;
  s.code = code_;
  s.room_temp = static_cast<int>(std::clamp<long>(std::lround(room_), 0, 99));
  const bool on = code_.power();
  const long diff = std::labs(std::lround(room_) - code_.set_temp());
  const bool compressor = demand() && faults_ == 0;  // any protection stops the compressor
  std::uint8_t s1 = 0, s2 = 0;
  if (code_.swing()) s1 |= 0x40;
  if (code_.light()) s1 |= 0x20;
  if (code_.ventilation()) s1 |= 0x01;
  if (on) {
    Fan fan = code_.fan();
    if (code_.raw_mode() == static_cast<int>(Mode::dry)) fan = Fan::low;
    if (fan == Fan::auto_) fan = diff >= 3 ? Fan::high : diff >= 1 ? Fan::medium : Fan::low;
    s1 |= fan == Fan::high ? 0x08 : fan == Fan::medium ? 0x04 : 0x02;
    if (heats() && demand() && diff >= 3) s1 |= 0x10;  // auxiliary electric heater on a big gap
  }
  if (compressor) {
    s2 |= 0x02;
    s2 |= diff >= 3 ? 0x20 : 0x80;  // outdoor fan high on a big gap, low near the set point
    if (heats()) s2 |= 0x10;        // four-way valve reverses the cycle for heating
  }
  s.s1 = s1;
  s.s2 = s2;
  s.s3 = static_cast<std::uint8_t>(faults_ | 0x40 | (cooling_only_ ? 0x80 : 0));  // memory always on
  return s;
}

std::vector<Status> Bus::handle(const Request& r) {
  std::vector<Status> replies;
  for (auto& u : units_)
    if (auto s = u.handle(r)) replies.push_back(*s);
  return replies;
}

void Bus::advance(std::int64_t ms) {
  for (auto& u : units_) u.advance(ms);
}

Bytes collide(const std::vector<Bytes>& frames) {
  if (frames.empty()) return {};
  Bytes out = frames.front();
  for (const auto& f : frames) {
    if (f.size() > out.size()) out.resize(f.size(), 0xFF);
    for (std::size_t i = 0; i < f.size(); ++i) out[i] &= f[i];
  }
  return out;
}

}  // namespace m2m::gree
