// Noisy solves whose noise follows the slowest mode (docs/DESIGN.md section 5): the noise
// sample time NT = tau / 2, so the fast modes see held noise far coarser than their own time
// constant. The checks run many seeded solves and compare the spread of the estimates with the
// standard errors the solver reports or the model predicts: mean z^2 must be 1 within its own
// error. For Gaussian z, Var(z^2) = 2, so the mean of `runs` values has standard error
// sqrt(2 / runs); the bands are 4 of those.
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_util.hpp"
#include "tkfac/core/spd.hpp"
#include "tkfac/cosim/backends.hpp"
#include "tkfac/cosim/estimators.hpp"
#include "tkfac/cosim/thermodynamic.hpp"
#include "tkfac/solver/linear_solver.hpp"

namespace cs = tkfac::cosim;
namespace ng = tkfac::netlist_gen;
namespace sv = tkfac::solver;

namespace {

[[maybe_unused]] const bool kBackends = (tkfac::cosim::register_backends(), true);

double band(int runs) { return 4.0 * std::sqrt(2.0 / runs); }

// A stiff 4 x 4 system, M_hat = M (no scaling): alpha = 0.01, 0.03, 0.3, 1 (kappa 100). With NT
// = tau / 2 = 50 R C the fastest mode has u = alpha NT / (R C) = 50: its variance at the sample
// times is tanh(25) / 25 = 0.04 of the white one; the slowest mode's is tanh(0.25) / 0.25.
Eigen::MatrixXd stiff_matrix() {
  std::mt19937_64 rng(4);
  Eigen::VectorXd spectrum(4);
  spectrum << 0.01, 0.03, 0.3, 1.0;
  return tkfac::spd_with_spectrum(spectrum, rng);
}

sv::SolverOptions noisy(const std::string& backend, double beta_inv) {
  sv::SolverOptions o;
  o.backend = backend;
  o.netlist.scaling = ng::Scaling::none;
  o.netlist.noise_variance = beta_inv;
  o.thermo.noise_shape = sv::NoiseShape::held;  // ou: the circuit's noise exactly
  return o;
}

}  // namespace

TEST_CASE("window mean: honest standard errors with 4 effective samples (M = [[1]], b = [1])") {
  // The window for a standard error of 5e-2 at beta^-1 = 1e-2 is 8 tau: about 4 effective
  // samples. Standard errors from the window's own sample variance came out about 20% too small
  // (mean z^2 1.7-1.8); those from the variances the settings imply are exact.
  const Eigen::MatrixXd m = Eigen::MatrixXd::Ones(1, 1);
  const Eigen::VectorXd b = Eigen::VectorXd::Ones(1);
  for (const std::string backend : {"ou", "spice"}) {
    CAPTURE(backend);
    sv::SolverOptions o = noisy(backend, 1e-2);
    o.netlist.scaling = ng::Scaling::max_entry;
    o.thermo.target_standard_error = 5e-2;
    const int runs = 200;
    double zz = 0.0, neff = 0.0;
    for (int r = 0; r < runs; ++r) {
      o.netlist.noise_seed = 1 + static_cast<unsigned>(r);
      const sv::Solution s = sv::LinearSolver::create(o)->solve(m, b);
      const double z = (s.x(0, 0) - 1.0) / s.report.standard_errors(0, 0);
      zz += z * z;
      neff = s.report.effective_samples;
    }
    CHECK(neff < 5.0);
    CHECK(zz / runs == doctest::Approx(1.0).epsilon(band(runs)));
  }
}

