#pragma once
// The Ornstein-Uhlenbeck process a relaxation netlist encodes (docs/DESIGN.md sections 5 and 6).
// The options of thermodynamic solves (ThermoOptions, solver::NoiseShape) are in
// tkfac/solver/thermo_options.hpp.
//
//   tkfac::netlist_gen::NetlistOptions nopt;
//   nopt.noise_variance = 1e-4;                        // beta^-1, units of the unknowns
//   auto model = tkfac::cosim::make_thermo_model(M, b, nopt);
//   Eigen::MatrixXd cov = model.covariance_x(tkfac::solver::NoiseShape::white);  // beta^-1 M^-1
//   double tau = model.predicted_tau();               // R C / alpha_min
//
// The circuit: C dV/dt = -g0 (M_hat V - b_hat) + i_noise, x = scale * V, scale = s_b / s_M,
// M_hat = (M + damping I) / s_M, b_hat = b / s_b. In time s = t / (R C) each node obeys
//   dV = -(M_hat V - b_hat) ds + sqrt(2 beta_V^-1) dW_s,   Cov(V) = beta_V^-1 M_hat^-1,
// and Cov(x) = scale^2 Cov(V) = beta^-1 M^-1 requires beta_V^-1 = beta^-1 s_M / s_b^2.
// A white current of two-sided density S_i (A^2/Hz) per node gives beta_V^-1 = S_i R / (2 C);
// a held Gaussian of rms NA renewed every NT has, over long times, S_i = NA^2 NT, so
//   NA = sqrt(2 C beta_V^-1 / (R NT))   (the netlist's TRRANDOM sources).
#include <Eigen/Dense>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "tkfac/netlist_gen/circuit_dynamics.hpp"
#include "tkfac/netlist_gen/encoding.hpp"
#include "tkfac/netlist_gen/netlist.hpp"
#include "tkfac/netlist_gen/nonideal.hpp"
#include "tkfac/solver/thermo_options.hpp"

namespace tkfac::cosim {

// The SDE of one netlist, in its own units (node volts, analog seconds). Two views of it:
// the ideal SDE of the matrix the netlist encodes (m_hat, b_hat, modes: the theory the
// estimators' standard errors and the reports use), and `circuit`, the linear dynamics the
// netlist's elements realize (circuit_dynamics.hpp: finite op-amp gain, untrimmed or perturbed
// values included), which the `ou` twin simulates and mean_at follows.
struct ThermoModel {
  Eigen::MatrixXd m_hat;                // (M + damping I) / s_M, symmetric
  Eigen::VectorXd b_hat;                // b / s_b
  Eigen::MatrixXd modes;                // orthonormal eigenvectors of m_hat, columns
  Eigen::VectorXd alpha;                // eigenvalues of m_hat, ascending
  double resistance = 1e3;              // R, ohms
  double capacitance = 1e-9;            // C, farads
  double tau0 = 1e-6;                   // R C
  double matrix_scale = 1.0;            // s_M
  double rhs_scale = 1.0;               // s_b
  double scale = 1.0;                   // x = scale * V = s_b / s_M * V
  double noise_variance = 0.0;          // beta^-1, units of the unknowns
  double voltage_noise_variance = 0.0;  // beta_V^-1: Cov(V) = beta_V^-1 M_hat^-1 (white noise)
  double noise_sample_time = 0.0;       // NT, seconds (0 without noise)
  double default_sim_time = 0.0;        // the netlist's simulated time (options.sim_time or auto)
  // The ADC the unknowns' node voltages are read through (bits 0: exact) and the DAC inputs of
  // the netlist's right-hand side that clipped (netlist summary).
  netlist_gen::Converter adc;
  long dac_clipped = 0;
  // The circuit's own dynamics, outputs = the unknowns' nodes in index order (x = scale * V);
  // null when made with CircuitView::none.
  std::shared_ptr<const netlist_gen::CircuitDynamics> circuit;

