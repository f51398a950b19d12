#include "tkfac/cosim/thermodynamic.hpp"

#include <fmt/format.h>

#include <Eigen/Eigenvalues>
#include <cmath>
#include <stdexcept>
#include <unsupported/Eigen/MatrixFunctions>

#include "tkfac/core/error.hpp"
#include "tkfac/netlist_gen/netlist.hpp"

namespace tkfac::cosim {

Eigen::VectorXd ThermoModel::v_eq() const {
  // M_hat = Q diag(alpha) Q^T.
  return modes * (modes.transpose() * b_hat).cwiseQuotient(alpha);
}

Eigen::VectorXd ThermoModel::x_eq() const { return scale * v_eq(); }

double ThermoModel::variance_factor(Eigen::Index k, solver::NoiseShape shape) const {
  if (shape == solver::NoiseShape::white || noise_sample_time <= 0.0) return 1.0;
  const double u = alpha(k) * noise_sample_time / tau0;
  return u < 1e-8 ? 1.0 : std::tanh(0.5 * u) / (0.5 * u);
}

Eigen::VectorXd ThermoModel::mode_variances_x(solver::NoiseShape shape) const {
  Eigen::VectorXd v(alpha.size());
  for (Eigen::Index k = 0; k < alpha.size(); ++k) {
    // Cov(x) = beta^-1 (s_M M_hat)^-1: mode k has beta^-1 / (s_M alpha_k).
    v(k) = variance_factor(k, shape) * noise_variance / (matrix_scale * alpha(k));
  }
  return v;
}

Eigen::MatrixXd ThermoModel::covariance_x(solver::NoiseShape shape) const {
  return modes * mode_variances_x(shape).asDiagonal() * modes.transpose();
}

Eigen::VectorXd ThermoModel::mean_at(double t, const Eigen::VectorXd& x0) const {
  if (!circuit) throw std::logic_error("ThermoModel::mean_at: no circuit dynamics");
  const netlist_gen::CircuitDynamics& d = *circuit;
  const Eigen::VectorXd q0 = circuit_state(d, x0 / scale);
  // A stable circuit has an invertible A: q(t) = q_eq + exp(-A t) (q0 - q_eq), q_eq = A^-1 f,
  // one n x n exponential (the augmented 2n x 2n one of circuit_transition costs about 8 times
  // more, and K-FAC on `ou` asks for this once per right-hand side).
  const Eigen::PartialPivLU<Eigen::MatrixXd> lu(d.drift);
  const Eigen::VectorXd q_eq = lu.solve(d.forcing);
  Eigen::VectorXd q;
  if (q_eq.allFinite() &&
      (d.drift * q_eq - d.forcing).norm() <= 1e-10 * (d.forcing.norm() + 1e-300)) {
    const Eigen::MatrixXd phi = (-t * d.drift).exp();
    q = q_eq + phi * (q0 - q_eq);
  } else {
    const CircuitTransition step = circuit_transition(d, t);
    q = step.phi * q0 + step.psi * d.forcing;
  }
  return scale * (d.output_map * q + d.output_offset);
}

double ThermoModel::noise_current_rms() const {
  if (noise_sample_time <= 0.0) return 0.0;
  // S_i = NA^2 NT = 2 C g0 beta_V^-1 with g0 = 1 / R.
  return std::sqrt(2.0 * capacitance * voltage_noise_variance / (resistance * noise_sample_time));
}

ThermoModel make_thermo_model(const Eigen::MatrixXd& m, const Eigen::VectorXd& b,
                              const netlist_gen::NetlistOptions& options, CircuitView view) {
  netlist_gen::NetlistOptions o = options;
  if (o.encoding == netlist_gen::Encoding::activation) {
    o.encoding = netlist_gen::Encoding::behavioral;
  }
  return make_thermo_model(netlist_gen::make_netlist(m, b, o), m, b, options.damping, view);
}

ThermoModel make_thermo_model(const netlist_gen::Netlist& netlist, const Eigen::MatrixXd& m,
                              const Eigen::VectorXd& b, double damping, CircuitView view) {
  const netlist_gen::MatrixSummary& s = netlist.summary;
  ThermoModel model;
  Eigen::MatrixXd damped = m;
  damped.diagonal().array() += damping;
  model.m_hat = 0.5 * (damped + damped.transpose()) / s.matrix_scale;
  model.b_hat = b.size() == 0 ? Eigen::VectorXd::Zero(m.rows()) : Eigen::VectorXd(b / s.rhs_scale);
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(model.m_hat);
  model.modes = eig.eigenvectors();
  model.alpha = eig.eigenvalues();
  model.resistance = s.resistance;
  model.capacitance = s.capacitance;
  model.tau0 = s.resistance * s.capacitance;
  model.matrix_scale = s.matrix_scale;
  model.rhs_scale = s.rhs_scale;
  model.scale = s.rhs_scale / s.matrix_scale;
  model.noise_variance = s.noise_variance;
  model.voltage_noise_variance = s.voltage_noise_variance;
  model.noise_sample_time = s.noise_sample_time;
  model.default_sim_time = s.sim_time;
  model.adc = {s.adc_bits, s.adc_full_scale};
  model.dac_clipped = s.dac_clipped;
  if (view == CircuitView::none) return model;
  // Outputs by unknown index, so the dynamics' outputs are x / scale.
  model.circuit = std::make_shared<const netlist_gen::CircuitDynamics>(
      netlist_gen::linear_dynamics(netlist.circuit, netlist_gen::unknown_nodes(netlist)));
  return model;
}

Eigen::VectorXd circuit_state(const netlist_gen::CircuitDynamics& d, const Eigen::VectorXd& v) {
  // More capacitors than outputs (single-pole op-amps, whose outputs follow their internal
  // poles): only a cold start is defined, every capacitor at 0 V (NetlistOptions refuses a warm
  // start with them).
  if (d.output_map.cols() > d.output_map.rows() && v.size() == d.output_map.rows() &&
      (v - d.output_offset).cwiseAbs().maxCoeff() <= 1e-300) {
    return Eigen::VectorXd::Zero(d.output_map.cols());
  }
  if (d.output_map.rows() != d.output_map.cols() || v.size() != d.output_map.rows()) {
    throw InputError(fmt::format(
        "start state: has {} entries for a circuit of {} outputs and {} capacitors; expected "
        "one per unknown, and one capacitor per unknown",
        v.size(), d.output_map.rows(), d.output_map.cols()));
  }
  return d.output_map.partialPivLu().solve(v - d.output_offset);
}

CircuitTransition circuit_transition(const netlist_gen::CircuitDynamics& d, double h) {
  // exp(h [[-A, I], [0, 0]]) = [[exp(-A h), int_0^h exp(-A s) ds], [0, I]]: the exact step of
  // dq/dt = -A q + u for u constant over h, without inverting A.
  const Eigen::Index n = d.drift.rows();
  Eigen::MatrixXd augmented = Eigen::MatrixXd::Zero(2 * n, 2 * n);
  augmented.topLeftCorner(n, n) = -h * d.drift;
  augmented.topRightCorner(n, n) = h * Eigen::MatrixXd::Identity(n, n);
  const Eigen::MatrixXd e = augmented.exp();
  return {e.topLeftCorner(n, n), e.topRightCorner(n, n)};
}

Eigen::MatrixXd white_noise_covariance(const netlist_gen::CircuitDynamics& d, double h) {
  const Eigen::Index n = d.drift.rows();
  // White noise of the same intensity as the held sources: each integrates to variance
  // NA^2 NT per unit time (two-sided density NA^2 NT), so dq = ... + B dW with
  // Cov(B dW) = Sigma dt, Sigma = B diag(NA^2 NT) B^T.
  const Eigen::VectorXd density =
      d.noise_rms.cwiseProduct(d.noise_rms).cwiseProduct(d.noise_sample_time);
  const Eigen::MatrixXd sigma = d.noise_input * density.asDiagonal() * d.noise_input.transpose();
  // Q(h) = int_0^h exp(-A s) Sigma exp(-A^T s) ds. Van Loan (1978) on a step h0 short enough
  // that exp(+A h0) in the construction cannot overflow, then doubling,
  // Q(2 h) = Q(h) + Phi(h) Q(h) Phi(h)^T, Phi(2 h) = Phi(h)^2, exactly to h.
  const double norm = d.drift.cwiseAbs().rowwise().sum().maxCoeff();
  int doublings = 0;
  double h0 = h;
  while (norm * h0 > 1.0 && doublings < 200) {
    h0 *= 0.5;
    ++doublings;
  }
  Eigen::MatrixXd van_loan = Eigen::MatrixXd::Zero(2 * n, 2 * n);
  van_loan.topLeftCorner(n, n) = h0 * d.drift;
  van_loan.topRightCorner(n, n) = h0 * sigma;
  van_loan.bottomRightCorner(n, n) = -h0 * d.drift.transpose();
  const Eigen::MatrixXd e = van_loan.exp();
  Eigen::MatrixXd phi = e.bottomRightCorner(n, n).transpose();
  Eigen::MatrixXd q = phi * e.topRightCorner(n, n);
  for (int k = 0; k < doublings; ++k) {
    q = q + phi * q * phi.transpose();
    phi = phi * phi;
  }
  return 0.5 * (q + q.transpose());
}

}  // namespace tkfac::cosim
