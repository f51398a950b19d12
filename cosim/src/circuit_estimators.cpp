#include "circuit_estimators.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "tkfac/core/error.hpp"
#include "tkfac/cosim/estimators.hpp"
#include "tkfac/netlist_gen/netlist.hpp"

namespace tkfac::cosim {
namespace {

using Clock = std::chrono::steady_clock;
using solver::NoiseShape;
using solver::Solution;
using solver::SolveReport;
using solver::ThermoOptions;

// The flags messages name, from the option tables (each flag is written once, in its table).
const std::string& netlist_flag(const std::string& field) {
  return tkfac::options::flag_of(netlist_gen::netlist_option_table(), field);
}
const std::string& thermo_flag(const std::string& field) {
  return tkfac::options::flag_of(solver::thermo_option_table(), field);
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double auto_window(const ThermoModel& model, const ThermoOptions& t, double interval,
                   Estimate estimate) {
  if (estimate == Estimate::mean && t.target_standard_error > 0.0) {
    // N_eff,k ~ W alpha_k / (2 tau0): Var(mean x_i) ~ sum_k Q_ik^2 v_k 2 tau0 / (W alpha_k), with
    // the white variances v_k: held noise lowers a fast mode's variance at the sample times
    // but not the mean's, whose variance is set by the noise density at low frequencies.
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
  if (estimate == Estimate::covariance && t.inverse_precision > 0.0) {
    return covariance_window(model, interval, t.inverse_precision);
  }
  return 100.0 * model.predicted_tau();
}

void fill(SolveReport& r, const ThermoModel& model, const Plan& p, long count) {
  r.burn_in_seconds = p.burn_in;
  r.window_seconds = p.window;
  r.sample_interval = p.interval;
  r.samples = count;
  r.effective_samples = effective_samples(model, count, p.interval).minCoeff();
}

// A run's share done, told at about every 1% of its `steps` samples (k the sample's index):
// cheap next to a sample's simulation.
void sample_progress(solver::RunProgress& progress, long k, long steps) {
  const long every = std::max(1L, steps / 100);
  if (k % every == 0 && k < steps) {
    progress.run_under_way(static_cast<double>(k) / static_cast<double>(steps));
  }
}

// How NT was chosen, for the reports.
std::string nt_rule(const netlist_gen::NetlistOptions& opt) {
  return opt.noise_sample_time > 0.0 ? " (given)"
                                     : fmt::format(" (follows the {} mode)", opt.noise_follows);
}

std::string source_name(const Engine& engine, const netlist_gen::NetlistOptions& opt) {
  return engine.is_spice() ? fmt::format("{} circuit", netlist_gen::to_string(opt.encoding))
                           : "exact OU twin";
}

// Final state, noiseless and cold: the netlist run to its simulated time from a cold start; the
// final node voltages, times the netlist's scales, are the solution. Several right-hand sides:
// the circuit is parsed once and, before each further run, only the input sources change
// (`alter`); see bench/solve_overhead for why that beats re-parsing.
class FinalState final : public SolveEstimator {
 public:
  FinalState(const CircuitBackend& backend, SpiceEngine& engine)
      : backend_(backend), engine_(engine) {}

  Solution solve(const System& sys, const Eigen::MatrixXd& b, double damping) override {
    const auto start = Clock::now();
    const Eigen::MatrixXd& m = sys.m;
    netlist_gen::NetlistOptions opt = backend_.options.netlist;
    opt.damping = damping;
    opt.validate();
    solver::check_system(m, b, damping);
    if (b.cols() == 0) {
      Solution none;
      none.x = Eigen::MatrixXd(m.rows(), 0);
      none.report.backend = backend_.name;
      return none;
    }
    Session& session = engine_.session();

    Solution s{Eigen::MatrixXd::Zero(b.rows(), b.cols()), {}};
    s.report.backend = backend_.name;
    s.report.method = fmt::format(
        "{} encoding; one parse, inputs altered per right-hand side; steps of 3/4 tau",
        netlist_gen::to_string(opt.encoding));

    netlist_gen::Netlist nl = sys.netlist(b.col(0), opt);
    netlist_gen::plan_final_state(opt, nl);  // only the last point is read
    check_spice_work(nl, static_cast<long>(b.cols()),
                     fmt::format("spice solve (n = {}, {} right-hand side(s))", m.rows(), b.cols()));
    s.report.predicted_tau = nl.summary.predicted_tau;
    RunOptions run;
    run.nodes = netlist_gen::unknown_nodes(nl);

    {  // the circuit is removed at the end of this block, inside the measured wall time
      const CircuitGuard guard(session);
      session.load(netlist_gen::to_spice(nl));
      for (Eigen::Index c = 0; c < b.cols(); ++c) {
        Eigen::VectorXd scales;  // for c > 0: those of column c's input scaling
        if (c > 0) {
          const auto values = netlist_gen::input_values(nl, b.col(c), opt);
          for (const auto& [element, value] : values.sources) session.alter_dc(element, value);
          scales = values.unknown_scales;
        }
        const RunResult r = session.run(run);
        s.x.col(c) = c == 0 ? netlist_gen::read_out(nl, r.final_values)
                            : netlist_gen::read_out(nl, r.final_values, scales);
        s.report.analog_seconds += r.final_time;
        s.report.run_analog_seconds.push_back(r.final_time);
        s.report.simulator_steps += r.accepted_points;
        ++s.report.iterations;
        backend_.progress.run_done();
      }
    }
    s.report.wall_seconds = seconds_since(start);
    return s;
  }
  long runs(Eigen::Index, Eigen::Index columns) const override { return columns; }

 private:
  const CircuitBackend& backend_;
  SpiceEngine& engine_;
};

// One run per right-hand side from the start state (cold or warm); the column estimators below
// say what a run's samples become.
class PerColumn : public SolveEstimator {
 public:
  explicit PerColumn(const CircuitBackend& backend) : backend_(backend) {}

  Solution solve(const System& sys, const Eigen::MatrixXd& b, double damping) final {
    return solve_from(sys, b, damping, Eigen::MatrixXd());
  }
  Solution solve_from(const System& sys, const Eigen::MatrixXd& b, double damping,
                      const Eigen::MatrixXd& starts) final {
    const auto start = Clock::now();
    const Eigen::MatrixXd& m = sys.m;
    const netlist_gen::NetlistOptions opt = prepare_circuit_solve(backend_.options, m, b, damping);
    Solution s{Eigen::MatrixXd::Zero(b.rows(), b.cols()), {}};
    s.report.backend = backend_.name;
    s.report.standard_errors = Eigen::MatrixXd::Zero(b.rows(), b.cols());
    const ThermoOptions& t = backend_.options.thermo;
    const Eigen::VectorXd x0 =
        t.start == "warm" ? t.warm_start : Eigen::VectorXd(Eigen::VectorXd::Zero(m.rows()));
    if (starts.size() != 0 && (starts.rows() != b.rows() || starts.cols() != b.cols())) {
      throw InputError(fmt::format("start: is {} x {}, expected {} x {} (one state per column)",
                                   starts.rows(), starts.cols(), b.rows(), b.cols()));
    }
    if (!starts.allFinite()) throw InputError("start: contains NaN or Inf");
    for (Eigen::Index c = 0; c < b.cols(); ++c) {
      const Eigen::VectorXd bc = b.col(c);
      const ThermoModel model = sys.model(bc, opt, backend_.engine.circuit_view());
      s.report.predicted_tau = model.predicted_tau();
      double analog = 0.0;
      const long steps_before = backend_.engine.simulator_steps();
      column(sys, bc, opt, model, starts.size() != 0 ? Eigen::VectorXd(starts.col(c)) : x0, c, s,
             analog);
      s.report.analog_seconds += analog;
      s.report.run_analog_seconds.push_back(analog);
      s.report.simulator_steps += backend_.engine.simulator_steps() - steps_before;
      ++s.report.iterations;
      backend_.progress.run_done();
    }
    s.report.standard_error =
        s.report.standard_errors.size() ? s.report.standard_errors.maxCoeff() : 0.0;
    s.report.wall_seconds = seconds_since(start);
    return s;
  }
  long runs(Eigen::Index, Eigen::Index columns) const final { return columns; }

 protected:
  // Fills column c of s.x (and of s.report.standard_errors when estimated), the report's
  // estimator and method, and the run's analog time.
  virtual void column(const System& sys, const Eigen::VectorXd& b,
                      const netlist_gen::NetlistOptions& opt, const ThermoModel& model,
                      const Eigen::VectorXd& x0, Eigen::Index c, Solution& s, double& analog) = 0;

  const CircuitBackend& backend_;
};

// Finite analog time: the state at T (noiseless: the deterministic relaxation, which the twin
// computes exactly; noisy: one sample of it).
class FiniteTime final : public PerColumn {
 public:
  using PerColumn::PerColumn;

 protected:
  void column(const System& sys, const Eigen::VectorXd& b, const netlist_gen::NetlistOptions& opt,
              const ThermoModel& model, const Eigen::VectorXd& x0, Eigen::Index c, Solution& s,
              double& analog) override {
    const ThermoOptions& t = backend_.options.thermo;
    Engine& engine = backend_.engine;
    const bool noisy = opt.noise_variance > 0.0;
    const double total = t.analog_time > 0.0
                             ? t.analog_time * model.tau0
                             : (opt.sim_time > 0 ? opt.sim_time : model.default_sim_time);
    if (!noisy && !engine.is_spice()) {
      s.x.col(c) = model.mean_at(total, x0);
      analog = total;
    } else {
      // Noisy held noise (spice, ou held) needs whole noise samples; otherwise one step.
      const bool held = noisy && (engine.is_spice() || t.noise_shape == NoiseShape::held);
      const long steps = held ? std::max(1L, std::lround(total / model.noise_sample_time)) : 1;
      const double interval = held ? model.noise_sample_time : total;
      Eigen::VectorXd last = x0;
      engine.run(
          sys, b, opt, model, x0, interval, steps, static_cast<int>(c),
          [&](double time, const Eigen::VectorXd& x) {
            last = x;
            sample_progress(backend_.progress, std::lround(time / interval), steps);
          },
          analog);
      s.x.col(c) = last;
    }
    s.report.estimator = "final state";
    s.report.method =
        fmt::format("state at analog time {:.4g} s ({:.4g} R C) from a {} start", total,
                    total / model.tau0, x0.cwiseAbs().maxCoeff() > 0.0 ? "warm" : "cold");
  }
};

// Window mean: the mean of a noisy run's samples after the burn-in, with standard errors from
// the mode model (estimators.hpp).
class WindowMean final : public PerColumn {
 public:
  using PerColumn::PerColumn;

 protected:
  void column(const System& sys, const Eigen::VectorXd& b, const netlist_gen::NetlistOptions& opt,
              const ThermoModel& model, const Eigen::VectorXd& x0, Eigen::Index c, Solution& s,
              double& analog) override {
    const Plan p = make_plan(model, backend_.options.thermo, opt, Estimate::mean);
    SampleAccumulator acc;
    backend_.engine.run(
        sys, b, opt, model, x0, p.interval, p.first_index + p.samples, static_cast<int>(c),
        [&](double time, const Eigen::VectorXd& x) {
          const long k = std::lround(time / p.interval);
          if (k > p.first_index) acc.add(x);
          sample_progress(backend_.progress, k, p.first_index + p.samples);
        },
        analog);
    s.x.col(c) = acc.mean();
    // The mode variances the settings imply (held noise: each mode's exact factor), not those
    // of the window's samples: a window of few effective samples underestimates them, and the
    // standard error with them (docs/DESIGN.md section 5).
    const NoiseShape shape =
        backend_.engine.is_spice() ? NoiseShape::held : backend_.options.thermo.noise_shape;
    s.report.standard_errors.col(c) =
        mean_standard_errors(model, acc.count(), p.interval, model.mode_variances_x(shape));
    fill(s.report, model, p, acc.count());
    s.report.estimator = "mean";
    s.report.method = fmt::format(
        "{}: mean over the window after burn-in, beta^-1 = {:g}, seed {}, noise held NT = {:.3g} "
        "tau{}; standard errors from the modes' held-noise variances",
        source_name(backend_.engine, opt), opt.noise_variance, opt.noise_seed,
        model.noise_sample_time / model.predicted_tau(), nt_rule(opt));
  }
};

// The inverse as the solve estimator's answer for the columns of the identity, reported as
// that solve (the noiseless, cold circuit's inverse).
class IdentitySolve final : public InverseEstimator {
 public:
  explicit IdentitySolve(SolveEstimator& solve) : solve_(solve) {}
  Solution inverse(const System& sys, double damping) override {
    return solve_.solve(sys, Eigen::MatrixXd::Identity(sys.m.rows(), sys.m.cols()), damping);
  }
  long runs(Eigen::Index n) const override { return solve_.runs(n, n); }

 private:
  SolveEstimator& solve_;
};

// --inverse-method unit_rhs (and auto without noise): the same, checked first as an inverse and
// reported as one.
class UnitRhs final : public InverseEstimator {
 public:
  UnitRhs(const CircuitBackend& backend, SolveEstimator& solve)
      : backend_(backend), solve_(solve) {}
  Solution inverse(const System& sys, double damping) override {
    return inverse_from(sys, damping, Eigen::MatrixXd());
  }
  Solution inverse_from(const System& sys, double damping, const Eigen::MatrixXd& starts) override {
    const auto start = Clock::now();
    const Eigen::Index n = sys.m.rows();
    prepare_circuit_solve(backend_.options, sys.m, Eigen::MatrixXd::Zero(n, 1), damping);
    Solution s = solve_.solve_from(sys, Eigen::MatrixXd::Identity(n, n), damping, starts);
    s.report.method = "unit right-hand sides; " + s.report.method;
    s.report.wall_seconds = seconds_since(start);
    return s;
  }
  long runs(Eigen::Index n) const override { return solve_.runs(n, n); }

 private:
  const CircuitBackend& backend_;
  SolveEstimator& solve_;
};

// Covariance (Method 1 of the Thermodynamic K-FAC paper): the stationary covariance of the
// noisy circuit is beta^-1 (M + damping I)^-1, so one long run gives the whole inverse.
class Covariance final : public InverseEstimator {
 public:
  explicit Covariance(const CircuitBackend& backend) : backend_(backend) {}
  Solution inverse(const System& sys, double damping) override {
    const auto start = Clock::now();
    const Eigen::MatrixXd& m = sys.m;
    const Eigen::Index n = m.rows();
    const netlist_gen::NetlistOptions opt =
        prepare_circuit_solve(backend_.options, m, Eigen::MatrixXd::Zero(n, 1), damping);
    const ThermoOptions& t = backend_.options.thermo;
    Engine& engine = backend_.engine;
    if (!(opt.noise_variance > 0.0)) {
      throw InputError(
          fmt::format("{}: the covariance inverse needs noise (beta^-1 > 0); expected a "
                      "positive noise variance, or {} unit_rhs",
                      netlist_flag("noise_variance"), thermo_flag("inverse_method")));
    }
    if (t.analog_time > 0.0) {
      throw InputError(fmt::format("{}: the covariance inverse needs a window, not a finite time",
                                   thermo_flag("analog_time")));
    }
    const ThermoModel model = sys.model(Eigen::VectorXd(), opt, backend_.engine.circuit_view());
    const Plan p = make_plan(model, t, opt, Estimate::covariance);
    SampleAccumulator acc;
    double analog = 0.0;
    const long steps_before = engine.simulator_steps();
    const Eigen::VectorXd x0 =
        t.start == "warm" ? t.warm_start : Eigen::VectorXd(Eigen::VectorXd::Zero(n));
    engine.run(
        sys, Eigen::VectorXd(), opt, model, x0, p.interval, p.first_index + p.samples, 0,
        [&](double time, const Eigen::VectorXd& x) {
          const long k = std::lround(time / p.interval);
          if (k > p.first_index) acc.add(x);
          sample_progress(backend_.progress, k, p.first_index + p.samples);
        },
        analog);
    backend_.progress.run_done();
    // Held noise (the circuit's) lowers mode k's variance at the sample times by f_k (see
    // ThermoModel::variance_factor); undo it in the mode basis: S' = Q F^-1/2 Q^T S Q F^-1/2 Q^T.
    const NoiseShape shape = engine.is_spice() ? NoiseShape::held : t.noise_shape;
    Eigen::VectorXd f(n);
    for (Eigen::Index k = 0; k < n; ++k) f(k) = 1.0 / std::sqrt(model.variance_factor(k, shape));
    const Eigen::MatrixXd correction = model.modes * f.asDiagonal() * model.modes.transpose();
    const Eigen::MatrixXd cov = correction * acc.covariance() * correction;
    Solution s{cov / opt.noise_variance, {}};
    s.report.backend = backend_.name;
    s.report.predicted_tau = model.predicted_tau();
    s.report.analog_seconds = analog;
    s.report.run_analog_seconds = {analog};
    s.report.simulator_steps = engine.simulator_steps() - steps_before;
    s.report.iterations = 1;
    fill(s.report, model, p, acc.count());
    // Standard errors from the variances the settings imply (with the held-noise factors divided
    // out, every mode has its white variance).
    s.report.standard_errors =
        covariance_standard_errors(model, acc.count(), p.interval,
                                   model.mode_variances_x(NoiseShape::white)) /
        opt.noise_variance;
    s.report.standard_error = s.report.standard_errors.maxCoeff();
    s.report.estimator = "covariance";
    s.report.method = fmt::format(
        "sample covariance / beta^-1 ({}, beta^-1 = {:g}, seed {}, NT = {:.3g} tau{}{}); "
        "expected relative (Frobenius) error {:.3g}",
        source_name(engine, opt), opt.noise_variance, opt.noise_seed,
        model.noise_sample_time / model.predicted_tau(), nt_rule(opt),
        shape == NoiseShape::held ? ", held-noise variance factor undone per mode" : "",
        covariance_relative_error(model, acc.count(), p.interval));
    s.report.wall_seconds = seconds_since(start);
    return s;
  }
  long runs(Eigen::Index) const override { return 1; }
  bool one_run_per_system() const override { return true; }

 private:
  const CircuitBackend& backend_;
};

}  // namespace

Plan make_plan(const ThermoModel& model, const ThermoOptions& t,
               const netlist_gen::NetlistOptions& o, Estimate estimate) {
  Plan p;
  p.interval = model.noise_sample_time;
  const double burn =
      t.burn_in >= 0.0 ? t.burn_in : model.predicted_tau() * std::log(1.0 / o.target_rel_error);
  double window = t.window;
  if (o.sim_time > 0.0) {
    if (burn >= o.sim_time) {
      throw InputError(
          fmt::format("{}: {:g} s is not shorter than the run ({} {:g} s); expected a burn-in "
                      "that leaves a window to average",
                      thermo_flag("burn_in"), burn, netlist_flag("sim_time"), o.sim_time));
    }
    if (window == 0.0) window = o.sim_time - burn;
    if (burn + window > o.sim_time * (1.0 + 1e-12)) {
      throw InputError(fmt::format("{}: burn-in {:g} s + window {:g} s exceeds the run ({} {:g} s)",
                                   thermo_flag("window"), burn, window, netlist_flag("sim_time"),
                                   o.sim_time));
    }
  } else if (window == 0.0) {
    window = auto_window(model, t, p.interval, estimate);
  }
  p.first_index = static_cast<long>(std::ceil(burn / p.interval - 1e-9));
  const double n = std::floor(window / p.interval + 1e-9);
  if (n < 1.0) {
    throw InputError(fmt::format(
        "{}: {:g} s holds zero samples (one every {:g} s, the noise sample time); expected "
        "a window of at least one sample",
        thermo_flag("window"), window, p.interval));
  }
  if (n + static_cast<double>(p.first_index) > 2e9) {
    throw InputError(fmt::format("{}: {:g} s is {:g} samples of {:g} s, too many",
                                 thermo_flag("window"), window, n, p.interval));
  }
  p.samples = static_cast<long>(n);
  p.burn_in = static_cast<double>(p.first_index) * p.interval;
  p.window = static_cast<double>(p.samples) * p.interval;
  return p;
}

netlist_gen::NetlistOptions prepare_circuit_solve(const solver::SolverOptions& options,
                                                  const Eigen::MatrixXd& m,
                                                  const Eigen::MatrixXd& b, double damping) {
  netlist_gen::NetlistOptions opt = options.netlist;
  opt.damping = damping;
  opt.validate();
  options.thermo.validate();
  solver::check_system(m, b, damping);
  if (options.thermo.start == "warm" && options.thermo.warm_start.size() != m.rows()) {
    throw InputError(fmt::format("--warm-start: has {} entries, expected {} (the matrix size)",
                                 options.thermo.warm_start.size(), m.rows()));
  }
  return opt;
}

Estimators choose_estimators(const CircuitBackend& backend) {
  // Only the circuit has the parse-once, alter-the-inputs final state.
  auto* spice_engine = dynamic_cast<SpiceEngine*>(&backend.engine);
  const solver::SolverOptions& o = backend.options;
  const ThermoOptions& t = o.thermo;
  const bool noisy = o.netlist.noise_variance > 0.0;
  Estimators e;
  if (spice_engine && !noisy && t.analog_time == 0.0 && t.start == "cold") {
    // The plain circuit: its inverse is a solve with the identity, whatever --inverse-method.
    e.solve = std::make_unique<FinalState>(backend, *spice_engine);
    e.inverse = std::make_unique<IdentitySolve>(*e.solve);
    // A column's run starts from a fresh parse or from inputs altered after another column's
    // run alike (measured bit for bit; tests/mpi_test.cpp checks training through it), and its
    // inverse is its solve with the identity.
    e.column_pieces = true;
    return e;
  }
  if (t.analog_time > 0.0 || !noisy) {
    e.solve = std::make_unique<FiniteTime>(backend);
  } else {
    e.solve = std::make_unique<WindowMean>(backend);
  }
  const std::string method =
      t.inverse_method != "auto" ? t.inverse_method : (noisy ? "covariance" : "unit_rhs");
  if (method == "unit_rhs") {
    e.inverse = std::make_unique<UnitRhs>(backend, *e.solve);
  } else {
    e.inverse = std::make_unique<Covariance>(backend);
  }
  return e;
}

}  // namespace tkfac::cosim
