#pragma once
// A LinearSolver that spreads each solve_all batch over the ranks of an MPI communicator:
//
//   tkfac::parallel::MpiWorld world(argc, argv);                 // under mpirun -n K
//   auto inner = tkfac::solver::LinearSolver::create(options);  // e.g. spice: one ngspice per rank
//   tkfac::parallel::DistributedSolver s(std::move(inner), world.comm());
//   std::vector<tkfac::solver::Solution> x = s.solve_all(requests);  // same call on every rank
//
// Every rank calls solve_all with the same requests (each runs the same program on the same
// data; only the solves are split). A solve or inverse whose backend can solve it in column
// pieces that merge bit for bit (SolveCost::column_pieces: the noiseless spice circuit) is split
// when it would take more than half a rank's share, in pieces that fill the ranks to the mean
// load (plan_work), so one large factor does not bound the speedup; a
// noisy covariance inverse of several independent runs (SolveCost::segments, the options'
// covariance_runs) is split into its runs and pooled by the backend (merge_segments).
// The work is assigned to ranks by cost (assignment.hpp): the model cost at first, then each
// request position's measured time from the previous call of the same shape, which travels with
// the results so that every rank assigns alike. Each rank solves its share with its own
// backend, the solutions (and their reports) are exchanged, and every rank returns all of them.
// A solve is a function of its request and the options only (the circuit backends' noise seed
// is the options' seed plus 7919 x the column: the seed belongs to the solve), so the solutions
// are bit for bit those of one process, for any number of ranks.
//
// Progress (LinearSolver::set_progress): rank 0 hears every rank's circuit runs (each rank sends
// its count to rank 0 as it goes). Failures: a rank whose solve throws tells the others, which
// stop after the run under way; at the exchange every rank learns the first failing rank's error
// and throws it, named "rank R, solve '<label>' (request i of n, solver call c)", of the same
// type (InputError, SimulationError; other types as std::runtime_error), so every rank ends.
// A single solve of several right-hand sides (solve, solve_activations) is a batch of one and is
// split alike; the other single calls (inverse, ...) are not split: every rank makes them.
#include <mpi.h>

#include <map>
#include <memory>
#include <tuple>

#include "tkfac/solver/linear_solver.hpp"

namespace tkfac::parallel {

class DistributedSolver final : public solver::LinearSolver {
 public:
  DistributedSolver(std::unique_ptr<solver::LinearSolver> inner, MPI_Comm comm);
  std::string_view name() const override { return inner_->name(); }
  solver::Solution solve(const Eigen::MatrixXd& m, const Eigen::MatrixXd& b,
                         double damping) override;
  solver::Solution inverse(const Eigen::MatrixXd& m, double damping) override;
  solver::Solution solve_activations(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b,
                                     double damping) override;
  solver::Solution inverse_activations(const Eigen::MatrixXd& a, double damping) override;
  solver::Solution solve_request(const solver::SolveRequest& request) override;
  std::vector<solver::Solution> solve_all(
      const std::vector<solver::SolveRequest>& requests) override;
  solver::SolveCost cost(const solver::SolveShape& shape) const override {
    return inner_->cost(shape);
  }

  // The last solve_all: who solved what and how long it took (the same on every rank).
  struct CallStats {
    std::vector<int> owner;             // per request
    std::vector<double> solve_seconds;  // per request, measured on its rank
    std::vector<double> rank_seconds;   // per rank: its solves' time, added
    bool measured_costs = false;        // the assignment used measured times (not the model)
    long bytes = 0;                     // exchanged: every rank's results, once
  };
  const CallStats& last_call() const { return stats_; }

  // Every distributed solve_all of this process so far, all solvers together (the same on
  // every rank): what `tkfac` prints at the end of a run under mpirun.
  struct Totals {
    long calls = 0;
    double max_rank_seconds = 0.0;   // per call the slowest rank's solve time, added
    double mean_rank_seconds = 0.0;  // per call the ranks' mean solve time, added
    long bytes = 0;                  // exchanged results
  };
  static Totals totals();

  // Whether the exception leaving solve_all was thrown on every rank (the ranks know the same
  // error and may end together), not on this rank alone.
  static bool failed_together();

 private:
  struct Running;  // one solve_all's state (distributed_solver.cpp)
  solver::Solution delegated(const solver::SolveShape& shape,
                             const std::function<solver::Solution()>& call);
  void on_inner_progress(const solver::SolveProgress& p);

  std::unique_ptr<solver::LinearSolver> inner_;
  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
  long calls_ = 0;
  // Measured seconds by (batch size, position, kind, n, columns).
  std::map<std::tuple<std::size_t, std::size_t, int, long, long>, double> measured_;
  Running* running_ = nullptr;
  CallStats stats_;
};

}  // namespace tkfac::parallel
