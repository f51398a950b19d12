#pragma once
// Internal: how a circuit backend (`spice`, `ou`) turns runs of its Engine into a Solution.
//
//   final state   noiseless, cold start, run to the netlist's simulated time (spice only: the
//                 circuit is parsed once and only its inputs change per right-hand side);
//   finite time   the state at an analog time, cold or warm start (noiseless: the deterministic
//                 relaxation, exact for ou; noisy: one sample of it);
//   window mean   the mean of a noisy run over a window after the burn-in;
//   covariance    inverse(): the sample covariance of a noisy run / beta^-1 (Method 1);
//   unit rhs      inverse(): a solve estimator run with the columns of the identity.
//
// choose_estimators() is the one place that picks them from the options.
#include <fmt/format.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "circuit_engine.hpp"
#include "tkfac/solver/linear_solver.hpp"

namespace tkfac::cosim {

// The samples a window estimator keeps: k * interval for first_index < k <= first_index +
// samples.
struct Plan {
  double interval = 0.0;
  double burn_in = 0.0;  // first_index * interval
  double window = 0.0;   // samples * interval
  long first_index = 0;  // samples k > first_index are kept
  long samples = 0;
};

// Burn-in and window from the options (automatic ones from the model); throws InputError
// naming --burn-in / --window when they do not fit the run.
// What the window feeds: its automatic length follows --target-standard-error for a mean and
// --inverse-precision for a covariance.
enum class Estimate { mean, covariance };
Plan make_plan(const ThermoModel& model, const solver::ThermoOptions& t,
               const netlist_gen::NetlistOptions& o, Estimate estimate);

// Validates the options and the system for one solve; the netlist options with the damping.
netlist_gen::NetlistOptions prepare_circuit_solve(const solver::SolverOptions& options,
                                                  const Eigen::MatrixXd& m,
                                                  const Eigen::MatrixXd& b, double damping);

// What every estimator works with: the backend's options, its engine and its name.
struct CircuitBackend {
  const solver::SolverOptions& options;
  Engine& engine;
  std::string name;               // "spice" or "ou", the reports' backend
  solver::RunProgress& progress;  // told of each run (and of a long run's samples)
};

class SolveEstimator {
 public:
  virtual ~SolveEstimator() = default;
  virtual solver::Solution solve(const System& sys, const Eigen::MatrixXd& b, double damping) = 0;
  // The same with each column's run starting from start.col(c) (units of the unknowns). Default:
  // the start does not matter (a noiseless run to full relaxation), solve().
  virtual solver::Solution solve_from(const System& sys, const Eigen::MatrixXd& b, double damping,
                                      const Eigen::MatrixXd& start) {
    (void)start;
    return solve(sys, b, damping);
  }
  // The circuit runs solve() makes for `columns` right-hand sides of an n x n system (the
  // report's `iterations`); LinearSolver::cost says so before solving.
  virtual long runs(Eigen::Index n, Eigen::Index columns) const = 0;
};

class InverseEstimator {
 public:
  virtual ~InverseEstimator() = default;
  virtual solver::Solution inverse(const System& sys, double damping) = 0;
  // The same with column c's run starting from start.col(c) (n x n; unit right-hand sides).
  // Default: the start is not used (a covariance run starts cold; its burn-in covers it).
  virtual solver::Solution inverse_from(const System& sys, double damping,
                                        const Eigen::MatrixXd& start) {
    (void)start;
    return inverse(sys, damping);
  }
  // The circuit runs inverse() makes for an n x n system, and whether one run answers it all.
  virtual long runs(Eigen::Index n) const = 0;
  virtual bool one_run_per_system() const { return false; }
  // An inverse made of independent runs that may run apart (solver::SolveCost::segments): their
  // count (0: none), one of them alone, and the whole from all of them in order.
  virtual long segments() const { return 0; }
  virtual solver::Solution inverse_segment(const System& sys, double damping, int segment) {
    (void)sys, (void)damping;
    throw std::logic_error(fmt::format("this inverse has no segment {}", segment));
  }
  virtual solver::Solution merge_segments(const System& sys, double damping,
                                          const std::vector<solver::Solution>& pieces) {
    (void)sys, (void)damping, (void)pieces;
    throw std::logic_error("this inverse has no segments to merge");
  }
};

struct Estimators {
  std::unique_ptr<SolveEstimator> solve;
  std::unique_ptr<InverseEstimator> inverse;  // may use *solve
  bool column_pieces = false;                 // solver::SolveCost::column_pieces
};

// The estimators for the backend's options: the one place that decides them.
Estimators choose_estimators(const CircuitBackend& backend);

}  // namespace tkfac::cosim
