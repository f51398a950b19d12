#include "tkfac/kfac/hardware_estimate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>

#include "tkfac/core/dense.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/core/spd.hpp"

namespace tkfac::kfac {

void HardwareAssumptions::validate() const {
  const auto positive = [](double v, const char* flag) {
    if (!(std::isfinite(v) && v > 0)) {
      throw InputError(fmt::format("{}: {} is not usable, expected a finite value > 0", flag, v));
    }
  };
  positive(rc_seconds, "--rc");
  positive(link_bits_per_second, "--link");
  if (bits < 1 || bits > 64) throw InputError(fmt::format("--bits: {}, expected 1 ... 64", bits));
  if (solvers < 1) throw InputError(fmt::format("--solvers: {}, expected >= 1", solvers));
  if (inverse_interval < 1) {
    throw InputError(fmt::format("--inverse-interval: {}, expected >= 1", inverse_interval));
  }
  if (!(relaxation_error > 0 && relaxation_error < 1)) {
    throw InputError(
        fmt::format("--relaxation-error: {}, expected a value in (0, 1)", relaxation_error));
  }
  if (!(inverse_precision > 0 && inverse_precision < 1)) {
    throw InputError(
        fmt::format("--inverse-precision: {}, expected a value in (0, 1)", inverse_precision));
  }
}

AnalogEstimate estimate_analog(const std::vector<AnalogFactor>& factors, KfacMethod method,
                               const HardwareAssumptions& hw) {
  hw.validate();
  AnalogEstimate out;
  std::vector<double> runs;
  double values = 0.0;
  for (const AnalogFactor& f : factors) {
    if (!(f.alpha_min > 0) || f.n < 1) {
      throw InputError(fmt::format("hardware estimate: factor of size {} has alpha_min {}, "
                                   "expected a positive definite factor",
                                   f.n, f.alpha_min));
    }
    const double n = static_cast<double>(f.n), m = static_cast<double>(f.rhs_columns);
    const double tau = hw.rc_seconds / f.alpha_min;
    out.largest_tau = std::max(out.largest_tau, tau);
    const double relax = tau * std::log(1.0 / hw.relaxation_error);
    const double triangle = n * (n + 1) / 2;
    if (method == KfacMethod::inverse) {
      runs.push_back(relax + 2.0 * tau / (hw.inverse_precision * hw.inverse_precision));
      values += 2 * triangle;
    } else {
      runs.push_back(m * relax);
      values += triangle + 2 * n * m;
    }
  }
  out.transfer_seconds = values * hw.bits / hw.link_bits_per_second;
  // Longest first, each to the least-loaded solver.
  std::sort(runs.begin(), runs.end(), std::greater<>());
  std::vector<double> load(static_cast<std::size_t>(hw.solvers), 0.0);
  for (double r : runs) *std::min_element(load.begin(), load.end()) += r;
  out.analog_seconds = *std::max_element(load.begin(), load.end());
  return out;
}

namespace {
int interval_of(KfacMethod method, const HardwareAssumptions& hw) {
  return method == KfacMethod::inverse ? hw.inverse_interval : 1;
}
}  // namespace

double digital_step_seconds(const DigitalStep& d, KfacMethod method,
                            const HardwareAssumptions& hw) {
  return d.gradient + d.factors + d.update + d.inversion / interval_of(method, hw);
}

double thermodynamic_step_seconds(const DigitalStep& d, const AnalogEstimate& a, KfacMethod method,
                                  const HardwareAssumptions& hw) {
  return d.gradient + d.factors + d.update + a.total_seconds() / interval_of(method, hw);
}

namespace {

// The largest eigenvalue of the symmetric positive definite operator `apply` (size n) by power
// iteration: a Rayleigh quotient, at most the true value.
double largest_eigenvalue(Eigen::Index n,
                          const std::function<Eigen::VectorXd(const Eigen::VectorXd&)>& apply) {
  std::mt19937_64 rng(7);
  Eigen::VectorXd v = random_normal(n, 1, rng).col(0).normalized();
  double mu = 0.0;
  for (int it = 0; it < 300; ++it) {
    const Eigen::VectorXd w = apply(v);
    const double next = v.dot(w);
    v = w.normalized();
    const bool settled = it > 0 && std::abs(next - mu) <= 1e-10 * std::abs(next);
    mu = next;
    if (settled) break;
  }
  return mu;
}

}  // namespace

FactorSpectrum scaled_spectrum(const Eigen::MatrixXd& m, double damping) {
  Eigen::MatrixXd damped = 0.5 * (m + m.transpose());
  damped.diagonal().array() += damping;
  const dense::Cholesky c(damped);
  if (!c.positive_definite()) {
    throw InputError("hardware estimate: a damped factor is not positive definite");
  }
  const Eigen::Index n = damped.rows();
  const double lambda_min = 1.0 / largest_eigenvalue(n, [&](const Eigen::VectorXd& v) {
    return Eigen::VectorXd(c.solve(v));
  });
  const double lambda_max = largest_eigenvalue(
      n, [&](const Eigen::VectorXd& v) { return Eigen::VectorXd(damped * v); });
  return {lambda_min / damped.cwiseAbs().maxCoeff(), lambda_max / lambda_min};
}

}  // namespace tkfac::kfac
