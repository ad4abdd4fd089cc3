#include "loadtest/sequence.hpp"

#include <bit>

namespace m2m::loadtest {

void SequenceCounts::merge(const SequenceCounts& o) {
  received += o.received;
  duplicates += o.duplicates;
  reordered += o.reordered;
  late += o.late;
  lost += o.lost;
}

// Numbers below `first` count as seen, so they are never reported lost.
SequenceWindow::SequenceWindow(std::uint64_t first) : top_(first), bits_{~std::uint64_t{0}, ~std::uint64_t{0}} {}

void SequenceWindow::advance(std::uint64_t new_top, SequenceCounts& c) {
  if (new_top <= top_) return;
  if (new_top - top_ >= kWindow) {
    // Every number in the window leaves it; those jumped over entirely were never seen.
    c.lost += kWindow - static_cast<std::uint64_t>(std::popcount(bits_[0]) + std::popcount(bits_[1]));
    c.lost += new_top - top_ - kWindow;
    bits_ = {0, 0};
  } else {
    for (std::uint64_t s = top_; s < new_top; ++s) {  // s takes the slot of s - kWindow
      if (!test(s)) ++c.lost;
      clear(s);
    }
  }
  top_ = new_top;
}

SequenceWindow::Arrival SequenceWindow::receive(std::uint64_t seq, SequenceCounts& c) {
  ++c.received;
  if (seq >= top_) {
    advance(seq + 1, c);
    set(seq);
    return Arrival::in_order;
  }
  if (top_ - seq > kWindow) {
    ++c.late;
    return Arrival::late;
  }
  if (test(seq)) {
    ++c.duplicates;
    return Arrival::duplicate;
  }
  set(seq);
  ++c.reordered;
  return Arrival::reordered;
}

void SequenceWindow::finish(std::uint64_t end, SequenceCounts& c) {
  advance(end, c);
  c.lost += kWindow - static_cast<std::uint64_t>(std::popcount(bits_[0]) + std::popcount(bits_[1]));
  bits_ = {~std::uint64_t{0}, ~std::uint64_t{0}};
}

}  // namespace m2m::loadtest
