#pragma once
// Internal: the parts every netlist builder shares (make_netlist for the behavioral and
// integrator encodings, make_activation_netlist for the activation encoding), so that the
// encodings scale right-hand sides, plan the transient and inject noise one way.
#include <Eigen/Dense>
#include <optional>
#include <string>

#include "tkfac/netlist_gen/encoding.hpp"
#include "tkfac/netlist_gen/netlist.hpp"

namespace tkfac::netlist_gen::detail {

// Rounds `value` > 0 to 3 significant digits, up or down. The simulated time and step sizes
// come from eigenvalues, whose last bits may vary with the Eigen version or the compiler; rounded,
// they keep golden netlists stable and read better. The result is parsed back from its decimal
// text, so it prints as e.g. 0.00403 rather than 0.004030000000000001.
double round3(double value, bool up);

// s_b: b_hat = b / s_b (`max_entry`: max |b_i| / input_full_scale; 1 for `none`, or for b zero
// or empty).
double rhs_scale(const Eigen::VectorXd& b, const NetlistOptions& options);

// The capacitor voltage at t = 0 of unknown i, factor * v0(i), for a warm start; none (0 V, the
// cold start) when v0 is empty.
std::optional<double> initial_voltage(const Eigen::VectorXd& v0, Eigen::Index i, double factor);

// The transient every encoding runs (the same analog time, steps and noise for the same SDE):
// from netlist.summary's predicted_tau, alpha_max, resistance, capacitance, matrix_scale and
// rhs_scale, sets summary.sim_time and the noise fields, and tran_stop, tran_step,
// tran_max_step. Throws InputError if options.max_step exceeds the noise sample time.
void plan_transient(const NetlistOptions& options, Netlist& netlist);

// plan_final_state's work (encoding.hpp), once the caller has checked the netlist is noiseless
// and cold: TMAX, TSTEP, `.options trtol`, and header lines saying so.
void plan_final_state_steps(const NetlistOptions& options, Netlist& netlist);

// A netlist of `encoding` with its summary filled (size, damping, spectrum of M_hat, scales, R, C,
// predicted tau = R C / alpha_min) and its transient planned (plan_transient).
Netlist start_netlist(Encoding encoding, const NetlistOptions& options, Eigen::Index n,
                      double alpha_min, double alpha_max, double s_m, double s_b);

// An inverting amplifier of unit gain, out_i = -in_i: R_<tag>_in_i from in_i to the summing
// node sum_i, R_<tag>_fb_i from sum_i to out_i (both `resistance`), and op-amp E_<tag>_i
// (out_i = -gain V(sum_i)). With finite gain it gives -in_i / (1 + 2 / gain); the encodings trim
// for that. The integrator and activation encodings use it for every sign change.
void add_inverter(Block& block, const char* tag, Eigen::Index i, const char* in, const char* sum,
                  const char* out, double resistance, double gain);

// With noise (options.noise_variance > 0): one TRRANDOM current per unknown into node
// `<node_prefix>_<i>` (the node whose equation has the C dV/dt term: x_i, or the summing node
// s_i of an integrator), a pad source for odd n, and `.options seed`. Call after plan_transient.
void add_noise_sources(const NetlistOptions& options, const std::string& node_prefix,
                       Netlist& netlist);

// Header lines of the transient (predicted tau, simulated time, time steps) and, with noise, of
// the noise sources and the expected standard deviation of each unknown,
// sqrt(beta^-1 inverse_diagonal(i)), inverse_diagonal = diag((M + damping I)^-1).
void add_transient_header(const NetlistOptions& options, const Eigen::VectorXd& inverse_diagonal,
                          Netlist& netlist);

}  // namespace tkfac::netlist_gen::detail
