#include "set_patch.hpp"

#include <charconv>

#include "core/units.hpp"
#include "gree/remote_code.hpp"

namespace gree_ctl {

using m2m::cli::Exit;

namespace {

std::optional<bool> parse_switch(const std::string& s) {
  if (s == "on" || s == "yes" || s == "true" || s == "1") return true;
  if (s == "off" || s == "no" || s == "false" || s == "0") return false;
  return std::nullopt;
}

}  // namespace

m2m::expected<int, std::string> parse_temp(const std::string& text) {
  const char* const b = text.data();
  const char* const e = b + text.size();
  int t = 0;
  auto [p, ec] = std::from_chars(b, e, t);
  if (ec == std::errc{} && p == e) {
    if (t < m2m::gree::kMinTemp || t > m2m::gree::kMaxTemp) return m2m::unexpected<std::string>("out of range 16..30 (degrees Celsius)");
    return t;
  }
  double d = 0;
  auto [q, dec] = std::from_chars(b, e, d);
  if (dec == std::errc{} && q == e) return m2m::unexpected<std::string>("not a whole number: the unit takes whole degrees 16..30");
  return m2m::unexpected<std::string>("not a number: give whole degrees Celsius 16..30");
}

Outcome<m2m::gree::Json> build_patch(const SetRequest& s) {
  using m2m::gree::Json;
  Json patch = Json::object();
  const std::pair<const char*, const std::optional<std::string>*> switches[] = {
      {"power", &s.power}, {"swing", &s.swing}, {"sleep", &s.sleep}, {"turbo", &s.turbo},
      {"light", &s.light}, {"ventilation", &s.ventilation}, {"x_fan", &s.x_fan}};
  for (const auto& [key, value] : switches) {
    if (!*value) continue;
    auto b = parse_switch(**value);
    std::string opt = std::string("--") + key;
    if (opt == "--x_fan") opt = "--x-fan";
    if (!b) return failed(Exit::usage, opt + " " + **value + ": expected on or off", "usage");
    patch[key] = *b;
  }
  if (s.mode) {
    if (!m2m::gree::parse_mode(*s.mode)) return failed(Exit::usage, "--mode " + *s.mode + ": expected auto, cool, dry, fan or heat", "usage");
    patch["mode"] = *s.mode;
  }
  if (s.fan) {
    auto f = m2m::gree::parse_fan(*s.fan);
    if (!f) return failed(Exit::usage, "--fan " + *s.fan + ": expected auto, low, medium or high", "usage");
    patch["fan"] = m2m::gree::fan_name(*f);
  }
  if (s.temp) {
    auto t = parse_temp(*s.temp);
    if (!t) return failed(Exit::usage, "--temp " + *s.temp + ": " + t.error(), "usage");
    patch["set_temp"] = *t;
  }
  if (s.timer) {
    if (*s.timer == "off" || *s.timer == "0") {
      patch["timer"] = nullptr;
    } else {
      const bool has_unit = !s.timer->empty() && !std::isdigit(static_cast<unsigned char>(s.timer->back()));
      auto d = m2m::parse_duration(*s.timer);
      const auto ms = d ? d->count() : -1;
      if (!has_unit || !d || ms < 1800000 || ms > 86400000 || ms % 1800000 != 0)
        return failed(Exit::usage, "--timer " + *s.timer + ": expected off or 30m..24h in half-hour steps (e.g. 2.5h, 90m)", "usage");
      patch["timer"] = static_cast<double>(ms) / 3600000.0;
    }
  }
  if (patch.empty()) return failed(Exit::usage, "nothing to set: give at least one of --power --mode --temp --fan --swing --sleep --turbo --light --ventilation --x-fan --timer", "usage");
  return patch;
}

}  // namespace gree_ctl
