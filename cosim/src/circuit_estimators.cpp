#include "circuit_estimators.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "tkfac/core/numbers.hpp"
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

// DAC inputs of another right-hand side on the same circuit that clip (as input_values rounds
// them).
long values_dac_clipped(const netlist_gen::Netlist& nl, const Eigen::VectorXd& b,
                        const netlist_gen::NetlistOptions& opt) {
  if (opt.dac_bits == 0 || b.size() == 0) return 0;
  const netlist_gen::Converter dac{opt.dac_bits, opt.input_full_scale};
  const Eigen::VectorXd b_hat = b / netlist_gen::input_values(nl, b, opt).unknown_scales(0) /
                                nl.summary.matrix_scale;
  long clipped = 0;
  for (Eigen::Index i = 0; i < b_hat.size(); ++i) clipped += dac.clips(b_hat(i)) ? 1 : 0;
  return clipped;
}

// Final state, noiseless and cold: the netlist run to its simulated time from a cold start; the
// final node voltages, times the netlist's scales, are the solution. Several right-hand sides:
// the circuit is parsed once and, before each run, only the input sources change (`alter`); see
// bench/solve_overhead for why that beats re-parsing.
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
    s.report.method =
        fmt::format("{} encoding; one parse, inputs altered per right-hand side; steps of 3/4 tau",
                    netlist_gen::to_string(opt.encoding));

    netlist_gen::Netlist nl = sys.netlist(b.col(0), opt);
    netlist_gen::plan_final_state(opt, nl);  // only the last point is read
    check_spice_work(nl, static_cast<long>(b.cols()),
                     fmt::format("spice solve (n = {}, {} right-hand side(s))", m.rows(), b.cols()));
    s.report.predicted_tau = nl.summary.predicted_tau;
    RunOptions run;
    run.nodes = netlist_gen::unknown_nodes(nl);
    const netlist_gen::Converter adc{nl.summary.adc_bits, nl.summary.adc_full_scale};
    const long conversions_before = engine_.adc_conversions();
    const long clipped_before = engine_.adc_clipped();

    {  // the circuit is removed at the end of this block, inside the measured wall time
      const CircuitGuard guard(session);
      session.load(netlist_gen::to_spice(nl));
      for (Eigen::Index c = 0; c < b.cols(); ++c) {
        // Every column's inputs are set by `alter`, the first one's too: ngspice's parser and
        // its `alter` read the same value's text to doubles that may differ in the last bit, so
        // a column's answer would otherwise depend on whether it came first (and a solve in
        // column pieces would differ from the whole's).
        const auto values = netlist_gen::input_values(nl, b.col(c), opt);
        for (const auto& [element, value] : values.sources) session.alter_dc(element, value);
        const RunResult r = session.run(run);
        Eigen::VectorXd volts = r.final_values;
        engine_.read_adc(adc, volts);
        s.x.col(c) = netlist_gen::read_out(nl, volts, values.unknown_scales);
        s.report.dac_clipped += values_dac_clipped(nl, b.col(c), opt);
        s.report.analog_seconds += r.final_time;
        s.report.run_analog_seconds.push_back(r.final_time);
        s.report.simulator_steps += r.accepted_points;
        ++s.report.iterations;
        backend_.progress.run_done();
      }
    }
    s.report.adc_conversions = engine_.adc_conversions() - conversions_before;
    s.report.adc_clipped = engine_.adc_clipped() - clipped_before;
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
      const long conversions_before = backend_.engine.adc_conversions();
      const long clipped_before = backend_.engine.adc_clipped();
      column(sys, bc, opt, model, starts.size() != 0 ? Eigen::VectorXd(starts.col(c)) : x0, c, s,
             analog);
      s.report.analog_seconds += analog;
      s.report.run_analog_seconds.push_back(analog);
      s.report.simulator_steps += backend_.engine.simulator_steps() - steps_before;
      s.report.adc_conversions += backend_.engine.adc_conversions() - conversions_before;
      s.report.adc_clipped += backend_.engine.adc_clipped() - clipped_before;
      s.report.dac_clipped += model.dac_clipped;
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
      Eigen::VectorXd volts = model.mean_at(total, x0) / model.scale;
      engine.read_adc(model.adc, volts);
      s.x.col(c) = model.scale * volts;
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
// noisy circuit is beta^-1 (M + damping I)^-1, so one long run gives the whole inverse. With
// covariance_runs = S > 1 the inverse is S independent runs (segments), run s seeded as the
// solve's column s, each with its own burn-in and a window sized for precision p sqrt(S); their
// samples are pooled (SampleAccumulator::merge, in segment order), so the pooled estimate has
// about precision p. A segment alone (inverse_segment) returns its raw moments; pool() finishes
// any set of them the same way, which is what makes a split run bit for bit the whole's.
class Covariance final : public InverseEstimator {
 public:
  explicit Covariance(const CircuitBackend& backend) : backend_(backend) {}
  Solution inverse(const System& sys, double damping) override {
    const auto start = Clock::now();
    const Setup su = setup(sys, damping);
    std::vector<Solution> pieces;
    for (int k = 0; k < segments_of(); ++k) pieces.push_back(run_segment(sys, su, k));
    Solution s = pool(su, pieces);
    s.report.wall_seconds = seconds_since(start);
    return s;
  }
  Solution inverse_segment(const System& sys, double damping, int segment) override {
    if (segment < 0 || segment >= segments_of()) {
      throw std::logic_error(fmt::format("covariance: segment {} of {}", segment, segments_of()));
    }
    return run_segment(sys, setup(sys, damping), segment);
  }
  Solution merge_segments(const System& sys, double damping,
                          const std::vector<Solution>& pieces) override {
    const auto start = Clock::now();
    Solution s = pool(setup(sys, damping), pieces);
    double wall = seconds_since(start);
    for (const Solution& p : pieces) wall += p.report.wall_seconds;
    s.report.wall_seconds = wall;
    return s;
  }
  long runs(Eigen::Index) const override { return segments_of(); }
  bool one_run_per_system() const override { return segments_of() == 1; }
  long segments() const override { return segments_of() > 1 ? segments_of() : 0; }

