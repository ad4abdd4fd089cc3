// Deframe + validate (unescape, length, CRC, token) in ns per frame on a realistic mix of
// frames averaging about 64 wire bytes (target <= 100 ns/frame).
//   bench_deframe                 run the benchmark
//   bench_deframe --write FILE N  write N frames of the same mix to FILE (for scripts/bench's
//                                 m2m-decode end-to-end run) and exit
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>

#include "bench_util.hpp"
#include "m2m/deframer.hpp"

using namespace m2m;
using namespace m2m::ai;

namespace {

// A traffic mix like a platform sees: mostly heartbeats and uplinks, some logins, replies,
// config and event frames; data bytes random (so 0x54/0x55 escapes occur naturally).
Bytes make_stream(std::size_t frames, std::mt19937& rng, std::size_t& wire_bytes) {
  Bytes out;
  auto rnd = [&](std::size_t n) {
    Bytes b(n);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    return b;
  };
  for (std::size_t i = 0; i < frames; ++i) {
    Frame f;
    f.seq = static_cast<std::uint16_t>(i);
    f.device = 0x0000ACCF00000000ULL | (rng() & 0xFFFFFF);
    f.token = rnd(8);
    f.status = status::request;
    switch (rng() % 10) {
      case 0: f.cls = cls::link; f.cmd = 0x00; f.data = rnd(8); break;              // login, 29 B
      case 1: case 2: f.cls = cls::link; f.cmd = 0x01; break;                       // heartbeat, 30 B
      case 3: f.cls = cls::link; f.cmd = 0x01; f.status = status::ok; break;        // its reply
      case 4: case 5: case 6: f.cls = cls::data; f.cmd = 0xEE; f.data = rnd(20 + rng() % 126); break;  // uplink
      case 7: f.cls = cls::data; f.cmd = 0xFF; f.data = rnd(10 + rng() % 60); break;                  // downlink
      case 8: f.cls = cls::term; f.cmd = 0xF0; f.data = rnd(20 + rng() % 40); break;                  // event
      default: f.cls = cls::term; f.cmd = 0xAA; f.data = rnd(2 + rng() % 20); f.status = status::ok; break;
    }
    auto r = encode(f);
    out.insert(out.end(), r->begin(), r->end());
  }
  wire_bytes = out.size();
  return out;
}

}  // namespace

int write_file(const char* path, std::size_t frames) {
  std::mt19937 rng(11);
  std::size_t bytes = 0;
  Bytes stream = make_stream(frames, rng, bytes);
  FILE* f = std::fopen(path, "wb");
  if (!f || std::fwrite(stream.data(), 1, stream.size(), f) != stream.size() || std::fclose(f) != 0) {
    std::fprintf(stderr, "bench_deframe: cannot write %s\n", path);
    return 1;
  }
  std::printf("%zu frames, %zu bytes\n", frames, bytes);
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--write") == 0) return write_file(argv[2], std::strtoull(argv[3], nullptr, 10));
  constexpr std::size_t kFrames = 200000;
  constexpr std::size_t kChunk = 64 * 1024;  // a typical read() size
  constexpr int kReps = 7;
  std::mt19937 rng(7);
  std::size_t bytes = 0;
  Bytes stream = make_stream(kFrames, rng, bytes);
  std::printf("deframe: %zu frames, %zu bytes (average %.1f bytes/frame), %zu-byte chunks, best of %d runs\n",
              kFrames, bytes, static_cast<double>(bytes) / kFrames, kChunk, kReps);
  std::size_t good = 0;
  double t = bench::best_of(kReps, [&] {
    Deframer d;
    DeframeEvent ev;
    good = 0;
    for (std::size_t at = 0; at < stream.size(); at += kChunk) {
      d.feed(ByteView(stream).subspan(at, std::min(kChunk, stream.size() - at)));
      while (d.next(ev)) good += ev.ok;
    }
    d.finish();
    while (d.next(ev)) good += ev.ok;
  });
  if (good != kFrames) {
    std::printf("deframe: ERROR: %zu of %zu frames decoded\n", good, kFrames);
    return 1;
  }
  std::printf("deframe+validate %.1f ns/frame (target <= 100), %.2f Mframes/s, %.2f GB/s\n", t / kFrames * 1e9,
              kFrames / t / 1e6, static_cast<double>(bytes) / t / 1e9);
  // One byte at a time: the worst case for the chunk bookkeeping (serial ports deliver this).
  const std::size_t small_frames = 20000;
  std::size_t small_bytes = 0;
  Bytes small = make_stream(small_frames, rng, small_bytes);
  double t1 = bench::best_of(3, [&] {
    Deframer d;
    DeframeEvent ev;
    for (std::size_t at = 0; at < small.size(); ++at) {
      d.feed(ByteView(small).subspan(at, 1));
      while (d.next(ev)) bench::keep(ev.ok);
    }
  });
  std::printf("deframe one byte per feed %.1f ns/frame\n", t1 / small_frames * 1e9);
}
