#include "circuit_engine.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "tkfac/core/error.hpp"
#include "tkfac/core/work_budget.hpp"
#include "tkfac/cosim/estimators.hpp"
#include "tkfac/cosim/ou_process.hpp"
#include "tkfac/netlist_gen/activation.hpp"

namespace tkfac::cosim {

// ngspice allows one instance per process: every spice solver alive shares one Session, created
// on first use and destroyed with the last solver.
std::shared_ptr<Session> shared_session() {
  static std::weak_ptr<Session> current;
  std::shared_ptr<Session> s = current.lock();
  if (!s) {
    s = std::make_shared<Session>();
    current = s;
  }
  return s;
}

void check_spice_work(const netlist_gen::Netlist& nl, long runs, const std::string& what) {
  const double n = nl.summary.size;
  const double stop = nl.tran_stop;
  // ngspice's largest step: TMAX, else min(TSTEP, TSTOP / 50); ~20 points to start a run.
  const double h = nl.tran_max_step > 0.0 ? nl.tran_max_step : std::min(nl.tran_step, stop / 50.0);
  double steps = (h > 0.0 ? stop / h : 0.0) + 20.0;
  std::string how = fmt::format("TSTOP {:.3g} s / step {:.3g} s", stop, h);
  // With noise the step restarts small at every NT breakpoint: ~22 points per NT (section 9).
  if (const double nt = nl.summary.noise_sample_time; nt > 0.0 && 20.0 * stop / nt > steps) {
    steps = 20.0 * stop / nt;
    how = fmt::format("20 points per noise sample time {:.3g} s over {:.3g} s", nt, stop);
  }
  // Above ~1e11 ohm the currents fall below ngspice's absolute tolerances and it takes more,
  // smaller steps: measured noiseless on n = 3, 2x at 1e12, 7x at 1e13, 240x at 1e15 ohm; with
  // noise it grows as R from ~1e10 on (n = 2, beta^-1 = 1e-3: 7.4x at 1e11, 68x at 1e12, 672x at
  // 1e13 the steps at 1 kOhm), so a noisy run at 1e15 ohm took over 11 minutes unannounced.
  const double r = nl.summary.resistance;
  const double slower = nl.summary.noise_sample_time > 0.0 ? std::max(1.0, r / 1.35e10)
                        : r > 1e11                         ? std::pow(r / 1e11, 0.6)
                                                           : 1.0;
  if (slower > 1.0) {
    steps *= slower;
    how += fmt::format(", x {:.3g} for R = {:.3g} ohm", slower, r);
  }
  steps *= static_cast<double>(std::max(1L, runs));
  if (runs > 1) how += fmt::format(", {} runs", runs);
  // A step is two sparse LU factorizations of the dense n x n system (no KLU in 39.3), measured
  // on the 2-core VM at ~15 ms for n = 100 and ~0.17 s for n = 200 (final-state solves of ~41
  // steps): ~200 n^3 operations at the digital kernels' speed.
  const double cost = 200.0 * n * n * n + 1e5;
  // ngspice holds ~1 KB per element (instance, matrix entries), ~n^2 + 4n elements; n = 1000
  // took 1 GB.
  const double bytes = (n * n + 4.0 * n) * 1200.0;
  check_work({what, steps, cost, bytes, how});
}

void check_ou_work(Eigen::Index n, double steps, const std::string& what) {
  const double d = static_cast<double>(n);
  // A step is a matrix-vector product with phi and one with the noise factor.
  check_work({what, steps, 4.0 * d * d + 1e2, 16.0 * d * d * 8.0,
              fmt::format("{:.3g} exact steps of size {}", steps, n)});
}

unsigned run_seed(unsigned seed, int run) { return seed + 7919u * static_cast<unsigned>(run); }

System System::of_activations(const Eigen::MatrixXd& a, double damping,
                              const netlist_gen::NetlistOptions& options) {
  netlist_gen::validate_activations(a, damping, "activations");
  System sys{netlist_gen::activation_matrix(a), {}};
  if (options.encoding == netlist_gen::Encoding::activation) sys.a = a;
  return sys;
}

netlist_gen::Netlist System::netlist(const Eigen::VectorXd& b,
                                     const netlist_gen::NetlistOptions& options) const {
  return a.size() != 0 ? netlist_gen::make_activation_netlist(a, b, options)
                       : netlist_gen::make_netlist(m, b, options);
}

ThermoModel System::model(const Eigen::VectorXd& b, const netlist_gen::NetlistOptions& options,
                          CircuitView view) const {
  if (a.size() == 0) return make_thermo_model(m, b, options, view);
  // The activation netlist's own scales, noise sample time and elements, so that the twin's
  // sample grid is the circuit's to the last bit and its dynamics are the array circuit's.
  return make_thermo_model(netlist(b, options), m, b, options.damping, view);
}

void OuEngine::run(const System&, const Eigen::VectorXd&, netlist_gen::NetlistOptions options,
                   const ThermoModel& model, const Eigen::VectorXd& x0, double interval, long steps,
                   int run_index, const Sink& sink, double& analog_seconds) {
  check_ou_work(model.m_hat.rows(), static_cast<double>(steps), "ou run");
  OuProcess ou(model, shape_, run_seed(options.noise_seed, run_index));
  if (model.adc.ideal()) {
    ou.run(x0, interval, steps, sink);
  } else {
    Eigen::VectorXd volts;
    ou.run(x0, interval, steps, [&](double t, const Eigen::VectorXd& x) {
      volts = x / model.scale;
      read_adc(model.adc, volts);
      sink(t, model.scale * volts);
    });
  }
  analog_seconds = interval * static_cast<double>(steps);
  simulator_steps_ += steps;
}

Session& SpiceEngine::session() {
  if (!session_) session_ = shared_session();
  return *session_;
}

void SpiceEngine::run(const System& sys, const Eigen::VectorXd& b,
                      netlist_gen::NetlistOptions options, const ThermoModel& /*model*/,
                      const Eigen::VectorXd& x0, double interval, long steps, int run_index,
                      const Sink& sink, double& analog_seconds) {
  Session& spice = session();
  const double total = interval * static_cast<double>(steps);
  // A little past the last sample: ngspice may stop a hair short of TSTOP.
  options.sim_time = total + std::min(0.5 * interval, 0.01 * total);
  options.noise_seed = run_seed(options.noise_seed, run_index);
  if (x0.size() != 0 && x0.cwiseAbs().maxCoeff() > 0.0) options.initial_state = x0;
  // Noiseless finite-time runs: the state at T is the answer, so follow every mode closely;
  // 1/200 of the run (Gear-2's rate error is ~ (h alpha / tau0)^2 / 12 per mode).
  if (options.noise_variance == 0.0 && options.max_step == 0.0) {
    options.max_step = total / 200.0;
  }
  const netlist_gen::Netlist nl = sys.netlist(b, options);
  check_spice_work(nl, 1, fmt::format("spice run (n = {})", nl.summary.size));
  RunOptions ro;
  ro.nodes = netlist_gen::unknown_nodes(nl);
  const netlist_gen::Converter adc{nl.summary.adc_bits, nl.summary.adc_full_scale};
  Eigen::VectorXd volts;
  GridSampler grid(interval, interval, [&](double t, const Eigen::VectorXd& v) {
    const long k = std::lround(t / interval);
    if (k < 1 || k > steps) return;
    volts = v;
    read_adc(adc, volts);
    sink(t, netlist_gen::read_out(nl, volts));
  });
  ro.observer = [&](double t, const Eigen::VectorXd& v) { grid.add(t, v); };
  const CircuitGuard guard(spice);
  spice.load(netlist_gen::to_spice(nl));
  const RunResult r = spice.run(ro);
  analog_seconds = r.final_time;
  simulator_steps_ += r.accepted_points;
  if (grid.emitted() < steps) {
    throw SimulationError(
        fmt::format("ngspice ended at {} s, before the last sample at {} s ({} of {} samples)",
                    r.final_time, total, grid.emitted(), steps));
  }
}

}  // namespace tkfac::cosim
