#pragma once
// The thermodynamic hardware's predicted K-FAC step (the paper's Appendix E assumptions as
// options): each damped Kronecker factor relaxes on an analog solver, its data crossing a digital
// link; the rest of the step stays digital and is measured.
//
//   std::vector<tkfac::kfac::AnalogFactor> f = {{1024, 0.01, 0}, ...};  // n, alpha_min, rhs
//   tkfac::kfac::AnalogEstimate a = tkfac::kfac::estimate_analog(f, KfacMethod::inverse, hw);
//   double thermo = tkfac::kfac::thermodynamic_step_seconds(digital, a, hw);
//
// Per factor of size n (M = damped factor, s_M = max |M_ij| its netlist scale, alpha_min =
// lambda_min(M) / s_M, tau = R C / alpha_min; docs/DESIGN.md section "Hardware speedup
// estimate"):
//   relaxation to relative error eps       t_relax = tau ln(1 / eps)
//   Method 1 (inverse, one noisy run)      + window 2 tau / p^2: the sample covariance of the
//                                          slowest mode has relative standard error
//                                          sqrt(2 tau / T) after a window T (precision p)
//   Method 2 (solve, m right-hand sides)   m runs of t_relax (one run per column)
//   transfers                              Method 1: n (n + 1) / 2 values up (the factor) and
//                                          n (n + 1) / 2 down (the inverse, symmetric);
//                                          Method 2: n (n + 1) / 2 + n m up, n m down;
//                                          `bits` per value over one link of `link_bits_per_second`
// Factors go to `solvers` analog solvers longest first, each to the least-loaded one (the
// makespan is the analog time); transfers share the link one after another and do not overlap
// the relaxations (a conservative choice).
#include <vector>

#include "tkfac/kfac/kfac_options.hpp"

namespace tkfac::kfac {

struct HardwareAssumptions {
  double rc_seconds = 1e-6;             // R C of the analog cells
  int bits = 16;                        // bits per value on the link
  double link_bits_per_second = 50e9;   // digital link
  int solvers = 1;                      // analog solvers working in parallel
  int inverse_interval = 1;             // Method 1: steps between inverse refreshes
  double relaxation_error = 1e-3;       // eps: relaxation to this relative error
  double inverse_precision = 0.2;       // p: Method 1's relative standard error of the inverse
  void validate() const;                // InputError naming the option
};

struct AnalogFactor {
  long n = 0;              // factor size
  double alpha_min = 0.0;  // smallest eigenvalue of the scaled damped factor, M / s_M
  long rhs_columns = 0;    // Method 2: right-hand sides solved against it
};

struct AnalogEstimate {
  double analog_seconds = 0.0;    // makespan of the relaxations over the solvers
  double transfer_seconds = 0.0;  // all factors' transfers over the link
  double total_seconds() const { return analog_seconds + transfer_seconds; }
  double largest_tau = 0.0;       // R C / min alpha_min over the factors
};

AnalogEstimate estimate_analog(const std::vector<AnalogFactor>& factors, KfacMethod method,
                               const HardwareAssumptions& hw);

// A step's digital phases (seconds; inversion = what the analog solvers replace).
struct DigitalStep {
  double gradient = 0, factors = 0, inversion = 0, update = 0;
};
// Digital K-FAC step at the refresh interval: gradient + factors + update + inversion / interval
// (Method 2 solves every step: interval 1).
double digital_step_seconds(const DigitalStep& d, KfacMethod method, const HardwareAssumptions& hw);
// The same with the inversion replaced by the analog estimate.
double thermodynamic_step_seconds(const DigitalStep& d, const AnalogEstimate& a, KfacMethod method,
                                  const HardwareAssumptions& hw);

// The spectrum the estimate needs of M + damping I, as the netlist scales it: alpha_min =
// lambda_min / max |entry| and kappa = lambda_max / lambda_min. lambda_min by inverse iteration on
// the Cholesky factorization (n^3 / 3 once, n^2 per iteration), lambda_max by power iteration,
// each to a relative change of 1e-10 or 300 iterations. Rayleigh quotients: lambda_min is never
// below the true value nor lambda_max above it (the estimate errs towards the hardware).
struct FactorSpectrum {
  double alpha_min = 0.0, kappa = 0.0;
};
FactorSpectrum scaled_spectrum(const Eigen::MatrixXd& m, double damping);

}  // namespace tkfac::kfac