 private:
  // What every segment and the pooling share: checked options, the twin's model, the plan of
  // one segment.
  struct Setup {
    netlist_gen::NetlistOptions opt;
    ThermoModel model;
    Plan plan;
  };
  int segments_of() const { return backend_.options.thermo.covariance_runs; }

  Setup setup(const System& sys, double damping) const {
    const Eigen::MatrixXd& m = sys.m;
    const Eigen::Index n = m.rows();
    netlist_gen::NetlistOptions opt =
        prepare_circuit_solve(backend_.options, m, Eigen::MatrixXd::Zero(n, 1), damping);
    const ThermoOptions& t = backend_.options.thermo;
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
    ThermoModel model = sys.model(Eigen::VectorXd(), opt, backend_.engine.circuit_view());
    const int runs = segments_of();
    ThermoOptions per_run = t;
    // S runs each of precision p sqrt(S) pool to precision p (the error's variance falls as 1/S
    // over independent runs); a window or run time given is the total, shared by the runs.
    if (runs > 1) per_run.inverse_precision = t.inverse_precision * std::sqrt(double(runs));
    Plan plan = make_plan(model, per_run, opt, Estimate::covariance);
    const bool window_given = t.window > 0.0 || opt.sim_time > 0.0 || t.inverse_precision == 0.0;
    if (runs > 1 && window_given) {
      plan.samples = (plan.samples + runs - 1) / runs;
      plan.window = static_cast<double>(plan.samples) * plan.interval;
    }
    return {std::move(opt), std::move(model), plan};
  }

  // One noisy run's raw moments: x = [mean | M2] (n x (n + 1)), report.samples the count.
  Solution run_segment(const System& sys, const Setup& su, int segment) const {
    const auto start = Clock::now();
    const ThermoOptions& t = backend_.options.thermo;
    Engine& engine = backend_.engine;
    const Plan& p = su.plan;
    const Eigen::Index n = sys.m.rows();
    SampleAccumulator acc;
    double analog = 0.0;
    const long steps_before = engine.simulator_steps();
    const long conversions_before = engine.adc_conversions();
    const long clipped_before = engine.adc_clipped();
    const Eigen::VectorXd x0 =
        t.start == "warm" ? t.warm_start : Eigen::VectorXd(Eigen::VectorXd::Zero(n));
    engine.run(
        sys, Eigen::VectorXd(), su.opt, su.model, x0, p.interval, p.first_index + p.samples,
        segment,
        [&](double time, const Eigen::VectorXd& x) {
          const long k = std::lround(time / p.interval);
          if (k > p.first_index) acc.add(x);
          sample_progress(backend_.progress, k, p.first_index + p.samples);
        },
        analog);
    backend_.progress.run_done();
    Solution s;
    s.x.resize(n, n + 1);
    if (acc.count() > 0) {
      s.x.col(0) = acc.mean();
      s.x.rightCols(n) = acc.m2();
    } else {
      s.x.setZero();
    }
    s.report.backend = backend_.name;
    s.report.estimator = "covariance segment";
    s.report.predicted_tau = su.model.predicted_tau();
    s.report.analog_seconds = analog;
    s.report.run_analog_seconds = {analog};
    s.report.simulator_steps = engine.simulator_steps() - steps_before;
    s.report.adc_conversions = engine.adc_conversions() - conversions_before;
    s.report.adc_clipped = engine.adc_clipped() - clipped_before;
    s.report.iterations = 1;
    s.report.samples = acc.count();
    s.report.wall_seconds = seconds_since(start);
    return s;
  }

