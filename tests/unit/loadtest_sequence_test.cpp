#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <set>
#include <vector>

#include "loadtest/sequence.hpp"

using namespace m2m::loadtest;
using Arrival = SequenceWindow::Arrival;

TEST_CASE("sequence: in order, nothing lost") {
  SequenceWindow w;
  SequenceCounts c;
  for (std::uint64_t s = 0; s < 1000; ++s) CHECK(w.receive(s, c) == Arrival::in_order);
  w.finish(1000, c);
  CHECK(c == SequenceCounts{1000, 0, 0, 0, 0});
  static_assert(sizeof(SequenceWindow) == 24, "per-flow memory: 8-byte top and a 128-bit window");
}

TEST_CASE("sequence: loss, duplicates, reordering, late arrivals") {
  SequenceWindow w;
  SequenceCounts c;
  for (std::uint64_t s = 0; s < 1000; ++s)
    if (s != 5 && (s < 500 || s >= 600)) w.receive(s, c);
  w.finish(1000, c);
  CHECK(c.lost == 101);
  CHECK(c.received == 899);

  SequenceWindow d;
  SequenceCounts dc;
  CHECK(d.receive(0, dc) == Arrival::in_order);
  CHECK(d.receive(2, dc) == Arrival::in_order);
  CHECK(d.receive(1, dc) == Arrival::reordered);
  CHECK(d.receive(1, dc) == Arrival::duplicate);
  CHECK(d.receive(3, dc) == Arrival::in_order);
  d.finish(4, dc);
  CHECK(dc == SequenceCounts{5, 1, 1, 0, 0});

  SequenceWindow l;
  SequenceCounts lc;
  for (std::uint64_t s = 0; s < 300; ++s)
    if (s != 10) l.receive(s, lc);
  CHECK(lc.lost == 1);  // 10 left the window unseen
  CHECK(l.receive(10, lc) == Arrival::late);
  l.finish(300, lc);
  CHECK(lc == SequenceCounts{300, 0, 0, 1, 1});
}

TEST_CASE("sequence: jumps, silent flows, a first number other than 0") {
  SequenceWindow w;
  SequenceCounts c;
  w.receive(0, c);
  w.receive(1000, c);
  w.finish(1001, c);
  CHECK(c.lost == 999);

  SequenceWindow silent;
  SequenceCounts sc;
  silent.finish(50, sc);
  CHECK(sc.lost == 50);
  silent.finish(50, sc);  // a second finish adds nothing
  CHECK(sc.lost == 50);

  SequenceWindow from(100);
  SequenceCounts fc;
  for (std::uint64_t s = 100; s < 110; ++s) from.receive(s, fc);
  from.finish(110, fc);
  CHECK(fc == SequenceCounts{10, 0, 0, 0, 0});
}

TEST_CASE("sequence: random loss, duplication and local reordering against an exact count") {
  std::mt19937_64 rng(99);
  const std::uint64_t sent = 20000;
  std::vector<std::uint64_t> arrivals;
  for (std::uint64_t s = 0; s < sent; ++s) {
    if (rng() % 100 < 5) continue;  // 5 % lost
    arrivals.push_back(s);
    if (rng() % 100 < 2) arrivals.push_back(s);  // 2 % duplicated
  }
  for (std::size_t i = 0; i + 1 < arrivals.size(); i += 1 + rng() % 20)  // swap neighbours
    if (rng() % 4 == 0) std::swap(arrivals[i], arrivals[i + 1]);
  // The oracle: every number seen, the highest so far.
  std::set<std::uint64_t> seen;
  std::uint64_t highest = 0, dup = 0, reord = 0;
  bool any = false;
  SequenceWindow w;
  SequenceCounts c;
  for (auto s : arrivals) {
    if (seen.count(s)) ++dup;
    else if (any && s < highest) ++reord;
    seen.insert(s);
    highest = any ? std::max(highest, s) : s;
    any = true;
    w.receive(s, c);
  }
  w.finish(sent, c);
  CHECK(c.received == arrivals.size());
  CHECK(c.duplicates == dup);
  CHECK(c.reordered == reord);
  CHECK(c.late == 0);
  CHECK(c.lost == sent - seen.size());
  CHECK(dup > 100);
  CHECK(reord > 100);
}
