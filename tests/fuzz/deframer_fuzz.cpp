// libFuzzer target: the stream deframer and the frame <-> JSON round trip.
//
// Input: 4 header bytes, then the stream.
//   byte 0      CRC variant (modulo 3)
//   bytes 1..3  chunk sizes, cycled: (b % 97) + 1 bytes per feed()
// Checks (abort on failure):
//   * the events are identical whatever the chunking (whole input vs the chosen chunks);
//   * no event views more than kMaxEscaped raw bytes and buffered() never exceeds it;
//   * every good frame survives frame_to_json -> frame_from_json -> encode byte for byte
//     (the wire bytes equal the frame's raw bytes), and its JSON text serialises.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "m2m/deframer.hpp"
#include "m2m/json.hpp"

using namespace m2m;
using namespace m2m::ai;

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "deframer_fuzz: check failed: %s\n", what);
    std::abort();
  }
}

// One event as text; the comparison between chunkings uses it.
std::string describe(const DeframeEvent& ev) {
  std::string s = ev.ok ? "ok" : std::string(to_string(ev.error.kind));
  s += " " + std::to_string(ev.offset) + " " + std::to_string(ev.error.offset) + " " + std::to_string(ev.skipped) + " ";
  append_hex(s, ev.raw);
  return s;
}

void round_trip(const DeframeEvent& ev, CrcVariant crc) {
  nlohmann::json j = frame_to_json(ev.frame, ev.raw);
  std::string text = j.dump();  // must not throw (valid UTF-8 everywhere)
  std::string line;
  append_frame_json(line, ev.frame, ev.raw);
  check(nlohmann::json::parse(line, nullptr, false) == j, "append_frame_json agrees with frame_to_json");
  auto back = frame_from_json(nlohmann::json::parse(text));
  if (!back) {
    std::fprintf(stderr, "frame_from_json refused its own output: %s\n%s\n", back.error().message.c_str(), text.c_str());
    std::abort();
  }
  auto wire = encode(*back, crc);
  check(wire.has_value(), "a decoded frame re-encodes");
  if (*wire != Bytes(ev.raw.begin(), ev.raw.end())) {
    std::fprintf(stderr, "re-encoded bytes differ\n in: %s\nout: %s\njson: %s\n", to_hex(ev.raw).c_str(),
                 to_hex(*wire).c_str(), text.c_str());
    std::abort();
  }
}

std::vector<std::string> run(ByteView stream, const std::uint8_t* sizes, CrcVariant crc, bool deep) {
  Deframer d(crc);
  std::vector<std::string> out;
  DeframeEvent ev;
  std::size_t at = 0, k = 0;
  auto drain = [&] {
    while (d.next(ev)) {
      check(ev.raw.size() <= kMaxEscaped, "raw bounded");
      out.push_back(describe(ev));
      if (ev.ok && deep) round_trip(ev, crc);
    }
    check(d.buffered() <= kMaxEscaped, "buffer bounded");
  };
  while (at < stream.size()) {
    std::size_t n = sizes ? static_cast<std::size_t>(sizes[k++ % 3] % 97) + 1 : stream.size();
    if (n > stream.size() - at) n = stream.size() - at;
    d.feed(stream.subspan(at, n));
    at += n;
    drain();
  }
  d.finish();
  drain();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  const CrcVariant crc = static_cast<CrcVariant>(data[0] % 3);
  ByteView stream(data + 4, size - 4);
  auto chunked = run(stream, data + 1, crc, true);
  auto whole = run(stream, nullptr, crc, false);
  check(chunked == whole, "events independent of chunking");
  return 0;
}
