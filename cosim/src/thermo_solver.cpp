// Thermodynamic solves: the `ou` backend (exact Ornstein-Uhlenbeck twin) and the `spice`
// backend when it is noisy, run for a finite analog time or warm-started. Both produce samples
// on the same grid (multiples of the noise sample time) and feed the same estimators.
#include "thermo_solver.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>

#include "tkfac/core/error.hpp"
#include "tkfac/cosim/estimators.hpp"
#include "tkfac/cosim/ou_process.hpp"
#include "tkfac/cosim/sampling.hpp"
#include "tkfac/netlist_gen/activation.hpp"
#include "tkfac/netlist_gen/netlist.hpp"

namespace tkfac::cosim {
namespace {

using Clock = std::chrono::steady_clock;
using Sink = std::function<void(double, const Eigen::VectorXd&)>;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A seed per run, so the columns of one solve get independent noise.
unsigned run_seed(unsigned seed, int run) { return seed + 7919u * static_cast<unsigned>(run); }

// Where the samples come from.
class Engine {
 public:
  virtual ~Engine() = default;
  virtual bool is_spice() const = 0;
  // Simulates from x0 for `steps` intervals and calls sink(t, x) at t = k * interval, k >= 1.
  virtual void run(const System& sys, const Eigen::VectorXd& b,
                   netlist_gen::NetlistOptions options, const ThermoModel& model,
                   const Eigen::VectorXd& x0, double interval, long steps, int run_index,
                   const Sink& sink, double& analog_seconds) = 0;
};

class OuEngine final : public Engine {
 public:
  explicit OuEngine(NoiseShape shape) : shape_(shape) {}
  bool is_spice() const override { return false; }
  void run(const System&, const Eigen::VectorXd&, netlist_gen::NetlistOptions options,
           const ThermoModel& model, const Eigen::VectorXd& x0, double interval, long steps,
           int run_index, const Sink& sink, double& analog_seconds) override {
    OuProcess ou(model, shape_, run_seed(options.noise_seed, run_index));
    ou.run(x0, interval, steps, sink);
    analog_seconds = interval * static_cast<double>(steps);
  }

 private:
  NoiseShape shape_;
};

class SpiceEngine final : public Engine {
 public:
  bool is_spice() const override { return true; }
  void run(const System& sys, const Eigen::VectorXd& b, netlist_gen::NetlistOptions options,
           const ThermoModel& /*model*/, const Eigen::VectorXd& x0, double interval, long steps,
           int run_index, const Sink& sink, double& analog_seconds) override {
    if (!session_) session_ = shared_session();
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
    GridSampler grid(interval, interval, [&](double t, const Eigen::VectorXd& v) {
      const long k = std::lround(t / interval);
      if (k < 1 || k > steps) return;
      sink(t, netlist_gen::read_out(nl, v));
    });
    ro.observer = [&](double t, const Eigen::VectorXd& v) { grid.add(t, v); };
    const CircuitGuard guard(*session_);
    session_->load(netlist_gen::to_spice(nl));
    const RunResult r = session_->run(ro);
    analog_seconds = r.final_time;
    if (grid.emitted() < steps) {
      throw SimulationError(
          fmt::format("ngspice ended at {} s, before the last sample at {} s ({} of {} samples)",
                      r.final_time, total, grid.emitted(), steps));
    }
  }

