#include "device/sim_params.hpp"

#include "m2m/frame.hpp"

#include <ctime>

namespace m2m::device {
namespace {

// Days since 1970-01-01 of a civil date, and back (H. Hinnant's algorithms).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

}  // namespace

std::int64_t system_wall_clock() { return static_cast<std::int64_t>(std::time(nullptr)); }

ai::RtcTime rtc_from_epoch(std::int64_t s) {
  std::int64_t days = s >= 0 ? s / 86400 : (s - 86399) / 86400;
  const std::int64_t secs = s - days * 86400;
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2);
  ai::RtcTime t;
  t.year = static_cast<int>(y);
  t.month = static_cast<int>(m);
  t.day = static_cast<int>(d);
  t.hour = static_cast<int>(secs / 3600);
  t.minute = static_cast<int>(secs / 60 % 60);
  t.second = static_cast<int>(secs % 60);
  t.weekday = static_cast<int>(((days % 7) + 7 + 3) % 7) + 1;  // 1970-01-01 was a Thursday (4)
  return t;
}

std::int64_t epoch_from_rtc(const ai::RtcTime& t) {
  return days_from_civil(t.year, static_cast<unsigned>(t.month), static_cast<unsigned>(t.day)) * 86400 +
         t.hour * 3600 + t.minute * 60 + t.second;
}

ParamValues& Params::own() {
  if (!own_) own_ = std::make_unique<ParamValues>(*defaults_);
  return *own_;
}

std::optional<Bytes> Params::read(std::uint16_t id, WallClock wall) const {
  const ParamValues& v = get();
  ai::ConfigValue value;
  switch (id) {
    case ai::param::version: value = ai::VersionInfo{v.hardware, v.software, v.bootloader}; break;
    case ai::param::server: value = v.server; break;
    case ai::param::fallback_server: value = v.fallback; break;
    case ai::param::dns: value = v.dns; break;
    case ai::param::send_wait: value = v.send_wait; break;
    case ai::param::heartbeat_interval: value = v.heartbeat_s; break;
    case ai::param::rtc: value = rtc_from_epoch(wall() + v.rtc_offset_s); break;
    case ai::param::write_timeout: value = v.write_timeout; break;
    case ai::param::read_timeout: value = v.read_timeout; break;
    default: return std::nullopt;
  }
  Bytes out;
  put_le16(out, id);
  if (!ai::put_config_value(out, id, value)) return std::nullopt;  // a string with no GBK form
  return out;
}

std::uint8_t Params::write(ByteView data, WallClock wall, std::uint16_t* changed) {
  if (data.size() < 2) return ai::status::fail;
  const std::uint16_t id = get_le16(data.data());
  if (!read(id, wall)) return ai::status::unsupported;
  if (id == ai::param::version) return ai::status::fail;  // read only (m2m-protocol(7))
  auto value = ai::get_config_value(id, data.subspan(2));
  if (!value) return ai::status::fail;
  // A device must keep its session alive: an interval of 0 is refused, not obeyed.
  if (id == ai::param::heartbeat_interval && std::get<std::uint8_t>(*value) == 0) return ai::status::fail;
  ParamValues& v = own();
  switch (id) {
    case ai::param::server: v.server = std::get<ai::ServerAddr>(*value); break;
    case ai::param::fallback_server: v.fallback = std::get<ai::ServerAddr>(*value); break;
    case ai::param::dns: v.dns = std::get<std::uint32_t>(*value); break;
    case ai::param::send_wait: v.send_wait = std::get<std::uint8_t>(*value); break;
    case ai::param::heartbeat_interval: v.heartbeat_s = std::get<std::uint8_t>(*value); break;
    case ai::param::rtc: v.rtc_offset_s = epoch_from_rtc(std::get<ai::RtcTime>(*value)) - wall(); break;
    case ai::param::write_timeout: v.write_timeout = std::get<std::uint8_t>(*value); break;
    case ai::param::read_timeout: v.read_timeout = std::get<std::uint8_t>(*value); break;
    default: return ai::status::unsupported;
  }
  if (changed) *changed = id;
  return ai::status::ok;
}

}  // namespace m2m::device
