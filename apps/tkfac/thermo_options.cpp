#include "thermo_options.hpp"

#include <fmt/format.h>

#include <ostream>

#include "tkfac/core/csv.hpp"
#include "tkfac/core/error.hpp"

namespace tkfac::cli {

void ThermoArgs::add_to(CLI::App* cmd) {
  cmd->add_option("--burn-in", options.burn_in,
                  "analog seconds discarded before averaging (< 0: tau ln(1/target-error))")
      ->capture_default_str();
  cmd->add_option("--window", options.window,
                  "analog seconds averaged after the burn-in (0: from --target-standard-error, "
                  "else 100 tau; with --sim-time: the rest of the run)")
      ->capture_default_str();
  cmd->add_option("--target-standard-error", options.target_standard_error,
                  "standard error of the mean the automatic window aims at (0: unused)")
      ->capture_default_str();
  cmd->add_option("--analog-time", options.analog_time,
                  "return the state at this analog time, in units of R C (0: off)")
      ->capture_default_str();
  cmd->add_option("--start", options.start, "start state: cold (zero) | warm (--warm-start)")
      ->capture_default_str();
  cmd->add_option("--warm-start", warm_start_file, "start state x0 (CSV column) for --start warm");
  cmd->add_option("--inverse-method", options.inverse_method,
                  "auto | covariance (noisy run, Method 1) | unit_rhs (noiseless unit inputs)")
      ->capture_default_str();
  cmd->add_option("--noise-shape", noise_shape,
                  "ou only: white (ideal SDE) | held (the circuit's noise, exactly)")
      ->capture_default_str();
}

solver::ThermoOptions ThermoArgs::resolve(Eigen::Index n) const {
  solver::ThermoOptions o = options;
  o.noise_shape = solver::parse_noise_shape(noise_shape, "--noise-shape");
  if (!warm_start_file.empty()) {
    const Eigen::MatrixXd w = read_csv_matrix(warm_start_file);
    if (w.cols() != 1 || w.rows() != n) {
      throw InputError(fmt::format("--warm-start: {} is {}x{}, expected one column of {} entries",
                                   warm_start_file, w.rows(), w.cols(), n));
    }
    o.warm_start = w.col(0);
    if (o.start == "cold") o.start = "warm";
  }
  o.validate();
  return o;
}

void print_thermo_report(std::ostream& out, const solver::SolveReport& r) {
  if (r.estimator.empty()) return;
  out << fmt::format("estimator          {}\n", r.estimator);
  if (r.estimator == "final state") return;
  out << fmt::format("burn-in            {:.4g} s ({:.3g} tau)\n", r.burn_in_seconds,
                     r.burn_in_seconds / r.predicted_tau)
      << fmt::format("window             {:.4g} s ({:.3g} tau), one sample every {:.4g} s\n",
                     r.window_seconds, r.window_seconds / r.predicted_tau, r.sample_interval)
      << fmt::format("samples            {} per run, effective {:.1f} (slowest mode)\n", r.samples,
                     r.effective_samples)
      << fmt::format("standard error     {:.3e} (largest entry)\n", r.standard_error);
}

}  // namespace tkfac::cli
