#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "loadtest/histogram.hpp"

using m2m::loadtest::Histogram;

namespace {
// Log-uniform samples between lo and hi: every octave gets as many samples.
std::vector<std::uint64_t> log_uniform(std::size_t n, double lo, double hi, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(std::log(lo), std::log(hi));
  std::vector<std::uint64_t> v(n);
  for (auto& x : v) x = static_cast<std::uint64_t>(std::exp(u(rng)));
  return v;
}

// The sample HdrHistogram's definition points at: number round(q/100·n) (at least 1).
std::uint64_t exact_percentile(std::vector<std::uint64_t> sorted, double q) {
  auto rank = static_cast<std::uint64_t>(q / 100.0 * static_cast<double>(sorted.size()) + 0.5);
  rank = std::clamp<std::uint64_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}
}  // namespace

TEST_CASE("histogram: bucket geometry is exact below 256 µs and within 1/128 above") {
  for (std::uint64_t v = 0; v < 256; ++v) {
    CHECK(Histogram::lowest_of(Histogram::index_of(v)) == v);
    CHECK(Histogram::highest_of(Histogram::index_of(v)) == v);
  }
  for (std::uint64_t v : log_uniform(20000, 256, 3.6e9, 1)) {
    const auto i = Histogram::index_of(v);
    const auto lo = Histogram::lowest_of(i), hi = Histogram::highest_of(i);
    REQUIRE(lo <= v);
    REQUIRE(v <= hi);
    CHECK(static_cast<double>(hi - lo + 1) / static_cast<double>(lo) <= 1.0 / 128);
  }
  // Neighbouring buckets touch: no value falls between them.
  for (std::size_t i = 0; i + 1 <= Histogram::index_of(Histogram::kHighest); ++i)
    REQUIRE(Histogram::highest_of(i) + 1 == Histogram::lowest_of(i + 1));
  CHECK(Histogram::bucket_count() == 25);  // HdrHistogram's figure for 1 µs..1 h, 2 digits
}

