#include "loadtest/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cinttypes>
#include <cmath>
#include <cstdio>

namespace m2m::loadtest {

namespace {
// A JSON count: an integer >= 0 (nlohmann keeps parsed ones unsigned, assigned ones signed).
bool is_count(const nlohmann::json& v) { return v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0); }

// The first index past the octave holding `index`: the array grows an octave at a time.
std::size_t octave_end(std::size_t index) {
  if (index < Histogram::kSubBuckets) return Histogram::kSubBuckets;
  return Histogram::kSubBuckets + ((index - Histogram::kSubBuckets) / Histogram::kHalf + 1) * Histogram::kHalf;
}
}  // namespace

std::size_t Histogram::index_of(std::uint64_t v) {
  v = std::min(v, kHighest);
  if (v < kSubBuckets) return static_cast<std::size_t>(v);
  const int shift = std::bit_width(v) - kSubBucketBits;  // v in [128·2^shift, 256·2^shift)
  const std::uint64_t sub = v >> shift;                  // 128..255
  return kSubBuckets + static_cast<std::size_t>(shift - 1) * kHalf + static_cast<std::size_t>(sub - kHalf);
}

std::uint64_t Histogram::lowest_of(std::size_t index) {
  if (index < kSubBuckets) return index;
  const std::size_t shift = (index - kSubBuckets) / kHalf + 1;
  const std::uint64_t sub = (index - kSubBuckets) % kHalf + kHalf;
  return sub << shift;
}

std::uint64_t Histogram::highest_of(std::size_t index) {
  if (index < kSubBuckets) return index;
  const std::size_t shift = (index - kSubBuckets) / kHalf + 1;
  return lowest_of(index) + (std::uint64_t{1} << shift) - 1;
}

int Histogram::bucket_count() {
  std::uint64_t trackable = kSubBuckets - 1;
  int n = 1;
  while (trackable < kHighest) {
    trackable <<= 1;
    ++n;
  }
  return n;
}

std::size_t Histogram::memory_bound() { return sizeof(Histogram) + octave_end(index_of(kHighest)) * sizeof(std::uint64_t); }

void Histogram::record_n(std::uint64_t v, std::uint64_t n) {
  if (n == 0) return;
  const std::size_t i = index_of(v);
  if (i >= counts_.size()) {
    const std::size_t end = octave_end(i);
    counts_.reserve(end);  // exactly: the bound holds whatever the allocator policy
    counts_.resize(end);
  }
  counts_[i] += n;
  min_ = total_ ? std::min(min_, v) : v;
  max_ = std::max(max_, v);
  total_ += n;
  sum_ += v * n;
}

void Histogram::merge(const Histogram& o) {
  if (o.total_ == 0) return;
  if (o.counts_.size() > counts_.size()) {
    counts_.reserve(o.counts_.size());
    counts_.resize(o.counts_.size());
  }
  for (std::size_t i = 0; i < o.counts_.size(); ++i) counts_[i] += o.counts_[i];
  min_ = total_ ? std::min(min_, o.min_) : o.min_;
  max_ = std::max(max_, o.max_);
  total_ += o.total_;
  sum_ += o.sum_;
}

std::uint64_t Histogram::reported(std::size_t i) const {
  return i == index_of(kHighest) ? max_ : std::min(highest_of(i), max_);
}

std::uint64_t Histogram::percentile(double q) const {
  if (total_ == 0) return 0;
  q = std::clamp(q, 0.0, 100.0);
  auto want = static_cast<std::uint64_t>(q / 100.0 * static_cast<double>(total_) + 0.5);
  want = std::clamp<std::uint64_t>(want, 1, total_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= want) return reported(i);
  }
  return max_;
}

double Histogram::stddev() const {
  if (total_ == 0) return 0.0;
  const double m = mean();
  double acc = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (!counts_[i]) continue;
    const double mid = static_cast<double>(lowest_of(i) + (highest_of(i) - lowest_of(i) + 1) / 2);
    acc += (mid - m) * (mid - m) * static_cast<double>(counts_[i]);
  }
  return std::sqrt(acc / static_cast<double>(total_));
}

bool Histogram::operator==(const Histogram& o) const {
  if (total_ != o.total_ || sum_ != o.sum_ || min() != o.min() || max_ != o.max_) return false;
  const std::size_t n = std::max(counts_.size(), o.counts_.size());
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t a = i < counts_.size() ? counts_[i] : 0, b = i < o.counts_.size() ? o.counts_[i] : 0;
    if (a != b) return false;
  }
  return true;
}

