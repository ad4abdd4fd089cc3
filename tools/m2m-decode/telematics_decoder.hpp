// m2m-decode --protocol telematics|sms: the telematics frames (telematics-protocol(7)) or SMS
// command lines of each input to JSON Lines, with the same records, options and exit codes
// as the AI-Cloud path (stream_decoder.hpp).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "stream_decoder.hpp"

namespace m2m::decode {

enum class Protocol { ai, telematics, sms };

// Decodes every input named in `files` ("-" = stdin); returns the exit code.
int run_telematics(std::string_view prog, Protocol protocol, const Options& opt, const std::vector<std::string>& files,
                   bool verbose);

}  // namespace m2m::decode
