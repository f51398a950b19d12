#pragma once
// Timing shared by the benchmarks.
#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace tkfac::bench {

// Median wall time, in seconds, of `reps` calls of `f` (the median resists the other work on a
// shared machine better than the mean).
inline double median_seconds(int reps, const std::function<void()>& f) {
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const auto start = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace tkfac::bench
