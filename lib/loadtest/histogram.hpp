// A log-linear latency histogram (the HdrHistogram layout with two significant digits):
// bounded memory however long the run, counts only, no per-sample storage.
//
// Values are microseconds. 0-255 µs are counted exactly; above that, each power-of-two range
// [2^k·128, 2^k·256) is split into 128 equal sub-buckets, so a bucket is at most 1/128 of the
// smallest value it holds wide: a percentile (the bucket's highest value, as HdrHistogram
// reports it, never an under-estimate) is within 0.79% above the exact one. Values up to
// kHighest (1 hour) are tracked; a larger value is counted in the top bucket, and max() still
// reports it exactly (the exact maximum, sum and minimum are kept beside the counts).
//
// Memory: the count array grows only up to the highest bucket used: 2 KiB for values under
// 256 µs, 1 KiB more per octave above (about 11 KiB when the slowest sample is 100 ms), and at
// most memory_bound() (about 27 KiB) whatever is recorded.
//
// Coordinated omission: the load tester measures every operation from its *intended* send
// time (the open-loop schedule), so a stall inflates every sample it delayed. No
// record-with-expected-interval correction is applied or needed; adding one would count the
// stall twice.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace m2m::loadtest {

class Histogram {
 public:
  static constexpr std::uint64_t kHighest = 3'600'000'000;  // 1 h in µs
  static constexpr int kSubBucketBits = 8;                  // 256 sub-buckets: 2 significant digits
  static constexpr std::uint32_t kSubBuckets = 1u << kSubBucketBits;
  static constexpr std::uint32_t kHalf = kSubBuckets / 2;

  void record(std::uint64_t value_us) { record_n(value_us, 1); }
  void record_n(std::uint64_t value_us, std::uint64_t n);
  // Adds every count of `other`: the result equals recording both sets of samples into one.
  void merge(const Histogram& other);

  std::uint64_t count() const { return total_; }
  std::uint64_t max() const { return max_; }  // exact; 0 when empty
  std::uint64_t min() const { return total_ ? min_ : 0; }  // exact
  double mean() const { return total_ ? static_cast<double>(sum_) / static_cast<double>(total_) : 0.0; }  // exact
  double stddev() const;  // from bucket midpoints, as HdrHistogram computes it
  // The value at or below which q percent of the samples lie (q in 0..100), as HdrHistogram
  // defines it: the highest value of the bucket holding sample number round(q/100·count),
  // capped at the exact maximum. 0 when empty.
  std::uint64_t percentile(double q) const;

  // Bytes held by this histogram (object and count array).
  std::size_t memory_bytes() const { return sizeof(*this) + counts_.capacity() * sizeof(std::uint64_t); }
  static std::size_t memory_bound();

  // {"unit":"us","sub_buckets":256,"count":N,"sum":S,"min":A,"max":B,"buckets":[[low,count],…]}
  // with one [lowest value of the bucket, count] pair per non-empty bucket: exact, so merged
  // reports combine counts, never percentiles.
  nlohmann::ordered_json to_json() const;
  static Result<Histogram> from_json(const nlohmann::json& j);

  // The HdrHistogram percentile-distribution text ("Value Percentile TotalCount
  // 1/(1-Percentile)" then the #[Mean …] footer), values in milliseconds, as wrk2 and
  // HdrHistogram print them (5 ticks per half distance), readable by the HdrHistogram plotter.
  std::string percentile_distribution(int ticks_per_half_distance = 5) const;

  // Bucket geometry (public for tests): the index a value is counted in, and the lowest and
  // highest value that index stands for.
  static std::size_t index_of(std::uint64_t value_us);
  static std::uint64_t lowest_of(std::size_t index);
  static std::uint64_t highest_of(std::size_t index);
  static int bucket_count();  // HdrHistogram's "Buckets" figure for kHighest

  bool operator==(const Histogram& o) const;

 private:
  // What bucket i reports: its highest value, capped at the exact maximum (and the exact
  // maximum for the top bucket, which also holds everything above kHighest).
  std::uint64_t reported(std::size_t i) const;

  std::vector<std::uint64_t> counts_;  // grows up to the highest index used
  std::uint64_t total_ = 0, sum_ = 0, min_ = 0, max_ = 0;
};

}  // namespace m2m::loadtest
