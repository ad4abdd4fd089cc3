// m2m-simdevice --state FILE: what each simulated device was configured with (its own
// parameters, sim_params.hpp) kept across runs, as JSON, written atomically (a temporary file
// renamed over the old one, so a crash leaves the old or the new file, never half of one):
//   {"v":1,"devices":{"0000000000FED24A":{"software":"app-v2","server":{"host":"…","port":8266,
//    "transport":"tcp"},"fallback_server":{…},"dns":"114.114.114.114","send_wait":10,
//    "heartbeat_interval":30,"rtc_offset":0,"write_timeout":10,"read_timeout":10}}}
// Devices that still use the shared defaults are not written.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/error.hpp"
#include "device/sim_params.hpp"

namespace m2m::device {

class SimDevice;

// Reads FILE (missing: nothing to apply) and gives each device its saved values through
// `apply(id, values)`; an error names the file and what is wrong.
Result<void> load_state(const std::string& file, const ParamValues& defaults,
                        const std::function<void(std::uint64_t, const ParamValues&)>& apply);
// Writes every device with its own parameters (`each` calls its argument for every device).
Result<void> save_state(const std::string& file,
                        const std::function<void(const std::function<void(std::uint64_t, const Params&)>&)>& each);

}  // namespace m2m::device
