// libFuzzer target: arbitrary text as a JSON frame object. frame_from_json must never crash or
// throw; whatever it accepts must encode (or be refused cleanly), and an encoded frame must
// decode back to the same frame and survive a second JSON round trip unchanged.
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "m2m/deframer.hpp"
#include "m2m/json.hpp"

using namespace m2m;
using namespace m2m::ai;

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "json_fuzz: check failed: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  auto frame = frame_from_json(j);
  if (!frame) {
    check(!frame.error().message.empty(), "a refusal says why");
    return 0;
  }
  auto wire = encode(*frame);
  if (!wire) return 0;  // e.g. larger than 1400 bytes: a clean refusal
  Bytes un;
  check(unescape(*wire, un).has_value(), "encoder output unescapes");
  auto view = decode(un);
  check(view.has_value(), "encoder output decodes");
  // Second round: JSON of the decoded frame must rebuild the identical wire bytes.
  nlohmann::json again = frame_to_json(*view, *wire);
  (void)again.dump();
  auto rebuilt = frame_from_json(again);
  check(rebuilt.has_value(), "frame_from_json accepts frame_to_json output");
  auto wire2 = encode(*rebuilt);
  check(wire2.has_value() && *wire2 == *wire, "second round trip is byte-identical");
  return 0;
}
