#pragma once
// Options of thermodynamic solves (noisy sampling, finite analog time, warm starts), shared by
// the circuit backends `ou` and `spice` (registered by cosim). They live in the solver part so
// that SolverOptions, and every program that configures a solver, need no simulator.
//
//   tkfac::solver::SolverOptions o;            // linear_solver.hpp
//   o.backend = "ou";
//   o.netlist.noise_variance = 1e-4;           // beta^-1
//   o.thermo.target_standard_error = 1e-3;     // the window is sized for it
//   o.thermo.noise_shape = tkfac::solver::parse_noise_shape("held");
#include <Eigen/Dense>
#include <string>
#include <string_view>

#include "tkfac/core/option_table.hpp"

namespace tkfac::solver {

// How the noise current varies between its samples.
enum class NoiseShape {
  white,  // the ideal SDE (continuous white noise): Cov(x) = beta^-1 M^-1 exactly
  held,   // piecewise constant over each noise sample time NT (the netlists' TRRANDOM sources)
};

// Options of thermodynamic solves, shared by the `ou` and `spice` backends. Times are analog
// seconds unless stated otherwise.
struct ThermoOptions {
  // Discarded after the start, before the averaging window. < 0: automatic,
  // predicted_tau * ln(1 / target_rel_error) of the netlist options (the start transient decays
  // by that factor).
  double burn_in = -1.0;
  // Averaged after the burn-in. 0: automatic, from target_standard_error (mean) or
  // inverse_precision (covariance) if set, else 100 predicted_tau.
  double window = 0.0;
  // Largest standard error of the mean (units of the unknowns) the automatic window aims at.
  double target_standard_error = 0.0;
  // Covariance inverse: the relative (Frobenius) standard error of the inverse the automatic
  // window aims at, sqrt(E ||S - Sigma||_F^2) / ||Sigma||_F. 0: unused (100 predicted_tau). The
  // default 0.2 kept K-FAC on the reference network within about half a point of Cholesky
  // (README, "Thermodynamic training"); 100 tau gave 72-73% against 83.5%.
  double inverse_precision = 0.2;
  // Covariance inverse: independent noisy runs per inverse (segments), each with its own burn-in
  // and noise seed, their samples pooled; the automatic window of each is sized for precision
  // inverse_precision * sqrt(covariance_runs), so the pooled estimate keeps inverse_precision.
  // More than one costs a burn-in per extra run; it lets one large inverse run on several
  // solvers (DistributedSolver hands each segment to a rank). Part of the estimator, not of the
  // number of ranks: the same value gives the same result at any rank count.
  int covariance_runs = 1;
  // > 0: finite-time mode, the state at this analog time in units of R C (noiseless: the
  // deterministic relaxation; noisy: one sample of it). 0: off.
  double analog_time = 0.0;
  // Start state: "cold" (all zero) or "warm" (warm_start, in units of the unknowns).
  std::string start = "cold";
  Eigen::VectorXd warm_start;
  // inverse(): "covariance" (sample covariance of a noisy run / beta^-1, Method 1 of the paper),
  // "unit_rhs" (solves with the columns of the identity), or "auto" (covariance with noise,
  // unit_rhs without).
  std::string inverse_method = "auto";
  // ou only: the noise the twin simulates. `held` reproduces the netlist's noise exactly at its
  // sample times; `white` is the ideal SDE.
  NoiseShape noise_shape = NoiseShape::white;

  // Throws InputError naming the flag and what was expected: the table's checks, then
  // the checks across fields.
  void validate() const;
};

// Throws InputError naming `option` (empty: the option table's flag) and the accepted values.
NoiseShape parse_noise_shape(const std::string& text, const std::string& option = {});
std::string_view to_string(NoiseShape shape);

// The description of every ThermoOptions field but warm_start (a per-solve vector): JSON key,
// flag, help and check (src/thermo_options.cpp). CLI, checkpoints and validate() use it.
const options::OptionTable<ThermoOptions>& thermo_option_table();

}  // namespace tkfac::solver
