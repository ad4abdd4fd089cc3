// The `set` options as a JSON patch of remote-state fields, validated before anything is sent.
#pragma once

#include <optional>
#include <string>

#include "failure.hpp"
#include "gree/json.hpp"

namespace gree_ctl {

struct SetRequest {
  std::optional<std::string> power, mode, temp, fan, swing, sleep, turbo, light, ventilation, x_fan, timer;
};

// "24" -> 24; otherwise what is wrong: "not a number", "not a whole number", "out of range 16..30".
m2m::expected<int, std::string> parse_temp(const std::string& text);

// {"power":true,"set_temp":24,…}; usage errors name the option and the allowed values.
Outcome<m2m::gree::Json> build_patch(const SetRequest& s);

}  // namespace gree_ctl
