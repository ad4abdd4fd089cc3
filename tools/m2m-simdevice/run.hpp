// Runs the simulated devices of m2m-simdevice: prints what they receive (stdout, frame
// records), their events (-v, stderr), turns stdin lines into requests, keeps --state.
#pragma once

#include "options.hpp"

namespace simdevice {

int run(const Options& o);

}  // namespace simdevice