nlohmann::ordered_json Histogram::to_json() const {
  nlohmann::ordered_json j{{"unit", "us"}, {"sub_buckets", kSubBuckets}, {"count", total_},
                           {"sum", sum_},  {"min", min()},              {"max", max_}};
  auto buckets = nlohmann::ordered_json::array();
  for (std::size_t i = 0; i < counts_.size(); ++i)
    if (counts_[i]) buckets.push_back({lowest_of(i), counts_[i]});
  j["buckets"] = std::move(buckets);
  return j;
}

Result<Histogram> Histogram::from_json(const nlohmann::json& j) {
  auto bad = [](const std::string& what) { return fail(ErrorKind::bad_json, "histogram: " + what); };
  if (!j.is_object()) return bad("not an object");
  if (j.value("unit", std::string()) != "us") return bad("unit is not \"us\"");
  auto u64 = [&](const char* key) -> Result<std::uint64_t> {
    auto it = j.find(key);
    if (it == j.end() || !is_count(*it)) return bad(std::string("\"") + key + "\" is not a count");
    return it->get<std::uint64_t>();
  };
  auto sub = u64("sub_buckets");
  if (!sub) return unexpected(sub.error());
  if (*sub != kSubBuckets)
    return bad("sub_buckets " + std::to_string(*sub) + ", this version reads " + std::to_string(kSubBuckets));
  auto count = u64("count"), sum = u64("sum"), mn = u64("min"), mx = u64("max");
  for (auto* r : {&count, &sum, &mn, &mx})
    if (!*r) return unexpected(r->error());
  auto it = j.find("buckets");
  if (it == j.end() || !it->is_array()) return bad("\"buckets\" is not an array");
  Histogram h;
  std::size_t last = 0;
  bool first = true;
  for (const auto& b : *it) {
    if (!b.is_array() || b.size() != 2 || !is_count(b[0]) || !is_count(b[1]))
      return bad("a bucket is not [value, count]");
    const auto low = b[0].get<std::uint64_t>(), n = b[1].get<std::uint64_t>();
    const std::size_t i = index_of(low);
    if (low > kHighest || lowest_of(i) != low) return bad("bucket value " + std::to_string(low) + " is not a bucket boundary");
    if (!first && i <= last) return bad("buckets are not in ascending order");
    if (n == 0) return bad("bucket " + std::to_string(low) + " has count 0");
    first = false;
    last = i;
    if (i >= h.counts_.size()) {
      h.counts_.reserve(octave_end(i));
      h.counts_.resize(octave_end(i));
    }
    h.counts_[i] = n;
    h.total_ += n;
  }
  if (h.total_ != *count)
    return bad("bucket counts add up to " + std::to_string(h.total_) + ", \"count\" says " + std::to_string(*count));
  if (h.total_ && (index_of(*mx) != last || *mn > *mx))
    return bad("\"min\"/\"max\" do not match the buckets");
  h.sum_ = *sum;
  h.min_ = *mn;
  h.max_ = *mx;
  return h;
}

std::string Histogram::percentile_distribution(int ticks) const {
  std::string out;
  char line[160];
  std::snprintf(line, sizeof line, "%12s %12s %12s %12s\n\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)");
  out += line;
  auto emit = [&](std::size_t i, double pct, std::uint64_t cum) {
    const double value = static_cast<double>(reported(i)) / 1000.0;
    const double p = pct / 100.0;
    std::snprintf(line, sizeof line, "%12.3f %12f %12" PRIu64 " %12.2f\n", value, p, cum, 1.0 / (1.0 - p));
    out += line;
  };
  if (total_) {
    ticks = std::max(ticks, 1);
    double target = 0.0;  // the next percentile to report
    std::uint64_t cum = 0;
    std::size_t last = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      if (!counts_[i]) continue;
      cum += counts_[i];
      last = i;
      const double pct = 100.0 * static_cast<double>(cum) / static_cast<double>(total_);
      // Report lines ever closer together towards 100%: `ticks` per halving of the distance.
      while (target <= pct) {
        emit(i, target, cum);
        const auto half = std::pow(2.0, std::floor(std::log2(100.0 / (100.0 - target))) + 1);
        target += 100.0 / (ticks * half);
        if (cum == total_) break;  // the last bucket gets one line, then the 100% line
      }
    }
    emit(last, 100.0, total_);
  }
  std::snprintf(line, sizeof line, "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n", mean() / 1000.0, stddev() / 1000.0);
  out += line;
  std::snprintf(line, sizeof line, "#[Max     = %12.3f, Total count    = %12" PRIu64 "]\n",
                static_cast<double>(max_) / 1000.0, total_);
  out += line;
  std::snprintf(line, sizeof line, "#[Buckets = %12d, SubBuckets     = %12d]\n", bucket_count(), static_cast<int>(kSubBuckets));
  out += line;
  return out;
}

}  // namespace m2m::loadtest
