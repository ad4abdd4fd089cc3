// CRC16 throughput per variant on a 1 MiB buffer (target: modbus >= 1.5 GB/s).
#include <cstdio>
#include <random>

#include "bench_util.hpp"
#include "core/crc16.hpp"

int main() {
  constexpr std::size_t kSize = 1 << 20;
  constexpr int kPasses = 64;  // per timed run
  constexpr int kReps = 7;
  m2m::Bytes buf(kSize);
  std::mt19937 rng(1);
  for (auto& b : buf) b = static_cast<std::uint8_t>(rng());
  std::printf("crc16: buffer %zu bytes, %d passes per run, best of %d runs\n", kSize, kPasses, kReps);
  for (auto v : {m2m::CrcVariant::modbus, m2m::CrcVariant::ccitt_false, m2m::CrcVariant::xmodem}) {
    std::uint16_t acc = 0;
    double t = bench::best_of(kReps, [&] {
      for (int i = 0; i < kPasses; ++i) {
        buf[0] = static_cast<std::uint8_t>(i);  // a different input every pass
        acc ^= m2m::crc16(v, buf);
      }
    });
    bench::keep(acc);
    double gbs = static_cast<double>(kSize) * kPasses / t / 1e9;
    if (v == m2m::CrcVariant::modbus)
      std::printf("CRC16/%s %.2f GB/s (target >= 1.5)\n", std::string(m2m::to_string(v)).c_str(), gbs);
    else
      std::printf("CRC16/%s %.2f GB/s\n", std::string(m2m::to_string(v)).c_str(), gbs);
  }
  // Frame-sized inputs, where the tail loop matters.
  m2m::Bytes small(61);
  for (auto& b : small) b = static_cast<std::uint8_t>(rng());
  std::uint16_t acc = 0;
  constexpr int kSmall = 2000000;
  double t = bench::best_of(kReps, [&] {
    for (int i = 0; i < kSmall; ++i) {
      small[0] = static_cast<std::uint8_t>(i);
      acc ^= m2m::crc16(m2m::CrcVariant::modbus, small);
    }
  });
  bench::keep(acc);
  std::printf("CRC16/modbus over 61 bytes (a 64-byte frame): %.1f ns each\n", t / kSmall * 1e9);
}