  // The inverse from the segments' moments, pooled in order.
  Solution pool(const Setup& su, const std::vector<Solution>& pieces) const {
    const ThermoOptions& t = backend_.options.thermo;
    const ThermoModel& model = su.model;
    const netlist_gen::NetlistOptions& opt = su.opt;
    const Eigen::Index n = model.alpha.size();
    if (static_cast<long>(pieces.size()) != segments_of()) {
      throw std::logic_error(
          fmt::format("covariance: {} segments given, {} expected", pieces.size(), segments_of()));
    }
    SampleAccumulator acc;
    double analog = 0.0;
    std::vector<double> run_analog;
    long steps = 0, conversions = 0, clipped = 0;
    for (const Solution& piece : pieces) {
      if (piece.x.rows() != n || piece.x.cols() != n + 1) {
        throw std::logic_error("covariance: a segment's moments have the wrong shape");
      }
      acc.merge(SampleAccumulator::of_moments(piece.report.samples, piece.x.col(0),
                                              piece.x.rightCols(n)));
      analog += piece.report.analog_seconds;
      run_analog.insert(run_analog.end(), piece.report.run_analog_seconds.begin(),
                        piece.report.run_analog_seconds.end());
      steps += piece.report.simulator_steps;
      conversions += piece.report.adc_conversions;
      clipped += piece.report.adc_clipped;
    }
    const int runs = segments_of();
    const long per_run = acc.count() / runs;  // every segment keeps the plan's samples
    // Held noise (the circuit's) lowers mode k's variance at the sample times by f_k (see
    // ThermoModel::variance_factor); undo it in the mode basis: S' = Q F^-1/2 Q^T S Q F^-1/2 Q^T.
    const NoiseShape shape = backend_.engine.is_spice() ? NoiseShape::held : t.noise_shape;
    Eigen::VectorXd f(n);
    for (Eigen::Index k = 0; k < n; ++k) f(k) = 1.0 / std::sqrt(model.variance_factor(k, shape));
    const Eigen::MatrixXd correction = model.modes * f.asDiagonal() * model.modes.transpose();
    const Eigen::MatrixXd cov = correction * acc.covariance() * correction;
    Solution s{cov / opt.noise_variance, {}};
    s.report.backend = backend_.name;
    s.report.predicted_tau = model.predicted_tau();
    s.report.analog_seconds = analog;
    s.report.run_analog_seconds = std::move(run_analog);
    s.report.simulator_steps = steps;
    s.report.adc_conversions = conversions;
    s.report.adc_clipped = clipped;
    s.report.iterations = runs;
    fill(s.report, model, su.plan, per_run);
    s.report.samples = acc.count();
    // Standard errors from the variances the settings imply (with the held-noise factors divided
    // out, every mode has its white variance); independent runs: the variance / S.
    const double runs_root = std::sqrt(static_cast<double>(runs));
    s.report.standard_errors =
        covariance_standard_errors(model, per_run, su.plan.interval,
                                   model.mode_variances_x(NoiseShape::white)) /
        (opt.noise_variance * runs_root);
    s.report.standard_error = s.report.standard_errors.maxCoeff();
    s.report.estimator = "covariance";
    const std::string pooled =
        runs > 1 ? fmt::format(
                       ", {} independent runs pooled (run s seeded {} + 7919 s), each with "
                       "its own burn-in",
                       runs, opt.noise_seed)
                 : std::string();
    s.report.method = fmt::format(
        "sample covariance / beta^-1 ({}, beta^-1 = {:g}, seed {}, NT = {:.3g} tau{}{}{}); "
        "expected relative (Frobenius) error {:.3g}",
        source_name(backend_.engine, opt), opt.noise_variance, opt.noise_seed,
        model.noise_sample_time / model.predicted_tau(), nt_rule(opt),
        shape == NoiseShape::held ? ", held-noise variance factor undone per mode" : "", pooled,
        covariance_relative_error(model, per_run, su.plan.interval) / runs_root);
    return s;
  }

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
  // A count from doubles: 1e300 s of burn-in is no number of samples (and no long).
  p.first_index = to_count(std::max(0.0, burn / p.interval - 1e-9), 2'000'000'000L,
                           fmt::format("{} in noise sample times ({:g} s each)",
                                       thermo_flag("burn_in"), p.interval));
  const double n = std::floor(window / p.interval + 1e-9);
  if (!(n >= 1.0)) {
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
    // A column's run depends on its column alone (its inputs are altered in before it, after
    // the parse or another column's run alike: tests/solver_test.cpp checks pieces against the
    // whole bit for bit), and its inverse is its solve with the identity.
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
