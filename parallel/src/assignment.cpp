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

WorkPlan plan_work(const std::vector<double>& costs, const std::vector<long>& columns,
                   const std::vector<bool>& splittable, int ranks,
                   const std::vector<long>& segments) {
  const int k = std::max(ranks, 1);
  const double sum = std::accumulate(costs.begin(), costs.end(), 0.0);
  const double target = sum / (2.0 * k);
  // The whole pieces (systems and covariance runs), and the systems to cut by columns.
  std::vector<WorkPiece> whole;
  std::vector<std::size_t> cut;
  for (std::size_t i = 0; i < costs.size(); ++i) {
    const long runs = i < segments.size() ? segments[i] : 0;
    if (runs > 1) {
      for (long s = 0; s < runs; ++s) {
        whole.push_back(
            {i, -1, columns[i], costs[i] / static_cast<double>(runs), static_cast<int>(s)});
      }
    } else if (k > 1 && splittable[i] && columns[i] > 1 && target > 0.0 && costs[i] > target) {
      cut.push_back(i);
    } else {
      whole.push_back({i, -1, columns[i], costs[i]});
    }
  }
  std::vector<double> whole_costs;
  for (const WorkPiece& p : whole) whole_costs.push_back(p.cost);
  std::vector<int> whole_owner = assign_by_cost(whole_costs, k);
  std::vector<double> load(static_cast<std::size_t>(k), 0.0);
  for (std::size_t p = 0; p < whole.size(); ++p) {
    load[static_cast<std::size_t>(whole_owner[p])] += whole[p].cost;
  }
  // The cut systems, largest first (ties: lower index), fill the ranks up to the mean.
  std::stable_sort(cut.begin(), cut.end(),
                   [&](std::size_t a, std::size_t b) { return costs[a] > costs[b]; });
  const double mean = sum / k;
  std::vector<WorkPiece> pieces = whole;
  std::vector<int> owner = whole_owner;
  for (std::size_t i : cut) {
    const long n = columns[i];
    const double per_column = costs[i] / static_cast<double>(n);
    std::vector<int> order(static_cast<std::size_t>(k));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      return load[static_cast<std::size_t>(a)] < load[static_cast<std::size_t>(b)];
    });
    long first = 0;
    double wanted = 0.0;  // columns the ranks so far would take to reach the mean, unrounded
    const std::size_t start = pieces.size();
    for (std::size_t j = 0; j < order.size() && first < n; ++j) {
      const int r = order[j];
      double& l = load[static_cast<std::size_t>(r)];
      // Rounding the running total, not each rank's share: no rank is off by more than a column.
      wanted += std::max(0.0, mean - l) / per_column;
      const long end = std::min(n, std::lround(wanted));
      const long take = j + 1 == order.size() ? n - first : std::max(0L, end - first);
      if (take <= 0) continue;
      pieces.push_back({i, first, take, per_column * static_cast<double>(take)});
      owner.push_back(r);
      l += per_column * static_cast<double>(take);
      first += take;
    }
    if (pieces.size() - start == 1) pieces[start].first = -1;  // it fitted on one rank: whole
  }
  // In item order, an item's pieces in column (segment) order.
  std::vector<std::size_t> order(pieces.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const WorkPiece& x = pieces[a];
    const WorkPiece& y = pieces[b];
    if (x.item != y.item) return x.item < y.item;
    return std::max<long>(x.first, x.segment) < std::max<long>(y.first, y.segment);
  });
  WorkPlan plan;
  for (std::size_t p : order) {
    plan.pieces.push_back(pieces[p]);
    plan.owner.push_back(owner[p]);
  }
  return plan;
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