TEST_CASE("histogram: percentiles against exact sorted percentiles on random data") {
  for (auto [lo, hi, seed] : {std::tuple{1.0, 3.6e9, 11u}, std::tuple{50.0, 200000.0, 12u}, std::tuple{1.0, 300.0, 13u}}) {
    const auto samples = log_uniform(200000, lo, hi, seed);
    Histogram h;
    for (auto v : samples) h.record(v);
    auto sorted = samples;
    std::sort(sorted.begin(), sorted.end());
    CHECK(h.count() == samples.size());
    CHECK(h.max() == sorted.back());
    CHECK(h.min() == sorted.front());
    double sum = 0;
    for (auto v : samples) sum += static_cast<double>(v);
    CHECK(h.mean() == doctest::Approx(sum / static_cast<double>(samples.size())).epsilon(1e-12));
    for (double q : {0.0, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
      CAPTURE(q);
      const auto exact = exact_percentile(sorted, q);
      const auto got = h.percentile(q);
      CHECK(got >= exact);  // the bucket's highest value: never an under-estimate
      CHECK(static_cast<double>(got - exact) <= static_cast<double>(exact) / 128.0);  // < 0.79 %
    }
    CHECK(h.percentile(100) == sorted.back());
  }
}

TEST_CASE("histogram: merge equals recording everything in one") {
  const auto samples = log_uniform(50000, 1, 1e7, 21);
  Histogram all, parts[3];
  std::mt19937 rng(5);
  for (auto v : samples) {
    all.record(v);
    parts[rng() % 3].record(v);
  }
  Histogram merged;
  for (const auto& p : parts) merged.merge(p);
  CHECK(merged == all);
  CHECK(merged.count() == all.count());
  for (double q : {50.0, 99.0, 99.9}) CHECK(merged.percentile(q) == all.percentile(q));
  Histogram empty;
  merged.merge(empty);
  CHECK(merged == all);
  empty.merge(all);
  CHECK(empty == all);
}

TEST_CASE("histogram: memory is bounded whatever is recorded") {
  Histogram h;
  CHECK(h.memory_bytes() < 100);  // nothing allocated before the first sample
  for (std::uint64_t v = 0; v < 1000000; ++v) h.record(v % 100000);  // up to 100 ms
  const auto typical = h.memory_bytes();
  CHECK(typical <= 12 * 1024);
  for (std::uint64_t v = 0; v < 1000000; ++v) h.record(v % 100000);
  CHECK(h.memory_bytes() == typical);  // a longer run costs nothing more
  for (auto v : log_uniform(10000, 1, 1e12, 3)) h.record(v);  // beyond 1 h too
  CHECK(h.memory_bytes() <= Histogram::memory_bound());
  CHECK(Histogram::memory_bound() <= 28 * 1024);
  h.record(UINT64_MAX / 4);
  CHECK(h.max() == UINT64_MAX / 4);  // the exact maximum survives the top bucket's clamp
  CHECK(h.percentile(100) == UINT64_MAX / 4);
}

TEST_CASE("histogram: JSON round trip keeps every count, and malformed JSON is refused by name") {
  Histogram h;
  for (auto v : log_uniform(10000, 1, 1e8, 31)) h.record(v);
  const auto j = h.to_json();
  CHECK(j["unit"] == "us");
  CHECK(j["sub_buckets"] == 256);
  CHECK(j["count"] == 10000);
  auto back = Histogram::from_json(nlohmann::json::parse(j.dump()));
  REQUIRE(back);
  CHECK(*back == h);
  CHECK(back->percentile(99.9) == h.percentile(99.9));
  auto empty = Histogram::from_json(Histogram().to_json());
  REQUIRE(empty);
  CHECK(empty->count() == 0);

  auto broken = [&](auto edit) {
    nlohmann::json k = nlohmann::json::parse(j.dump());
    edit(k);
    auto r = Histogram::from_json(k);
    REQUIRE_FALSE(r);
    return r.error().message;
  };
  CHECK(broken([](auto& k) { k["count"] = 9999; }) == "histogram: bucket counts add up to 10000, \"count\" says 9999");
  CHECK(broken([](auto& k) { k["sub_buckets"] = 2048; }) == "histogram: sub_buckets 2048, this version reads 256");
  CHECK(broken([](auto& k) { k["buckets"][0][0] = 1000001; }).find("is not a bucket boundary") != std::string::npos);
  CHECK(broken([](auto& k) { std::swap(k["buckets"][0], k["buckets"][1]); }) == "histogram: buckets are not in ascending order");
  CHECK(broken([](auto& k) { k["buckets"][0] = "x"; }) == "histogram: a bucket is not [value, count]");
  CHECK(broken([](auto& k) { k["unit"] = "ms"; }) == "histogram: unit is not \"us\"");
  CHECK(broken([](auto& k) { k["max"] = 3; }) == "histogram: \"min\"/\"max\" do not match the buckets");
}

TEST_CASE("histogram: HdrHistogram percentile distribution text") {
  Histogram h;
  for (std::uint64_t v = 1; v <= 100; ++v) h.record(v);  // 1..100 µs, each once: exact buckets
  const std::string text = h.percentile_distribution();
  std::istringstream in(text);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  REQUIRE(lines.size() > 10);
  CHECK(lines[0] == "       Value   Percentile   TotalCount 1/(1-Percentile)");
  CHECK(lines[1] == "");
  CHECK(lines[2] == "       0.001     0.000000            1         1.00");
  CHECK(lines[3] == "       0.010     0.100000           10         1.11");
  CHECK(std::find(lines.begin(), lines.end(), "       0.050     0.500000           50         2.00") != lines.end());
  CHECK(std::find(lines.begin(), lines.end(), "       0.075     0.750000           75         4.00") != lines.end());
  const auto n = lines.size();
  CHECK(lines[n - 4] == "       0.100     1.000000          100          inf");
  CHECK(lines[n - 3] == "#[Mean    =        0.051, StdDeviation   =        0.029]");
  CHECK(lines[n - 2] == "#[Max     =        0.100, Total count    =          100]");
  CHECK(lines[n - 1] == "#[Buckets =           25, SubBuckets     =          256]");
  // Every table line has four columns, values and percentiles never go down.
  double last_v = 0, last_p = 0;
  for (std::size_t i = 2; i + 3 < n; ++i) {
    std::istringstream f(lines[i]);
    double v = 0, p = 0, inv = 0;
    unsigned long long c = 0;
    REQUIRE_MESSAGE(static_cast<bool>(f >> v >> p >> c), lines[i]);
    f >> inv;
    CHECK(v >= last_v);
    CHECK(p >= last_p);
    last_v = v;
    last_p = p;
  }
  // An empty histogram: the header and the footer.
  const std::string none = Histogram().percentile_distribution();
  CHECK(none.find("#[Max     =        0.000, Total count    =            0]") != std::string::npos);
}