TEST_CASE("window mean with NT following the slowest mode: unbiased, honest per mode") {
  // Per mode k of M the mean of N samples every NT has variance v_k g(rho_k, N) / N with the
  // held variance v_k (the slowest mode: nearly white, few effective samples; the fastest:
  // 0.2 of white, every sample independent). Project each solve on the modes and compare.
  const Eigen::MatrixXd m = stiff_matrix();
  std::mt19937_64 rng(9);
  const Eigen::VectorXd b = tkfac::test::random_vector(4, rng);
  for (const std::string backend : {"ou", "spice"}) {
    CAPTURE(backend);
    sv::SolverOptions o = noisy(backend, 1e-3);
    o.thermo.window = 0.0;
    const cs::ThermoModel model = cs::make_thermo_model(m, b, o.netlist);
    REQUIRE(model.noise_sample_time == doctest::Approx(model.predicted_tau() / 2));
    REQUIRE(model.variance_factor(3, sv::NoiseShape::held) == doctest::Approx(std::tanh(25) / 25));
    // A window of 20 tau (40 samples): about 10 effective samples of the slowest mode.
    o.thermo.window = 20.0 * model.predicted_tau();
    const int runs = 150;
    Eigen::VectorXd zz = Eigen::VectorXd::Zero(4), zz_white = Eigen::VectorXd::Zero(4);
    const Eigen::VectorXd exact = model.modes.transpose() * m.llt().solve(b);
    for (int r = 0; r < runs; ++r) {
      o.netlist.noise_seed = 100 + static_cast<unsigned>(r);
      const sv::Solution s = sv::LinearSolver::create(o)->solve(m, b);
      const long n = s.report.samples;
      const double h = s.report.sample_interval;
      REQUIRE(h == doctest::Approx(model.noise_sample_time));
      const Eigen::VectorXd d = model.modes.transpose() * s.x.col(0) - exact;
      for (int k = 0; k < 4; ++k) {
        const double rho = std::exp(-model.alpha(k) * h / model.tau0);
        const double g = cs::ar1_variance_factor(rho, n) / static_cast<double>(n);
        zz(k) += d(k) * d(k) / (model.mode_variances_x(sv::NoiseShape::held)(k) * g);
        zz_white(k) += d(k) * d(k) / (model.mode_variances_x(sv::NoiseShape::white)(k) * g);
      }
      // The reported standard errors are these, rotated to the unknowns.
      const Eigen::VectorXd se =
          cs::mean_standard_errors(model, n, h, model.mode_variances_x(sv::NoiseShape::held));
      TKFAC_CHECK_REL_NEAR(s.report.standard_errors.col(0), se, 1e-9);
    }
    zz /= runs;
    zz_white /= runs;
    INFO("mean z^2 per mode (slowest first): " << zz.transpose());
    for (int k = 0; k < 4; ++k) CHECK(zz(k) == doctest::Approx(1.0).epsilon(band(runs)));
    // Ignoring the held-noise factor (white variances) would make the fastest mode's standard
    // error 5 times too large: z^2 about 0.04.
    CHECK(zz_white(3) < 1.0 - band(runs));
  }
}

