#include "tkfac/cosim/ou_process.hpp"

#include <fmt/format.h>

#include <Eigen/Eigenvalues>
#include <cmath>
#include <numbers>
#include <stdexcept>

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
  if (!model_.circuit) throw std::logic_error("OuProcess: the model has no circuit dynamics");
  const netlist_gen::CircuitDynamics& d = *model_.circuit;
  const Eigen::Index n = d.output_map.rows();
  if (x0.size() != n) {
    throw InputError(fmt::format("start state: has {} entries, expected {}", x0.size(), n));
  }
  if (!(interval > 0.0) || steps < 0) {
    throw InputError(fmt::format("sample interval {} s, {} steps: expected a positive interval",
                                 interval, steps));
  }
  const bool noisy = model_.voltage_noise_variance > 0.0 && d.noise_input.cols() > 0;
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
  const CircuitTransition step = circuit_transition(d, h);
  const Eigen::VectorXd drive = step.psi * d.forcing;
  // White: the Gaussian transition's covariance, applied through a symmetric square root (it
  // may be singular when fewer noise sources than capacitors). Held: the noise currents are
  // constant over each NT, q(t + NT) = phi q + psi (f + B w), w_k ~ N(0, NA_k^2).
  Eigen::MatrixXd kick;
  if (noisy && shape_ == solver::NoiseShape::white) {
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(white_noise_covariance(d, h));
    kick = eig.eigenvectors() * eig.eigenvalues().cwiseMax(0.0).cwiseSqrt().asDiagonal();
  } else if (noisy) {
    kick = step.psi * d.noise_input * d.noise_rms.asDiagonal();
  }
  Eigen::VectorXd q = circuit_state(d, x0 / model_.scale);
  Eigen::VectorXd z(kick.cols()), next(q.size()), x(n);
  for (long s = 1; s <= steps; ++s) {
    for (long sub = 0; sub < substeps; ++sub) {
      next.noalias() = step.phi * q;
      next += drive;
      if (noisy) {
        for (Eigen::Index k = 0; k < z.size(); ++k) z(k) = normal_.next();
        next.noalias() += kick * z;
      }
      q.swap(next);
    }
    x.noalias() = model_.scale * (d.output_map * q + d.output_offset);
    observer(static_cast<double>(s) * interval, x);
  }
}

}  // namespace tkfac::cosim
