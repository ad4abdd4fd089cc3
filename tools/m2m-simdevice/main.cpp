// m2m-simdevice: one or many simulated AI-Cloud devices (the seed's ESP8266 module, per
// m2m-protocol(7)) against a platform. The device's behaviour is lib/device (simdevice.hpp),
// the I/O lib/device/sim_fleet.hpp; this folder holds options, printing and exit codes.
#include "options.hpp"
#include "run.hpp"

int main(int argc, char** argv) {
  simdevice::Options o;
  if (int rc = simdevice::parse_options(argc, argv, o); rc >= 0) return rc;
  return simdevice::run(o);
}
