// Tiny helpers shared by the benchmarks: a CPU-time clock and best-of-N timing.
#pragma once

#include <time.h>

#include <cstdio>

namespace bench {

// CPU time of this thread: the build machine is shared (several compilers at once on two
// cores), and wall-clock time would mostly measure how often we were descheduled.
inline double now_s() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Runs `body` `reps` times and returns the fastest run in seconds (least disturbed by the
// other processes sharing the machine).
template <class F>
double best_of(int reps, F&& body) {
  double best = 1e300;
  for (int i = 0; i < reps; ++i) {
    double t0 = now_s();
    body();
    double t = now_s() - t0;
    if (t < best) best = t;
  }
  return best;
}

// Keeps the optimiser from dropping a computed value.
template <class T>
inline void keep(const T& v) {
  asm volatile("" : : "g"(&v) : "memory");
}

}  // namespace bench
