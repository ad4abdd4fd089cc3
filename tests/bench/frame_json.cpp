// Frames -> JSON Lines throughput of the codec alone (deframe + decode + append_frame_json),
// the work m2m-decode does per frame. Prints frames/s for a realistic mix and per kind;
// the target is >= 300,000 frames/s on the 2-core build machine.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "m2m/deframer.hpp"
#include "m2m/json.hpp"
#include "m2m/messages.hpp"

using namespace m2m;
using namespace m2m::ai;

namespace {

Frame frame(std::uint16_t key, std::uint8_t st, Bytes data) {
  Frame f;
  f.cls = static_cast<std::uint8_t>(key >> 8);
  f.cmd = static_cast<std::uint8_t>(key);
  f.seq = 0x1234;
  f.status = st;
  f.device = 0xACCF23FED24Aull;
  if (has_token_field(f.cls, f.cmd)) f.token = {1, 2, 3, 4, 5, 6, 7, 8};
  f.data = std::move(data);
  return f;
}

Bytes payload(std::size_t n) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i * 7 + 3);
  return b;
}

// Returns frames per second for `count` copies of the given frames, as one stream.
double run(const std::vector<Frame>& kinds, std::size_t count, const char* label) {
  Bytes stream;
  for (std::size_t i = 0; i < count; ++i) {
    auto r = encode(kinds[i % kinds.size()].view(), CrcVariant::modbus, stream);
    if (!r) {
      std::fprintf(stderr, "encode failed: %s\n", r.error().message.c_str());
      return 0;
    }
  }
  std::string out;
  out.reserve(1 << 20);
  std::size_t frames = 0, bytes_out = 0;
  auto t0 = std::chrono::steady_clock::now();
  Deframer d;
  const std::size_t chunk = 64 * 1024;
  for (std::size_t at = 0; at < stream.size(); at += chunk) {
    d.feed(ByteView(stream).subspan(at, std::min(chunk, stream.size() - at)));
    DeframeEvent ev;
    while (d.next(ev)) {
      if (ev.ok) {
        append_frame_json(out, ev.frame, ev.raw);
        out += '\n';
        ++frames;
      }
      if (out.size() > (1 << 20) - 4096) {
        bytes_out += out.size();
        out.clear();
      }
    }
  }
  d.finish();
  auto t1 = std::chrono::steady_clock::now();
  bytes_out += out.size();
  const double s = std::chrono::duration<double>(t1 - t0).count();
  const double fps = static_cast<double>(frames) / s;
  std::printf("%-28s %8zu frames  %7.3f s  %10.0f frames/s  %6.1f MB/s JSON\n", label, frames, s, fps,
              static_cast<double>(bytes_out) / s / 1e6);
  return fps;
}

}  // namespace

int main() {
  const std::size_t n = 1'000'000;
  std::printf("frame_json: deframe + decode + append_frame_json (with raw), 1 thread, %zu frames per run\n", n);
  std::vector<Frame> mix = {
      frame(cmd::link_heartbeat, status::request, {}),
      frame(cmd::link_heartbeat, status::ok, {}),
      frame(cmd::data_uplink, status::request, payload(32)),
      frame(cmd::data_uplink, status::ok, {}),
      frame(cmd::term_event, status::request, Bytes{0x20, 'r', 'u', 'n', 'n', 'i', 'n', 'g', 0}),
      frame(cmd::link_login, status::request, payload(8)),
      frame(cmd::link_login, status::ok, Bytes{8, 1, 2, 3, 4, 5, 6, 7, 8}),
  };
  double mixed = run(mix, n, "mix (7 kinds)");
  run({frame(cmd::link_heartbeat, status::request, {})}, n, "link.heartbeat request");
  run({frame(cmd::data_uplink, status::request, payload(32))}, n, "data.uplink 32-byte payload");
  run({frame(cmd::data_uplink, status::request, payload(512))}, n / 4, "data.uplink 512-byte payload");
  run({frame(0x1234, status::request, payload(16))}, n, "unknown command");
  std::printf("target 300000 frames/s: %s\n", mixed >= 300000 ? "met" : "NOT met");
  return 0;
}
