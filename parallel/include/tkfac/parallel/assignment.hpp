#pragma once
// Which rank solves which system of a batch: the KAISA assignment (kfac-pytorch), systems sorted
// by cost, each given to the least-loaded rank, and large systems cut into column pieces that
// fill the ranks to the mean (plan_work). Pure functions, no MPI: every rank computes the
// same assignment from the same costs, and bench/scaling predicts larger jobs with them.
//
//   std::vector<double> c = {4.0, 1.0, 3.0, 2.0};
//   std::vector<int> owner = tkfac::parallel::assign_by_cost(c, 2);  // {0, 0, 1, 1}
//   tkfac::parallel::Balance b = tkfac::parallel::balance(c, owner, 2);  // b.max / b.mean = 1
#include <vector>

#include "tkfac/solver/linear_solver.hpp"

namespace tkfac::parallel {

// owner[i] in [0, ranks) for each cost: largest cost first (ties: lower index first), each to the
// rank with the least load so far (ties: lower rank). Deterministic: the same costs give the same
// owners on every rank.
std::vector<int> assign_by_cost(const std::vector<double>& costs, int ranks);

// A batch's work items: system `item` whole (first < 0, segment < 0), its columns
// [first, first + columns), or its covariance run `segment` (SolveCost::segments).
struct WorkPiece {
  std::size_t item = 0;
  long first = -1;
  long columns = 0;
  double cost = 0.0;
  int segment = -1;
};
// A batch's pieces and the rank that solves each.
struct WorkPlan {
  std::vector<WorkPiece> pieces;  // in item order, an item's pieces in column (segment) order
  std::vector<int> owner;         // owner[p]: the rank of pieces[p]
};
// How DistributedSolver shares a batch among `ranks`. Each system is one piece, except
// - one with segments[i] > 1 (an inverse of that many independent runs): always that many
//   pieces, one per run, the cost shared alike (the count belongs to the estimator, not to the
//   ranks, so the result is the same for any number of ranks);
// - a splittable one (its columns are independent runs, costing alike) costing more than half a
//   rank's fair share (sum / (2 ranks)), when ranks > 1: contiguous column pieces, cut to fill
//   the ranks up to the mean load.
// The whole pieces are assigned first, largest first to the least-loaded rank (assign_by_cost);
// then each splittable system (largest first) gives the least-loaded ranks in turn as many of
// its columns as bring them to the mean load (the most loaded of them takes what is left): at
// most one piece per rank, so a rank parses a split circuit at most once, and the loads end
// within about one column's cost of each other. `segments` may be empty (none). Deterministic.
WorkPlan plan_work(const std::vector<double>& costs, const std::vector<long>& columns,
                   const std::vector<bool>& splittable, int ranks,
                   const std::vector<long>& segments = {});

struct Balance {
  std::vector<double> load;  // per rank: the costs it owns, added
  double max = 0.0;          // the slowest rank: the batch's time with this assignment
  double mean = 0.0;         // the sum / ranks: a perfect split
};
Balance balance(const std::vector<double>& costs, const std::vector<int>& owner, int ranks);

// The cost a system is expected to have before it was measured, in arbitrary units (only the
// ratios within one batch matter): circuit runs times n^3 (an ngspice time step is a dense LU of
// the n-node circuit; the twin's exact step is a dense n x n product), or a Cholesky's n^3 / 3
// plus n^2 per right-hand side for a digital backend.
double model_cost(const solver::LinearSolver& solver, const solver::SolveShape& shape);

}  // namespace tkfac::parallel
