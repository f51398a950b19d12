// `tkfac sample`: the raw samples of a noisy circuit or its twin, on the estimators' grid.
#include "tkfac/cosim/sampling.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <memory>

#include "circuit_engine.hpp"
#include "circuit_estimators.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/core/work_budget.hpp"
#include "tkfac/cosim/estimators.hpp"

namespace tkfac::cosim {

SampleSet sample_unknowns(const solver::SolverOptions& options, const Eigen::MatrixXd& m,
                          const Eigen::VectorXd& b, double damping) {
  using Clock = std::chrono::steady_clock;
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
    throw InputError(
        fmt::format("{}: {} is not > 0; sampling needs noise (beta^-1 > 0)",
                    tkfac::options::flag_of(netlist_gen::netlist_option_table(), "noise_variance"),
                    opt.noise_variance));
  }
  solver::check_system(m, b.size() == 0 ? Eigen::MatrixXd::Zero(m.rows(), 1) : Eigen::MatrixXd(b),
                       damping);
  const solver::ThermoOptions& t = options.thermo;
  if (t.start == "warm" && t.warm_start.size() != m.rows()) {
    throw InputError(fmt::format("--warm-start: has {} entries, expected {} (the matrix size)",
                                 t.warm_start.size(), m.rows()));
  }
  if (t.analog_time > 0.0) {
    throw InputError(
        fmt::format("{}: sampling needs a window, not a finite time",
                    tkfac::options::flag_of(solver::thermo_option_table(), "analog_time")));
  }
  std::unique_ptr<Engine> engine;
  if (options.backend == "ou") {
    engine = std::make_unique<OuEngine>(t.noise_shape);
  } else {
    engine = std::make_unique<SpiceEngine>();
  }
  SampleSet set;
  set.model = make_thermo_model(m, b, opt, engine->circuit_view());
  set.shape = engine->is_spice() ? solver::NoiseShape::held : t.noise_shape;
  // The window follows --target-standard-error when given (the mean), else --inverse-precision
  // (`sample --covariance-out` is the inverse by covariance).
  const Plan p = make_plan(set.model, t, opt,
                           t.target_standard_error > 0.0 ? Estimate::mean : Estimate::covariance);
  // Every sample is kept, and written out as CSV text (~25 characters a value): refuse a
  // window whose samples would not fit (issue 14).
  check_work({"sample", 0.0, 0.0,
              static_cast<double>(p.samples) * static_cast<double>(m.rows() + 1) * (8.0 + 25.0),
              fmt::format("{} samples of {} values and their CSV text", p.samples, m.rows())});
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
  set.report.simulator_steps = engine->simulator_steps();
  set.report.predicted_tau = set.model.predicted_tau();
  set.report.iterations = 1;
  set.report.burn_in_seconds = p.burn_in;
  set.report.window_seconds = p.window;
  set.report.sample_interval = p.interval;
  set.report.samples = k;
  set.report.effective_samples = effective_samples(set.model, k, p.interval).minCoeff();
  // The mean's standard errors from the variances the settings imply (see WindowMean).
  set.report.standard_errors =
      mean_standard_errors(set.model, k, p.interval, set.model.mode_variances_x(set.shape));
  set.report.standard_error = set.report.standard_errors.maxCoeff();
  set.report.wall_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return set;
}

}  // namespace tkfac::cosim
