// m2m-ota-serve's output: the device list it reads and the records it writes.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "platform/ota.hpp"

namespace m2m::ota_serve {

// Ids separated by commas, spaces or new lines; a line's first CSV field.
Result<std::vector<std::uint64_t>> parse_ids(const std::string& text, const std::string& where);
std::string version_text(const std::string& v);
// One JSON line per finished device (m2m-ota-serve(1), OUTPUT).
std::string record(const platform::ota::Transfer& t);

// After the run: a failed record for every target that did not finish (with the reason), the
// summary line on stdout and on stderr; returns how many did not finish.
unsigned write_final(const std::vector<std::uint64_t>& targets, const platform::ota::Campaign& c,
                     std::uint64_t bytes_served, const std::string& name, std::size_t image_bytes,
                     std::chrono::steady_clock::time_point t0);

}  // namespace m2m::ota_serve