 private:
  std::shared_ptr<Session> session_;
};

struct Plan {
  double interval = 0.0;
  double burn_in = 0.0;  // first_index * interval
  double window = 0.0;   // samples * interval
  long first_index = 0;  // samples k > first_index are kept
  long samples = 0;
};

double auto_window(const ThermoModel& model, const ThermoOptions& t) {
  if (t.target_standard_error > 0.0) {
    // N_eff,k ~ W alpha_k / (2 tau0): Var(mean x_i) ~ sum_k Q_ik^2 v_k 2 tau0 / (W alpha_k).
    const Eigen::VectorXd v = model.mode_variances_x(NoiseShape::white);
    double worst = 0.0;
    for (Eigen::Index i = 0; i < model.alpha.size(); ++i) {
      double s = 0.0;
      for (Eigen::Index k = 0; k < model.alpha.size(); ++k) {
        s += model.modes(i, k) * model.modes(i, k) * v(k) / model.alpha(k);
      }
      worst = std::max(worst, s);
    }
    return 2.0 * model.tau0 * worst / (t.target_standard_error * t.target_standard_error);
  }
  return 100.0 * model.predicted_tau();
}

Plan make_plan(const ThermoModel& model, const ThermoOptions& t,
               const netlist_gen::NetlistOptions& o) {
  Plan p;
  p.interval = model.noise_sample_time;
  const double burn =
      t.burn_in >= 0.0 ? t.burn_in : model.predicted_tau() * std::log(1.0 / o.target_rel_error);
  double window = t.window;
  if (o.sim_time > 0.0) {
    if (burn >= o.sim_time) {
      throw InputError(fmt::format(
          "--burn-in: {:g} s is not shorter than the run (--sim-time {:g} s); expected a burn-in "
          "that leaves a window to average",
          burn, o.sim_time));
    }
    if (window == 0.0) window = o.sim_time - burn;
    if (burn + window > o.sim_time * (1.0 + 1e-12)) {
      throw InputError(fmt::format(
          "--window: burn-in {:g} s + window {:g} s exceeds the run (--sim-time {:g} s)", burn,
          window, o.sim_time));
    }
  } else if (window == 0.0) {
    window = auto_window(model, t);
  }
  p.first_index = static_cast<long>(std::ceil(burn / p.interval - 1e-9));
  const double n = std::floor(window / p.interval + 1e-9);
  if (n < 1.0) {
    throw InputError(fmt::format(
        "--window: {:g} s holds zero samples (one every {:g} s, the noise sample time); expected "
        "a window of at least one sample",
        window, p.interval));
  }
  if (n + static_cast<double>(p.first_index) > 2e9) {
    throw InputError(
        fmt::format("--window: {:g} s is {:g} samples of {:g} s, too many", window, n, p.interval));
  }
  p.samples = static_cast<long>(n);
  p.burn_in = static_cast<double>(p.first_index) * p.interval;
  p.window = static_cast<double>(p.samples) * p.interval;
  return p;
}

void check_matrix(const Eigen::MatrixXd& m, const Eigen::MatrixXd& b, double damping) {
  netlist_gen::validate_spd(m, damping, "matrix");
  if (b.rows() != m.rows()) {
    throw InputError(fmt::format("right-hand side: has {} rows, expected {} (the matrix size)",
                                 b.rows(), m.rows()));
  }
  if (!b.allFinite()) throw InputError("right-hand side: contains NaN or Inf");
}

class ThermoSolver final : public LinearSolver {
 public:
  explicit ThermoSolver(const SolverOptions& o) : options_(o) {
    if (o.backend == "ou") {
      engine_ = std::make_unique<OuEngine>(o.thermo.noise_shape);
    } else {
      engine_ = std::make_unique<SpiceEngine>();
    }
  }
  std::string_view name() const override { return engine_->is_spice() ? "spice" : "ou"; }

  Solution solve(const Eigen::MatrixXd& m, const Eigen::MatrixXd& b, double damping) override {
    return solve_system(System{m, {}}, b, damping);
  }
  Solution inverse(const Eigen::MatrixXd& m, double damping) override {
    return inverse_system(System{m, {}}, damping);
  }
  Solution solve_activations(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b,
                             double damping) override {
    return solve_system(System::of_activations(a, damping, options_.netlist), b, damping);
  }
  Solution inverse_activations(const Eigen::MatrixXd& a, double damping) override {
    return inverse_system(System::of_activations(a, damping, options_.netlist), damping);
  }

