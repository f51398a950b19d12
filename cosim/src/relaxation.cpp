#include "tkfac/cosim/relaxation.hpp"

#include <fmt/format.h>

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "circuit_engine.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/netlist_gen/circuit_dynamics.hpp"
#include "tkfac/netlist_gen/encoding.hpp"
#include "tkfac/netlist_gen/netlist.hpp"

namespace tkfac::cosim {

namespace {
// The tail fitted: from 1 tau (the start of the run carries the first, tiny steps) to where the
// slow mode has decayed by 1e-7 of its start (well above the simulator's round-off) or the end.
constexpr double kFitStartTaus = 1.0;
constexpr double kFitDecades = 7.0;
constexpr double kMaxStepPerTau = 1.0 / 20.0;
// Eigenvalues within this relative distance of alpha_min count as the slowest eigenspace.
constexpr double kSameRate = 1e-6;
// The waveform's round-off relative to |V_eq| (ngspice's doubles through an LU solve per step):
// the slow component is fitted only above it, over at least kMinFitDecades.
constexpr double kRoundOff = 1e-12;
constexpr double kMinFitDecades = 3.0;
}  // namespace

RelaxMeasurement measure_relaxation(Session& session, const Eigen::MatrixXd& m,
                                    const Eigen::VectorXd& b_in,
                                    netlist_gen::NetlistOptions options,
                                    const std::vector<double>& eps_levels) {
  const auto wall_start = std::chrono::steady_clock::now();
  if (options.noise_variance != 0.0) {
    throw InputError(fmt::format(
        "{}: relaxation is measured without noise (expected 0)",
        tkfac::options::flag_of(netlist_gen::netlist_option_table(), "noise_variance")));
  }
  const Eigen::Index n = m.rows();
  Eigen::VectorXd b = b_in;
  if (b.size() == 0) {
    // Equal weight on every mode is not needed; a fixed vector with all entries nonzero is.
    b = Eigen::VectorXd::LinSpaced(n, 1.0, 2.0);
    for (Eigen::Index i = 1; i < n; i += 2) b(i) = -b(i);
  }
  double smallest_eps = 1.0;
  for (double e : eps_levels) smallest_eps = std::min(smallest_eps, e);
  // First a netlist for the summary (tau), then the real one with the step cap and run length.
  netlist_gen::Netlist nl = netlist_gen::make_netlist(m, b, options);
  const double tau = nl.summary.predicted_tau;
  if (options.max_step == 0.0) options.max_step = kMaxStepPerTau * tau;
  if (options.sim_time == 0.0) options.target_rel_error = smallest_eps;
  nl = netlist_gen::make_netlist(m, b, options);

  RelaxMeasurement r;
  r.size = static_cast<int>(n);
  r.condition_number = nl.summary.condition_number;
  r.alpha_min = nl.summary.alpha_min;
  // The ideal formula (the netlist plans for the realized tau where that is slower).
  r.tau_predicted = options.resistance * options.capacitance / nl.summary.alpha_min;
  r.eps_levels = eps_levels;

  Eigen::MatrixXd damped = m;
  damped.diagonal().array() += options.damping;
  if (nl.realized_matrix.size() != 0) damped = nl.realized_matrix;  // conductance bits
  const Eigen::MatrixXd m_hat = 0.5 * (damped + damped.transpose()) / nl.summary.matrix_scale;
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(m_hat);
  // The slowest eigenspace: every eigenvalue within kSameRate of alpha_min decays at its rate (a
  // repeated smallest eigenvalue, e.g. kappa = 1, has a whole space of slowest modes; one
  // eigenvector of it would see only part of the slow error).
  const double alpha0 = eig.eigenvalues()(0);
  Eigen::Index slow_dim = 1;
  while (slow_dim < n && eig.eigenvalues()(slow_dim) <= alpha0 * (1.0 + kSameRate)) ++slow_dim;
  const Eigen::MatrixXd q = eig.eigenvectors().leftCols(slow_dim);
  // The realized circuit's equilibrium and slowest rate, from its own elements.
  const netlist_gen::CircuitDynamics dyn =
      netlist_gen::linear_dynamics(nl.circuit, netlist_gen::unknown_nodes(nl));
  const Eigen::VectorXd v_eq =
      dyn.output_map * dyn.drift.partialPivLu().solve(dyn.forcing) + dyn.output_offset;
  {
    const Eigen::EigenSolver<Eigen::MatrixXd> rates(dyn.drift, false);
    r.tau_twin = 1.0 / rates.eigenvalues().real().minCoeff();
  }
  const double norm_eq = v_eq.norm();
  const double c0 = (q.transpose() * v_eq).norm();
  r.slow_dimension = static_cast<int>(slow_dim);
  r.slow_share = c0 / norm_eq;
  // The fit needs kMinFitDecades of decay above the round-off floor; with less the slope is
  // the round-off's, not the circuit's.
  if (!(r.slow_share >= kRoundOff * std::pow(10.0, kMinFitDecades))) {
    throw InputError(fmt::format(
        "--rhs: the right-hand side's share of the slowest mode is {:.3g} of M^-1 b (|Q_min^T "
        "M^-1 b| / |M^-1 b|, {} slowest mode{}); its decay cannot be fitted above the "
        "simulator's round-off ({:.0e} relative) over {} decades (expected a share >= {:.0e}; "
        "add a component along the slowest eigenvector to b)",
        r.slow_share, slow_dim, slow_dim == 1 ? "" : "s", kRoundOff, kMinFitDecades,
        kRoundOff * std::pow(10.0, kMinFitDecades)));
  }

  // Stream: least-squares sums of (t, log|c|) over the tail, and the first crossing of each eps.
  const double fit_from = kFitStartTaus * tau;
  const double floor = std::max(c0 * std::pow(10.0, -kFitDecades), kRoundOff * norm_eq);
  double s1 = 0, st = 0, sy = 0, stt = 0, sty = 0;
  double t_first = std::numeric_limits<double>::quiet_NaN(), t_last = 0.0;
  r.time_to_eps.assign(eps_levels.size(), std::numeric_limits<double>::quiet_NaN());
  double t_prev = 0.0, e_prev = 1.0;  // cold start: relative error 1 at t = 0
  RunOptions ro;
  ro.nodes = netlist_gen::unknown_nodes(nl);  // node voltages by unknown index
  ro.observer = [&](double t, const Eigen::VectorXd& v) {
    const Eigen::VectorXd d = v - v_eq;
    const double c = (q.transpose() * d).norm();
    if (t >= fit_from && c > floor) {
      const double y = std::log(c);
      s1 += 1;
      st += t;
      sy += y;
      stt += t * t;
      sty += t * y;
      if (std::isnan(t_first)) t_first = t;
      t_last = t;
    }
    const double e = d.norm() / norm_eq;
    for (std::size_t k = 0; k < eps_levels.size(); ++k) {
      if (std::isnan(r.time_to_eps[k]) && e <= eps_levels[k]) {
        // Log-linear interpolation between the two points around the crossing.
        const double le = std::log(eps_levels[k]);
        const double w =
            e_prev > e ? (std::log(e_prev) - le) / (std::log(e_prev) - std::log(e)) : 1.0;
        r.time_to_eps[k] = t_prev + w * (t - t_prev);
      }
    }
    t_prev = t;
    e_prev = e;
  };
  check_spice_work(nl, 1, fmt::format("relax run (n = {})", n));
  const CircuitGuard guard(session);
  session.load(netlist_gen::to_spice(nl));
  const RunResult run = session.run(ro);
  r.analog_seconds = run.final_time;
  r.accepted_points = run.accepted_points;
  r.fit_points = static_cast<long>(s1);
  r.fit_start = t_first;
  r.fit_end = t_last;
  if (s1 >= 3) {
    const double slope = (s1 * sty - st * sy) / (s1 * stt - st * st);
    r.tau_measured = -1.0 / slope;
  } else {
    r.tau_measured = std::numeric_limits<double>::quiet_NaN();
  }
  r.matrix_scale = nl.summary.matrix_scale;
  const double w = r.slow_share;
  for (double e : eps_levels) {
    r.time_bound.push_back(tau * std::log(1.0 / e));
    // With w <= eps the slow modes are below eps from the start and the prediction says
    // nothing (it would be a negative time).
    r.time_refined.push_back(w > e ? tau * std::log(w / e)
                                   : std::numeric_limits<double>::quiet_NaN());
  }
  r.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  return r;
}

}  // namespace tkfac::cosim
