#pragma once
// Samples of the unknowns of a noisy circuit (`spice`) or of its exact twin (`ou`), on the grid
// of the noise sample time after the burn-in: the raw material of `tkfac sample`.
//
//   tkfac::solver::SolverOptions o;
//   o.backend = "spice";
//   o.netlist.noise_variance = 1e-3;                    // beta^-1
//   auto set = tkfac::cosim::sample_unknowns(o, M, b);
//   // set.samples.row(k) ~ N(M^-1 b, beta^-1 M^-1) (correlated in k: see estimators.hpp)
#include <Eigen/Dense>

#include "tkfac/cosim/thermodynamic.hpp"
#include "tkfac/solver/linear_solver.hpp"

namespace tkfac::cosim {

struct SampleSet {
  ThermoModel model;
  // Of the noise behind the samples (spice: held).
  solver::NoiseShape shape = solver::NoiseShape::white;
  Eigen::VectorXd times;       // analog seconds from the start
  Eigen::MatrixXd samples;     // one row per sample, units of the unknowns
  solver::SolveReport report;  // analog time, burn-in, window, counts, tau, wall time
};

// Throws InputError if options.netlist.noise_variance is not > 0 (naming --noise-variance), or
// for the same bad inputs as LinearSolver::solve. `b` may be empty (zero inputs).
SampleSet sample_unknowns(const solver::SolverOptions& options, const Eigen::MatrixXd& m,
                          const Eigen::VectorXd& b, double damping = 0.0);

}  // namespace tkfac::cosim