TEST_CASE("covariance inverse with NT following the slowest mode: factors undone, precision met") {
  // Sample covariance with each mode's held-noise factor divided out: per mode, unbiased (up to
  // the known -Cov(mean) term) with variance 2 v_k^2 g(rho_k^2, N) / N; the relative Frobenius
  // error over seeds matches covariance_relative_error, which sized the window.
  const Eigen::MatrixXd m = stiff_matrix();
  for (const std::string backend : {"ou", "spice"}) {
    CAPTURE(backend);
    sv::SolverOptions o = noisy(backend, 1e-3);
    o.thermo.inverse_precision = 0.2;
    const cs::ThermoModel model = cs::make_thermo_model(m, Eigen::VectorXd(), o.netlist);
    const double beta_inv = o.netlist.noise_variance;
    const int runs = 120;
    Eigen::VectorXd zz = Eigen::VectorXd::Zero(4), zz_raw = Eigen::VectorXd::Zero(4);
    double e2 = 0.0, e4 = 0.0, predicted = 0.0, bias2 = 0.0;
    const Eigen::MatrixXd truth = m.inverse();
    for (int r = 0; r < runs; ++r) {
      o.netlist.noise_seed = 100003u * static_cast<unsigned>(r + 1);
      const sv::Solution s = sv::LinearSolver::create(o)->inverse(m);
      const long n = s.report.samples;
      const double h = s.report.sample_interval;
      predicted = cs::covariance_relative_error(model, n, h);
      CHECK(predicted <= 0.2);
      const double e = (s.x - truth).squaredNorm() / truth.squaredNorm();
      e2 += e;
      e4 += e * e;
      const Eigen::VectorXd vw = model.mode_variances_x(sv::NoiseShape::white);
      const Eigen::MatrixXd expected =
          cs::expected_sample_covariance(model, n, h, sv::NoiseShape::white) / beta_inv;
      bias2 = (expected - truth).squaredNorm() / truth.squaredNorm();
      const Eigen::VectorXd got = (model.modes.transpose() * s.x * model.modes).diagonal();
      const Eigen::VectorXd want = (model.modes.transpose() * expected * model.modes).diagonal();
      for (int k = 0; k < 4; ++k) {
        const double rho = std::exp(-model.alpha(k) * h / model.tau0);
        const double var = 2.0 * vw(k) * vw(k) / (beta_inv * beta_inv) *
                           cs::ar1_variance_factor(rho * rho, n) / static_cast<double>(n);
        const double raw = got(k) * model.variance_factor(k, sv::NoiseShape::held);
        zz(k) += (got(k) - want(k)) * (got(k) - want(k)) / var;
        zz_raw(k) += (raw - want(k)) * (raw - want(k)) / var;
      }
    }
    zz /= runs;
    zz_raw /= runs;
    INFO("mean z^2 per mode (slowest first): " << zz.transpose() << "; uncorrected "
                                               << zz_raw.transpose());
    for (int k = 0; k < 4; ++k) CHECK(zz(k) == doctest::Approx(1.0).epsilon(band(runs)));
    // Without the correction the fast modes' variances are 0.04 (u = 50) and 0.13 (u = 15) of
    // the truth: far outside their standard errors.
    CHECK(zz_raw(3) > 10.0);
    // The squared relative error: its mean over seeds is the predicted variance plus the small
    // -Cov(mean) bias, within 4 standard errors of that mean (from the runs' own spread).
    const double mean_e2 = e2 / runs;
    const double se_e2 = std::sqrt((e4 / runs - mean_e2 * mean_e2) / runs);
    INFO("mean squared relative error " << mean_e2 << " (se " << se_e2 << "), predicted "
                                        << predicted * predicted << " + bias " << bias2);
    CHECK(std::abs(mean_e2 - (predicted * predicted + bias2)) < 4.0 * se_e2);
  }
}

TEST_CASE("covariance inverse in 4 independent runs: pooled precision and standard errors honest") {
  // covariance_runs S = 4: four runs, each with its own burn-in and seed and a window sized for
  // precision 0.2 sqrt(4) = 0.4; their samples are pooled. The pooled sample covariance (pooled
  // mean) estimates Sigma - Cov(pooled mean) = Sigma - Cov(one run's mean) / S; per mode its
  // variance is that of one run / S: mean z^2 per mode and for the reported standard errors of
  // an entry must be 1, and the squared relative error's mean the one-run prediction / S.
  const Eigen::MatrixXd m = stiff_matrix();
  sv::SolverOptions o = noisy("ou", 1e-3);
  o.thermo.inverse_precision = 0.2;
  o.thermo.covariance_runs = 4;
  const double s_runs = 4.0;
  const cs::ThermoModel model = cs::make_thermo_model(m, Eigen::VectorXd(), o.netlist);
  const double beta_inv = o.netlist.noise_variance;
  const Eigen::MatrixXd truth = m.inverse();
  const Eigen::VectorXd vw = model.mode_variances_x(sv::NoiseShape::white);
  const int runs = 120;
  Eigen::VectorXd zz = Eigen::VectorXd::Zero(4);
  double zz_entry = 0.0, e2 = 0.0, e4 = 0.0, predicted = 0.0, bias2 = 0.0;
  for (int r = 0; r < runs; ++r) {
    o.netlist.noise_seed = 100003u * static_cast<unsigned>(r + 1);
    const sv::Solution s = sv::LinearSolver::create(o)->inverse(m);
    REQUIRE(s.report.iterations == 4);
    REQUIRE(s.report.run_analog_seconds.size() == 4u);
    REQUIRE(s.report.samples % 4 == 0);
    const long per_run = s.report.samples / 4;
    const double h = s.report.sample_interval;
    predicted = cs::covariance_relative_error(model, per_run, h) / std::sqrt(s_runs);
    CHECK(predicted <= 0.2);
    CHECK(cs::covariance_relative_error(model, per_run, h) > 0.2);  // one run alone: not enough
    const Eigen::MatrixXd expected =
        (cs::expected_sample_covariance(model, per_run, h, sv::NoiseShape::white) / beta_inv +
         (s_runs - 1.0) * truth) /
        s_runs;
    bias2 = (expected - truth).squaredNorm() / truth.squaredNorm();
    const double e = (s.x - truth).squaredNorm() / truth.squaredNorm();
    e2 += e;
    e4 += e * e;
    const Eigen::VectorXd got = (model.modes.transpose() * s.x * model.modes).diagonal();
    const Eigen::VectorXd want = (model.modes.transpose() * expected * model.modes).diagonal();
    for (int k = 0; k < 4; ++k) {
      const double rho = std::exp(-model.alpha(k) * h / model.tau0);
      const double var = 2.0 * vw(k) * vw(k) / (beta_inv * beta_inv) *
                         cs::ar1_variance_factor(rho * rho, per_run) /
                         static_cast<double>(per_run) / s_runs;
      zz(k) += (got(k) - want(k)) * (got(k) - want(k)) / var;
    }
    const double d = (s.x(0, 1) - expected(0, 1)) / s.report.standard_errors(0, 1);
    zz_entry += d * d;
  }
  zz /= runs;
  INFO("mean z^2 per mode (slowest first): " << zz.transpose() << "; entry (0, 1) "
                                             << zz_entry / runs);
  for (int k = 0; k < 4; ++k) CHECK(zz(k) == doctest::Approx(1.0).epsilon(band(runs)));
  CHECK(zz_entry / runs == doctest::Approx(1.0).epsilon(band(runs)));
  const double mean_e2 = e2 / runs;
  const double se_e2 = std::sqrt((e4 / runs - mean_e2 * mean_e2) / runs);
  INFO("mean squared relative error " << mean_e2 << " (se " << se_e2 << "), predicted "
                                      << predicted * predicted << " + bias " << bias2);
  CHECK(std::abs(mean_e2 - (predicted * predicted + bias2)) < 4.0 * se_e2);
}

