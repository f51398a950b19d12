#include "tkfac/cosim/ou_process.hpp"

#include <fmt/format.h>

#include <cmath>
#include <numbers>

#include "tkfac/core/error.hpp"

namespace tkfac::cosim {

double NormalStream::uniform() {
  // 53 random bits, shifted by half a unit so the value is never 0 (log(0) below).
  return (static_cast<double>(engine_() >> 11) + 0.5) * 0x1.0p-53;
}

double NormalStream::next() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  const double r = std::sqrt(-2.0 * std::log(uniform()));
  const double phi = 2.0 * std::numbers::pi * uniform();
  spare_ = r * std::sin(phi);
  has_spare_ = true;
  return r * std::cos(phi);
}

OuProcess::OuProcess(const ThermoModel& model, solver::NoiseShape shape, std::uint64_t seed)
    : model_(model), shape_(shape), normal_(seed) {}

void OuProcess::run(const Eigen::VectorXd& x0, double interval, long steps,
                    const std::function<void(double, const Eigen::VectorXd&)>& observer) {
  const Eigen::Index n = model_.alpha.size();
  if (x0.size() != n) {
    throw InputError(fmt::format("start state: has {} entries, expected {}", x0.size(), n));
  }
  if (!(interval > 0.0) || steps < 0) {
    throw InputError(fmt::format("sample interval {} s, {} steps: expected a positive interval",
                                 interval, steps));
  }
  const bool noisy = model_.voltage_noise_variance > 0.0;
  long substeps = 1;
  double h = interval;
  if (noisy && shape_ == solver::NoiseShape::held) {
    const double ratio = interval / model_.noise_sample_time;
    substeps = std::lround(ratio);
    if (substeps < 1 || std::abs(ratio - static_cast<double>(substeps)) > 1e-9 * ratio) {
      throw InputError(fmt::format(
          "sample interval {} s: held noise needs a whole multiple of the noise sample time {} s",
          interval, model_.noise_sample_time));
    }
    h = model_.noise_sample_time;
  }
  // Mode coordinates in volts.
  const Eigen::VectorXd y_eq = model_.modes.transpose() * model_.v_eq();
  Eigen::VectorXd y = model_.modes.transpose() * (x0 / model_.scale);
  Eigen::VectorXd rho(n), kick(n);
  for (Eigen::Index k = 0; k < n; ++k) {
    const double a = model_.alpha(k);
    rho(k) = std::exp(-a * h / model_.tau0);
    const double v_white = model_.voltage_noise_variance / a;  // beta_V^-1 / alpha_k
    if (shape_ == solver::NoiseShape::white) {
      // -expm1(-2 a h) = 1 - rho^2 without cancellation for a h << 1.
      kick(k) = std::sqrt(v_white * -std::expm1(-2.0 * a * h / model_.tau0));
    } else {
      // (1 - rho) / alpha_k * sqrt(q), q = 2 beta_V^-1 tau0 / h.
      const double q = 2.0 * model_.voltage_noise_variance * model_.tau0 / h;
      kick(k) = -std::expm1(-a * h / model_.tau0) / a * std::sqrt(q);
    }
  }
  Eigen::VectorXd x(n);
  for (long s = 1; s <= steps; ++s) {
    for (long sub = 0; sub < substeps; ++sub) {
      for (Eigen::Index k = 0; k < n; ++k) {
        y(k) = y_eq(k) + rho(k) * (y(k) - y_eq(k));
        if (noisy) y(k) += kick(k) * normal_.next();
      }
    }
    x.noalias() = model_.scale * (model_.modes * y);
    observer(static_cast<double>(s) * interval, x);
  }
}

}  // namespace tkfac::cosim