 private:
  Solution solve_system(const System& sys, const Eigen::MatrixXd& b, double damping) {
    const auto start = Clock::now();
    const Eigen::MatrixXd& m = sys.m;
    const netlist_gen::NetlistOptions opt = prepare(m, b, damping);
    const ThermoOptions& t = options_.thermo;
    const bool noisy = opt.noise_variance > 0.0;
    Solution s{Eigen::MatrixXd::Zero(b.rows(), b.cols()), {}};
    s.report.backend = std::string(name());
    s.report.standard_errors = Eigen::MatrixXd::Zero(b.rows(), b.cols());
    for (Eigen::Index c = 0; c < b.cols(); ++c) {
      const Eigen::VectorXd bc = b.col(c);
      const ThermoModel model = sys.model(bc, opt);
      s.report.predicted_tau = model.predicted_tau();
      const Eigen::VectorXd x0 = start_state(m.rows());
      double analog = 0.0;
      if (t.analog_time > 0.0 || !noisy) {
        // Finite analog time: the state at T (noiseless: the deterministic relaxation).
        const double total = t.analog_time > 0.0
                                 ? t.analog_time * model.tau0
                                 : (opt.sim_time > 0 ? opt.sim_time : model.default_sim_time);
        if (!noisy && !engine_->is_spice()) {
          s.x.col(c) = model.mean_at(total, x0);
          analog = total;
        } else {
          // Noisy held noise (spice, ou held) needs whole noise samples; otherwise one step.
          const bool held = noisy && (engine_->is_spice() || t.noise_shape == NoiseShape::held);
          const long steps = held ? std::max(1L, std::lround(total / model.noise_sample_time)) : 1;
          const double interval = held ? model.noise_sample_time : total;
          Eigen::VectorXd last = x0;
          engine_->run(
              sys, bc, opt, model, x0, interval, steps, static_cast<int>(c),
              [&](double, const Eigen::VectorXd& x) { last = x; }, analog);
          s.x.col(c) = last;
        }
        s.report.estimator = "final state";
        s.report.method = fmt::format("state at analog time {:.4g} s ({:.4g} R C) from a {} start",
                                      total, total / model.tau0, t.start);
      } else {
        const Plan p = make_plan(model, t, opt);
        SampleAccumulator acc;
        engine_->run(
            sys, bc, opt, model, x0, p.interval, p.first_index + p.samples, static_cast<int>(c),
            [&](double time, const Eigen::VectorXd& x) {
              if (std::lround(time / p.interval) > p.first_index) acc.add(x);
            },
            analog);
        s.x.col(c) = acc.mean();
        const Eigen::VectorXd v = sample_mode_variances(model, acc.covariance());
        s.report.standard_errors.col(c) = mean_standard_errors(model, acc.count(), p.interval, v);
        fill(s.report, model, p, acc.count());
        s.report.estimator = "mean";
        s.report.method = fmt::format(
            "{}: mean over the window after burn-in, beta^-1 = {:g}, seed {}",
            engine_->is_spice() ? fmt::format("{} circuit", netlist_gen::to_string(opt.encoding))
                                : "exact OU twin",
            opt.noise_variance, opt.noise_seed);
      }
      s.report.analog_seconds += analog;
      ++s.report.iterations;
    }
    s.report.standard_error =
        s.report.standard_errors.size() ? s.report.standard_errors.maxCoeff() : 0.0;
    s.report.wall_seconds = seconds_since(start);
    return s;
  }