  double predicted_tau() const { return tau0 / alpha(0); }
  Eigen::VectorXd v_eq() const;  // M_hat^-1 b_hat
  Eigen::VectorXd x_eq() const;  // scale * v_eq = (M + damping I)^-1 b
  // Stationary variance of mode k at the sample times relative to white noise: 1 (white), or
  // tanh(u/2) / (u/2) with u = alpha_k NT / tau0 (held). Derivation: constant noise of variance
  // q = 2 beta_V^-1 tau0 / NT over each NT moves mode k by (1 - rho) u_k / alpha_k, rho =
  // exp(-u), so its stationary variance is q (1 - rho)^2 / (alpha_k^2 (1 - rho^2)) =
  // (beta_V^-1 / alpha_k) tanh(u/2) / (u/2).
  double variance_factor(Eigen::Index k, solver::NoiseShape shape) const;
  // Stationary variance of each mode, units of the unknowns: factor * beta^-1 / (s_M alpha_k).
  Eigen::VectorXd mode_variances_x(solver::NoiseShape shape) const;
  // Stationary covariance of x at the sample times (white: beta^-1 (M + damping I)^-1).
  Eigen::MatrixXd covariance_x(solver::NoiseShape shape) const;
  // Noiseless mean at analog time t from x0 (units of the unknowns), of the circuit's dynamics;
  // for a circuit that realizes M exactly, x_eq + expm(-M_hat t / tau0) (x0 - x_eq).
  Eigen::VectorXd mean_at(double t, const Eigen::VectorXd& x0) const;
  // Rms current NA of each held noise source (amps) that realizes beta^-1 with sample time NT.
  double noise_current_rms() const;
};

// The twin of netlist_gen::make_netlist(m, b, options) (validates both): its scales, R, C, noise
// and times, and the dynamics of its elements. `b` may be empty (zero inputs). For
// Encoding::activation, whose circuit needs the array, this takes the behavioral netlist (the
// same M_hat, scales and times; for an activation netlist itself, use the overload below).
// Whether a ThermoModel also carries the circuit's dynamics: the `ou` twin and mean_at need
// them; an ngspice run simulates the circuit itself, and reducing it (an LU of about 9 n
// unknowns for an integrator) would be wasted work on its path.
enum class CircuitView { dynamics, none };

ThermoModel make_thermo_model(const Eigen::MatrixXd& m, const Eigen::VectorXd& b,
                              const netlist_gen::NetlistOptions& options,
                              CircuitView view = CircuitView::dynamics);

// The twin of a netlist already built, e.g. make_activation_netlist(a, b, options): scales, R, C,
// noise and times from its summary, the dynamics from its elements, `m` the matrix it encodes
// (there, activation_matrix(a)), so M_hat = (m + damping I) / s_M = F F^T + mu I.
ThermoModel make_thermo_model(const netlist_gen::Netlist& netlist, const Eigen::MatrixXd& m,
                              const Eigen::VectorXd& b, double damping,
                              CircuitView view = CircuitView::dynamics);

// The circuit's state q for outputs v (node volts): q = T^-1 (v - t0). Throws InputError unless
// there is one capacitor per output.
Eigen::VectorXd circuit_state(const netlist_gen::CircuitDynamics& circuit,
                              const Eigen::VectorXd& v);

// The exact step h of dq/dt = -A q + u with u constant over the step:
// q(h) = phi q(0) + psi u, phi = exp(-A h), psi = int_0^h exp(-A s) ds.
struct CircuitTransition {
  Eigen::MatrixXd phi;
  Eigen::MatrixXd psi;
};
CircuitTransition circuit_transition(const netlist_gen::CircuitDynamics& circuit, double h);

// Covariance of the state after h under white noise of the same intensity as the circuit's held
// sources (two-sided density NA^2 NT each): int_0^h exp(-A s) B S B^T exp(-A^T s) ds.
Eigen::MatrixXd white_noise_covariance(const netlist_gen::CircuitDynamics& circuit, double h);

}  // namespace tkfac::cosim
