// SMS commands of the telematics protocol (telematics-protocol(7) "SMS COMMANDS"):
//   #=CMD,ARG,…:#
// The protocol document allows English letters, digits and five characters (= : , . #); any other
// character is ignored, i.e. removed before parsing. After that the text must start with
// "#=" and end with ":#"; what lies between is split at every ',' into the command (first
// field, not empty) and its arguments (possibly empty).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace m2m::telematics {

struct SmsCommand {
  std::string command;
  std::vector<std::string> args;
  bool operator==(const SmsCommand&) const = default;
};

bool sms_allowed(char c);
std::string sms_clean(std::string_view text);  // `text` without the ignored characters

// Errors are bad_value with the offset of the offending character in `text` (0 when the
// whole text is at fault).
Result<SmsCommand> parse_sms(std::string_view text);
// "#=CMD,A,B:#". Fails (bad_value) for an empty command or a field with a character outside
// the allowed set or a ',' (it would not parse back to the same fields).
Result<std::string> format_sms(const SmsCommand& c);

}  // namespace m2m::telematics