TEST_CASE("covariance runs one by one (SolveRequest::segment) merge to the whole bit for bit") {
  // What DistributedSolver does with a noisy factor: each run alone on some rank, pooled by
  // merge_segments; it must be the single call's Solution exactly, for both circuit backends.
  const Eigen::MatrixXd m = stiff_matrix();
  for (const std::string backend : {"ou", "spice"}) {
    CAPTURE(backend);
    sv::SolverOptions o = noisy(backend, 1e-3);
    o.thermo.inverse_precision = 0.3;
    o.thermo.covariance_runs = 3;
    const auto solver = sv::LinearSolver::create(o);
    const sv::SolveCost cost = solver->cost({sv::SolveRequest::Kind::inverse, 4, 0});
    CHECK(cost.segments == 3);
    CHECK(cost.circuit_runs == 3);
    CHECK_FALSE(cost.one_run_per_system);
    const sv::Solution whole = solver->inverse(m, 0.01);
    sv::SolveRequest r;
    r.kind = sv::SolveRequest::Kind::inverse;
    r.matrix = m;
    r.damping = 0.01;
    std::vector<sv::Solution> pieces;
    for (int k = 2; k >= 0; --k) {  // in any order, on fresh solvers: a run depends on k alone
      r.segment = k;
      pieces.insert(pieces.begin(), sv::LinearSolver::create(o)->solve_request(r));
    }
    for (const sv::Solution& p : pieces) CHECK(p.report.samples == whole.report.samples / 3);
    CHECK_FALSE(bool(pieces[0].x == pieces[1].x));  // independent noise
    r.segment = -1;
    const sv::Solution merged = solver->merge_segments(r, pieces);
    CHECK(bool(merged.x == whole.x));
    CHECK(bool(merged.report.standard_errors == whole.report.standard_errors));
    CHECK(merged.report.samples == whole.report.samples);
    CHECK(merged.report.simulator_steps == whole.report.simulator_steps);
    CHECK(merged.report.run_analog_seconds == whole.report.run_analog_seconds);
    CHECK(merged.report.method == whole.report.method);
    // A segment past the last, or on a backend without segments, is a programming error.
    r.segment = 3;
    CHECK_THROWS_AS(solver->solve_request(r), std::logic_error);
    o.thermo.covariance_runs = 1;
    CHECK(sv::LinearSolver::create(o)->cost({sv::SolveRequest::Kind::inverse, 4, 0}).segments == 0);
  }
}
