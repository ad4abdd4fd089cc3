// Durations with units ("500ms", "2s", "5m", "1h"; a bare number means seconds) and counts
// with k/M suffixes ("10k" = 10000, "1M" = 1000000), as every CLI accepts them.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace m2m {

Result<std::chrono::milliseconds> parse_duration(std::string_view s);
Result<std::uint64_t> parse_count(std::string_view s);
std::string format_duration(std::chrono::milliseconds d);  // "1.5s", "250ms", "5m"
// Now as ISO-8601 UTC with milliseconds ("2026-12-02T10:20:00.123Z"): the `ts` member of every
// stream tool's records and of the platform's events.
std::string timestamp_now();

}  // namespace m2m
