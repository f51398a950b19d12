#include "tkfac/parallel/assignment.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace tkfac::parallel {

std::vector<int> assign_by_cost(const std::vector<double>& costs, int ranks) {
  std::vector<std::size_t> order(costs.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return costs[a] > costs[b]; });
  std::vector<double> load(static_cast<std::size_t>(std::max(ranks, 1)), 0.0);
  std::vector<int> owner(costs.size(), 0);
  for (std::size_t i : order) {
    const auto least = std::min_element(load.begin(), load.end());  // first of equals: lower rank
    owner[i] = static_cast<int>(least - load.begin());
    *least += costs[i];
  }
  return owner;
}

std::vector<WorkPiece> split_large(const std::vector<double>& costs,
                                   const std::vector<long>& columns,
                                   const std::vector<bool>& splittable, int ranks,
                                   const std::vector<long>& segments) {
  const double sum = std::accumulate(costs.begin(), costs.end(), 0.0);
  const double target = sum / (2.0 * std::max(ranks, 1));
  std::vector<WorkPiece> pieces;
  for (std::size_t i = 0; i < costs.size(); ++i) {
    const long runs = i < segments.size() ? segments[i] : 0;
    if (runs > 1) {
      for (long s = 0; s < runs; ++s) {
        pieces.push_back(
            {i, -1, columns[i], costs[i] / static_cast<double>(runs), static_cast<int>(s)});
      }
      continue;
    }
    const long n = columns[i];
    long k = 1;
    if (splittable[i] && n > 1 && target > 0.0 && costs[i] > target) {
      k = std::min(n, static_cast<long>(std::ceil(costs[i] / target)));
    }
    for (long j = 0; j < k; ++j) {
      const long first = n * j / k, last = n * (j + 1) / k;
      pieces.push_back(
          {i, k == 1 ? -1 : first, k == 1 ? n : last - first,
           k == 1 ? costs[i]
                  : costs[i] * static_cast<double>(last - first) / static_cast<double>(n)});
    }
  }
  return pieces;
}

Balance balance(const std::vector<double>& costs, const std::vector<int>& owner, int ranks) {
  Balance b;
  b.load.assign(static_cast<std::size_t>(std::max(ranks, 1)), 0.0);
  for (std::size_t i = 0; i < costs.size(); ++i)
    b.load[static_cast<std::size_t>(owner[i])] += costs[i];
  b.max = *std::max_element(b.load.begin(), b.load.end());
  b.mean = std::accumulate(b.load.begin(), b.load.end(), 0.0) / static_cast<double>(b.load.size());
  return b;
}

double model_cost(const solver::LinearSolver& solver, const solver::SolveShape& shape) {
  const double n = static_cast<double>(shape.n);
  const solver::SolveCost c = solver.cost(shape);
  if (c.circuit_runs > 0) return static_cast<double>(c.circuit_runs) * n * n * n;
  const double columns = shape.kind == solver::SolveRequest::Kind::inverse
                             ? n
                             : static_cast<double>(shape.rhs_columns);
  return n * n * n / 3.0 + n * n * columns;
}

}  // namespace tkfac::parallel