  Solution inverse_system(const System& sys, double damping) {
    const auto start = Clock::now();
    const Eigen::MatrixXd& m = sys.m;
    const Eigen::Index n = m.rows();
    const netlist_gen::NetlistOptions opt = prepare(m, Eigen::MatrixXd::Zero(n, 1), damping);
    const ThermoOptions& t = options_.thermo;
    const bool noisy = opt.noise_variance > 0.0;
    std::string method = t.inverse_method;
    if (method == "auto") method = noisy ? "covariance" : "unit_rhs";
    if (method == "unit_rhs") {
      Solution s = solve_system(sys, Eigen::MatrixXd::Identity(n, n), damping);
      s.report.method = "unit right-hand sides; " + s.report.method;
      s.report.wall_seconds = seconds_since(start);
      return s;
    }
    if (!noisy) {
      throw InputError(
          "--noise-variance: the covariance inverse needs noise (beta^-1 > 0); expected a "
          "positive noise variance, or --inverse-method unit_rhs");
    }
    if (t.analog_time > 0.0) {
      throw InputError("--analog-time: the covariance inverse needs a window, not a finite time");
    }
    const ThermoModel model = sys.model(Eigen::VectorXd(), opt);
    const Plan p = make_plan(model, t, opt);
    SampleAccumulator acc;
    double analog = 0.0;
    engine_->run(
        sys, Eigen::VectorXd(), opt, model, start_state(n), p.interval,
        p.first_index + p.samples, 0,
        [&](double time, const Eigen::VectorXd& x) {
          if (std::lround(time / p.interval) > p.first_index) acc.add(x);
        },
        analog);
    // Held noise (the circuit's) lowers mode k's variance at the sample times by f_k (see
    // ThermoModel::variance_factor); undo it in the mode basis: S' = Q F^-1/2 Q^T S Q F^-1/2 Q^T.
    const NoiseShape shape = engine_->is_spice() ? NoiseShape::held : t.noise_shape;
    Eigen::VectorXd f(n);
    for (Eigen::Index k = 0; k < n; ++k) f(k) = 1.0 / std::sqrt(model.variance_factor(k, shape));
    const Eigen::MatrixXd correction = model.modes * f.asDiagonal() * model.modes.transpose();
    const Eigen::MatrixXd cov = correction * acc.covariance() * correction;
    Solution s{cov / opt.noise_variance, {}};
    s.report.backend = std::string(name());
    s.report.predicted_tau = model.predicted_tau();
    s.report.analog_seconds = analog;
    s.report.iterations = 1;
    fill(s.report, model, p, acc.count());
    s.report.standard_errors = covariance_standard_errors(model, acc.count(), p.interval,
                                                          sample_mode_variances(model, cov)) /
                               opt.noise_variance;
    s.report.standard_error = s.report.standard_errors.maxCoeff();
    s.report.estimator = "covariance";
    s.report.method = fmt::format(
        "sample covariance / beta^-1 ({}, beta^-1 = {:g}, seed {}{})",
        engine_->is_spice() ? fmt::format("{} circuit", netlist_gen::to_string(opt.encoding))
                            : "exact OU twin",
        opt.noise_variance, opt.noise_seed,
        shape == NoiseShape::held ? ", held-noise variance factor undone per mode" : "");
    s.report.wall_seconds = seconds_since(start);
    return s;
  }

  netlist_gen::NetlistOptions prepare(const Eigen::MatrixXd& m, const Eigen::MatrixXd& b,
                                      double damping) const {
    netlist_gen::NetlistOptions opt = options_.netlist;
    opt.damping = damping;
    opt.validate();
    options_.thermo.validate();
    check_matrix(m, b, damping);
    if (options_.thermo.start == "warm" && options_.thermo.warm_start.size() != m.rows()) {
      throw InputError(fmt::format("--warm-start: has {} entries, expected {} (the matrix size)",
                                   options_.thermo.warm_start.size(), m.rows()));
    }
    return opt;
  }

  Eigen::VectorXd start_state(Eigen::Index n) const {
    return options_.thermo.start == "warm" ? options_.thermo.warm_start
                                           : Eigen::VectorXd(Eigen::VectorXd::Zero(n));
  }

  static void fill(SolveReport& r, const ThermoModel& model, const Plan& p, long count) {
    r.burn_in_seconds = p.burn_in;
    r.window_seconds = p.window;
    r.sample_interval = p.interval;
    r.samples = count;
    r.effective_samples = effective_samples(model, count, p.interval).minCoeff();
  }

