#include "circuit_engine.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "tkfac/core/error.hpp"
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
