#pragma once
// Measuring the relaxation time of a circuit from its waveform (`tkfac relax`): a noiseless
// transient from a cold start, V(t) - V_eq projected on the slowest eigenspace Q of M_hat (all
// eigenvectors of alpha_min, which may be repeated), and a least-squares fit of
// log |Q^T (V(t) - V_eq)| against t over its tail.
//
//   tkfac::cosim::Session session;
//   auto r = tkfac::cosim::measure_relaxation(session, M, b, netlist_options);
//   double ratio = r.tau_measured / r.tau_predicted;     // ~1: tau = R C / alpha_min
//
// The reference state is the realized circuit's equilibrium (from the same dynamics), so a
// circuit whose equilibrium is not M^-1 b (untrimmed, perturbed, single-pole op-amps with an
// offset) is measured about its own.
//
// Why the projection: the modes of M_hat are orthogonal and decay independently,
// V(t) - V_eq = -sum_k exp(-alpha_k t / RC) q_k q_k^T V_eq, so q^T (V - V_eq) is one exponential
// at every t (no need to wait for faster modes to die), up to the simulator's integration
// error. The time step is capped at tau / 20 (unless given), where Gear-2 follows a mode's decay
// rate to about 1e-3 (its per-step factor (2 + sqrt(1 - 2x)) / (3 + 2x), x = h / T, against
// exp(-x)).
#include <Eigen/Dense>
#include <vector>

#include "tkfac/cosim/session.hpp"
#include "tkfac/netlist_gen/encoding.hpp"

namespace tkfac::cosim {

// A field added here must be added to apps/tkfac/cmd_relax.cpp's each_field too (a sweep's
// measurements travel between MPI ranks as bytes).
struct RelaxMeasurement {
  int size = 0;
  double condition_number = 0.0;
  double alpha_min = 0.0;       // smallest eigenvalue of M_hat = (M + damping I) / s_M
  double matrix_scale = 0.0;    // s_M: M's smallest eigenvalue is s_M alpha_min - damping
  int slow_dimension = 0;       // eigenvalues within 1e-6 of alpha_min (the slowest eigenspace)
  double slow_share = 0.0;      // w = |Q_min^T V_eq| / |V_eq|: the slow modes' share of the start error
  double tau_predicted = 0.0;  // R C / alpha_min, seconds (the ideal formula)
  // The twin's prediction for the realized dynamics: 1 / min Re(eigenvalue) of the drift A read
  // from the netlist's elements (circuit_dynamics.hpp), seconds. Equal to tau_predicted for an
  // ideal circuit; differs with single-pole op-amps, untrimmed gain, mismatch.
  double tau_twin = 0.0;
  double tau_measured = 0.0;   // -1 / slope of the log-linear fit, seconds
  double fit_start = 0.0;      // the fitted span, seconds
  double fit_end = 0.0;
  long fit_points = 0;
  // Time for ||V - V_eq|| / ||V_eq|| to fall to eps_levels[i] (NaN if not reached), and the
  // predictions: the bound tau ln(1/eps), and tau ln(w / eps) with w = slow_share (what is left
  // at late times is the start error's component in the slowest eigenspace; NaN if w <= eps).
  std::vector<double> eps_levels;
  std::vector<double> time_to_eps;
  std::vector<double> time_bound;
  std::vector<double> time_refined;
  double analog_seconds = 0.0;
  long accepted_points = 0;
  double wall_seconds = 0.0;
};

// Noiseless (options.noise_variance must be 0), cold start. Throws InputError when b's share
// of the slowest eigenspace is below 1e-9 (too little decay above round-off to fit). options.sim_time 0: long enough for
// the smallest eps (tau ln(1/eps) + ln 10 margin). `b` empty: a fixed pseudo-random b.
RelaxMeasurement measure_relaxation(Session& session, const Eigen::MatrixXd& m,
                                    const Eigen::VectorXd& b, netlist_gen::NetlistOptions options,
                                    const std::vector<double>& eps_levels = {1e-3, 1e-6});

}  // namespace tkfac::cosim