  SolverOptions options_;
  std::unique_ptr<Engine> engine_;
};

}  // namespace

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

ThermoModel System::model(const Eigen::VectorXd& b,
                          const netlist_gen::NetlistOptions& options) const {
  if (a.size() == 0) return make_thermo_model(m, b, options);
  // The activation netlist's own scales and noise sample time, so that the twin's sample grid
  // is the circuit's to the last bit.
  return make_thermo_model(netlist(b, options).summary, m, b, options.damping);
}

SampleSet sample_unknowns(const SolverOptions& options, const Eigen::MatrixXd& m,
                          const Eigen::VectorXd& b, double damping) {
  const auto start = Clock::now();
  if (options.backend != "ou" && options.backend != "spice") {
    throw InputError(
        fmt::format("--backend: '{}' cannot sample; expected spice or ou", options.backend));
  }
  netlist_gen::NetlistOptions opt = options.netlist;
  opt.damping = damping;
  opt.validate();
  options.thermo.validate();
  if (!(opt.noise_variance > 0.0)) {
    throw InputError(fmt::format(
        "--noise-variance: {} is not > 0; sampling needs noise (beta^-1 > 0)", opt.noise_variance));
  }
  check_matrix(m, b.size() == 0 ? Eigen::MatrixXd::Zero(m.rows(), 1) : Eigen::MatrixXd(b), damping);
  const ThermoOptions& t = options.thermo;
  if (t.start == "warm" && t.warm_start.size() != m.rows()) {
    throw InputError(fmt::format("--warm-start: has {} entries, expected {} (the matrix size)",
                                 t.warm_start.size(), m.rows()));
  }
  if (t.analog_time > 0.0) {
    throw InputError("--analog-time: sampling needs a window, not a finite time");
  }
  std::unique_ptr<Engine> engine;
  if (options.backend == "ou") {
    engine = std::make_unique<OuEngine>(t.noise_shape);
  } else {
    engine = std::make_unique<SpiceEngine>();
  }
  SampleSet set;
  set.model = make_thermo_model(m, b, opt);
  set.shape = engine->is_spice() ? NoiseShape::held : t.noise_shape;
  const Plan p = make_plan(set.model, t, opt);
  set.times.resize(p.samples);
  set.samples.resize(p.samples, m.rows());
  long k = 0;
  const Eigen::VectorXd x0 =
      t.start == "warm" ? t.warm_start : Eigen::VectorXd(Eigen::VectorXd::Zero(m.rows()));
  double analog = 0.0;
  engine->run(
      System{m, {}}, b, opt, set.model, x0, p.interval, p.first_index + p.samples, 0,
      [&](double time, const Eigen::VectorXd& x) {
        if (std::lround(time / p.interval) > p.first_index && k < p.samples) {
          set.times(k) = time;
          set.samples.row(k) = x.transpose();
          ++k;
        }
      },
      analog);
  set.report.backend = options.backend;
  set.report.estimator = "samples";
  set.report.analog_seconds = analog;
  set.report.predicted_tau = set.model.predicted_tau();
  set.report.iterations = 1;
  set.report.burn_in_seconds = p.burn_in;
  set.report.window_seconds = p.window;
  set.report.sample_interval = p.interval;
  set.report.samples = k;
  set.report.effective_samples = effective_samples(set.model, k, p.interval).minCoeff();
  SampleAccumulator acc;
  for (long i = 0; i < k; ++i) acc.add(set.samples.row(i).transpose());
  set.report.standard_errors = mean_standard_errors(
      set.model, k, p.interval, sample_mode_variances(set.model, acc.covariance()));
  set.report.standard_error = set.report.standard_errors.maxCoeff();
  set.report.wall_seconds = seconds_since(start);
  return set;
}

bool uses_thermo(const SolverOptions& o) {
  return o.backend == "spice" &&
         (o.netlist.noise_variance > 0.0 || o.thermo.analog_time > 0.0 || o.thermo.start == "warm");
}

std::unique_ptr<LinearSolver> make_thermo_solver(const SolverOptions& options) {
  return std::make_unique<ThermoSolver>(options);
}

}  // namespace tkfac::cosim
