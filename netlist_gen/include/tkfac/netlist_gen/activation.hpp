#pragma once
// The activation encoding (the Thermodynamic K-FAC paper's Appendix E): a relaxation circuit for
// M = a a^T / b + damping I built from the N x b array `a` itself (a layer's activations over a
// batch, with the row of ones when the bias is folded into A; or its per-example output
// gradients for G), without ever forming M.
//
//   tkfac::netlist_gen::NetlistOptions opt;
//   opt.damping = 1e-2;
//   auto nl = tkfac::netlist_gen::make_activation_netlist(a, b, opt);  // 2 N b array resistors
//   std::string text = tkfac::netlist_gen::to_spice(nl);                 // `ngspice -b` runs it
//
// Circuit (same SDE as the other encodings: C dV/dt = -g0 (M_hat V - b_hat), g0 = 1/R):
// write M_hat = (M + damping I) / s_M = F F^T + mu I with F = a / sqrt(b s_M), mu = damping / s_M.
//   - per unknown i an inverting op-amp integrator (C_i from summing node s_i to output o_i = V_i),
//     like the integrator encoding, and an inverter neg_i = -V_i where row i of F has a negative
//     entry;
//   - first array: R_a_i_k = R / |F_ik| from o_i (F_ik > 0) or neg_i (F_ik < 0) into the summing
//     node p_k of an inverting summing amplifier E_sum_k with feedback resistor R_sum_fb_k = R:
//     y_k = -(F^T V)_k, one amplifier per non-zero column k of a;
//   - an inverter ny_k = -y_k = (F^T V)_k where column k of F has a positive entry;
//   - second array: R_f_i_k = R / |F_ik| from ny_k (F_ik > 0) or y_k (F_ik < 0) into s_i:
//     current g0 (F F^T V)_i;
//   - damping: R_d_i = R / mu from o_i into s_i (current g0 mu V_i); DAC V_dac_i at -b_hat_i through
//     R_b_i = R (current +g0 b_hat_i), as in the integrator encoding.
// Zero entries of a give no resistor: 2 N b array resistors at most (N^2 for the other encodings).
//
// Scaling (`max_entry`): s_M = max_i ||a_i||^2 / b + damping, from the row norms of a. M is
// positive semidefinite, so |m_ij| <= sqrt(m_ii m_jj) (Cauchy-Schwarz) and this is exactly
// max |m_ij|, the s_M of the other encodings: the same M_hat, the same tau, the same solution
// scale. It also bounds |F_ik| <= 1, so every array resistor is at least R. (`none`: s_M = 1.)
// The eigenvalues of M_hat (alpha_min, alpha_max, tau) come from the singular values of a:
// (sigma_k^2 / b + damping) / s_M, and damping / s_M when b < N.
//
// Finite op-amp gain A (VCVS): with gain_compensation (default) the feedback resistors R_sum_fb_k
// and the damping resistors are trimmed, and the negative entries of the first array and the
// positive ones of the second are divided by the inverter gain A / (A + 2), so that the
// equilibrium is exactly M_hat V = b_hat (derivation in activation.cpp). When the damping is too
// small to absorb the integrator's finite-gain leak, R_d_i comes from neg_i instead. Without
// compensation the header states the bound on the equilibrium's relative error
// (MatrixSummary::finite_gain_error).
#include <Eigen/Dense>
#include <string>

#include "tkfac/netlist_gen/encoding.hpp"
#include "tkfac/netlist_gen/netlist.hpp"

namespace tkfac::netlist_gen {

// Checks `a` (non-empty, finite) and that a a^T / b + damping I is positive definite (b >= N
// with a of full row rank, or damping > 0). Throws InputError whose message starts with `name`.
void validate_activations(const Eigen::MatrixXd& a, double damping, const std::string& name);

// s_M of `max_entry` scaling: max_i ||a_i||^2 / b + damping (= max |m_ij|, see above).
double activation_matrix_scale(const Eigen::MatrixXd& a, double damping);

// M = a a^T / b (b = a.cols()), exactly symmetric: the matrix the circuit encodes, formed for
// the digital side (other encodings, reference solves, the OU twin's modes).
Eigen::MatrixXd activation_matrix(const Eigen::MatrixXd& a);

// Eigenvalues of a a^T / b + damping I, ascending, from the singular values of a.
Eigen::VectorXd activation_eigenvalues(const Eigen::MatrixXd& a, double damping);

// The activation circuit for (a a^T / b + options.damping I) x = rhs; `rhs` may be empty (zero
// inputs). options.encoding is not used (this is always the activation encoding). Carries the
// same header, tkfac-unknown lines, input sources and read-out as make_netlist().
Netlist make_activation_netlist(const Eigen::MatrixXd& a, const Eigen::VectorXd& rhs,
                                const NetlistOptions& options);

}  // namespace tkfac::netlist_gen
