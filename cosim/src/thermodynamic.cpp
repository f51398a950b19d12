#include "tkfac/cosim/thermodynamic.hpp"

#include <fmt/format.h>

#include <Eigen/Eigenvalues>
#include <cmath>

#include "tkfac/core/error.hpp"
#include "tkfac/netlist_gen/netlist.hpp"

namespace tkfac::cosim {

NoiseShape parse_noise_shape(const std::string& text, const std::string& option) {
  if (text == "white") return NoiseShape::white;
  if (text == "held") return NoiseShape::held;
  throw InputError(fmt::format("{}: '{}' is not white or held", option, text));
}

std::string_view to_string(NoiseShape shape) {
  return shape == NoiseShape::white ? "white" : shape == NoiseShape::held ? "held" : "?";
}

Eigen::VectorXd ThermoModel::v_eq() const {
  // M_hat = Q diag(alpha) Q^T.
  return modes * (modes.transpose() * b_hat).cwiseQuotient(alpha);
}

Eigen::VectorXd ThermoModel::x_eq() const { return scale * v_eq(); }

double ThermoModel::variance_factor(Eigen::Index k, NoiseShape shape) const {
  if (shape == NoiseShape::white || noise_sample_time <= 0.0) return 1.0;
  const double u = alpha(k) * noise_sample_time / tau0;
  return u < 1e-8 ? 1.0 : std::tanh(0.5 * u) / (0.5 * u);
}

Eigen::VectorXd ThermoModel::mode_variances_x(NoiseShape shape) const {
  Eigen::VectorXd v(alpha.size());
  for (Eigen::Index k = 0; k < alpha.size(); ++k) {
    // Cov(x) = beta^-1 (s_M M_hat)^-1: mode k has beta^-1 / (s_M alpha_k).
    v(k) = variance_factor(k, shape) * noise_variance / (matrix_scale * alpha(k));
  }
  return v;
}

Eigen::MatrixXd ThermoModel::covariance_x(NoiseShape shape) const {
  return modes * mode_variances_x(shape).asDiagonal() * modes.transpose();
}

Eigen::VectorXd ThermoModel::mean_at(double t, const Eigen::VectorXd& x0) const {
  const Eigen::VectorXd xe = x_eq();
  Eigen::VectorXd c = modes.transpose() * (x0 - xe);
  for (Eigen::Index k = 0; k < c.size(); ++k) c(k) *= std::exp(-alpha(k) * t / tau0);
  return xe + modes * c;
}

double ThermoModel::noise_current_rms() const {
  if (noise_sample_time <= 0.0) return 0.0;
  // S_i = NA^2 NT = 2 C g0 beta_V^-1 with g0 = 1 / R.
  return std::sqrt(2.0 * capacitance * voltage_noise_variance / (resistance * noise_sample_time));
}

ThermoModel make_thermo_model(const Eigen::MatrixXd& m, const Eigen::VectorXd& b,
                              const netlist_gen::NetlistOptions& options) {
  // The netlist is built (and thrown away) so that every number the twin uses is the netlist's
  // own: scales, R, C, noise sample time, beta_V^-1.
  netlist_gen::NetlistOptions o = options;
  if (o.encoding == netlist_gen::Encoding::activation) {
    o.encoding = netlist_gen::Encoding::behavioral;
  }
  return make_thermo_model(netlist_gen::make_netlist(m, b, o).summary, m, b, options.damping);
}

ThermoModel make_thermo_model(const netlist_gen::MatrixSummary& s, const Eigen::MatrixXd& m,
                              const Eigen::VectorXd& b, double damping) {
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
  return model;
}

}  // namespace tkfac::cosim
