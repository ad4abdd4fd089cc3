// CSV as the registry's import/export format: RFC 4180 fields on one line (quoted fields may
// hold commas and doubled quotes; a record never spans lines), written back the same way.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace m2m::platform {

// Splits one line (without its newline; a trailing '\r' is ignored) into fields.
Result<std::vector<std::string>> parse_csv_line(std::string_view line);
// Appends `field`, quoted when it contains a comma, quote, CR/LF or leading/trailing space.
void append_csv_field(std::string& out, std::string_view field);
std::string join_csv(const std::vector<std::string>& fields);

}  // namespace m2m::platform
