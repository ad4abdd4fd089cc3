// Loss, duplication and reordering of one flow (one sender's numbered frames), found from
// sequence numbers with fixed memory: a 128-frame window bitmap and the next expected number
// (24 bytes per flow). The counters live outside the window, so many flows share one set.
//
// A frame above the window's top moves the window; a number that leaves the window unseen is
// counted lost. A frame inside the window is a duplicate (seen before) or reordered (it came
// after a higher number). A frame more than 128 below the top is `late`: it had already been
// counted lost, and whether it is also a duplicate cannot be told.
#pragma once

#include <array>
#include <cstdint>


namespace m2m::loadtest {

struct SequenceCounts {
  std::uint64_t received = 0;    // every frame that arrived
  std::uint64_t duplicates = 0;
  std::uint64_t reordered = 0;
  std::uint64_t late = 0;        // arrived more than kWindow below the highest
  std::uint64_t lost = 0;        // never arrived (final after finish())

  void merge(const SequenceCounts& o);
  bool operator==(const SequenceCounts&) const = default;
};

class SequenceWindow {
 public:
  static constexpr std::uint64_t kWindow = 128;
  enum class Arrival : std::uint8_t { in_order, reordered, duplicate, late };

  // `first`: the number the sender starts at (numbers below it are not expected).
  explicit SequenceWindow(std::uint64_t first = 0);
  Arrival receive(std::uint64_t seq, SequenceCounts& c);
  // The sender sent every number below `end`: each not seen is lost. Call once, at the end.
  void finish(std::uint64_t end, SequenceCounts& c);

 private:
  void advance(std::uint64_t new_top, SequenceCounts& c);
  bool test(std::uint64_t seq) const { return bits_[(seq / 64) % 2] >> (seq % 64) & 1; }
  void set(std::uint64_t seq) { bits_[(seq / 64) % 2] |= std::uint64_t{1} << (seq % 64); }
  void clear(std::uint64_t seq) { bits_[(seq / 64) % 2] &= ~(std::uint64_t{1} << (seq % 64)); }

  std::uint64_t top_;                 // one past the highest number seen (or `first`)
  std::array<std::uint64_t, 2> bits_;  // numbers top-128 .. top-1, bit (seq mod 128)
};

}  // namespace m2m::loadtest
