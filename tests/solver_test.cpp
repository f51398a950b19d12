// LinearSolver backends: the same tests for every backend, each compared with Cholesky.
#include <fstream>
#include <string>

#include "test_util.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/cosim/backends.hpp"
#include "tkfac/cosim/thermodynamic.hpp"
#include "tkfac/solver/linear_solver.hpp"

using tkfac::netlist_gen::Encoding;
using tkfac::solver::LinearSolver;
using tkfac::solver::SolverOptions;

namespace {

// spice and ou come from cosim; registered once, before any test case runs (a static
// initializer here in the test's own object file is kept by the linker).
[[maybe_unused]] const bool kCircuitBackends = (tkfac::cosim::register_backends(), true);

struct Backend {
  const char* label;
  std::string name;
  Encoding encoding;
  double tolerance;  // relative error against Cholesky the issue asks for
};

// `spice` with behavioral must reach 1e-6; with the integrator (op-amp gain 1e6) 1e-4; cg is run
// to a relative residual of 1e-12, so 1e-8 error holds up to kappa = 1e3 with room to spare.
const Backend kBackends[] = {
    {"cg", "cg", Encoding::behavioral, 1e-8},
    {"spice/behavioral", "spice", Encoding::behavioral, 1e-6},
    {"spice/integrator", "spice", Encoding::integrator, 1e-4},
};

std::unique_ptr<LinearSolver> make(const Backend& b) {
  SolverOptions o;
  o.backend = b.name;
  o.netlist.encoding = b.encoding;
  return LinearSolver::create(o);
}

Eigen::MatrixXd cholesky(const Eigen::MatrixXd& m, const Eigen::MatrixXd& b, double damping = 0) {
  return LinearSolver::create({})->solve(m, b, damping).x;
}

long resident_kb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

}  // namespace

TEST_CASE("every backend matches cholesky on random SPD systems, n = 2..64, kappa up to 1e3") {
  for (const Backend& backend : kBackends) {
    auto solver = make(backend);
    std::mt19937_64 rng(42);
    for (int n : {2, 3, 5, 8, 16, 33, 64}) {
      for (double kappa : {1.0, 30.0, 1e3}) {
        // Scale of the entries varies too, so the circuit's scaling is exercised.
        const double scale = std::pow(10.0, std::uniform_real_distribution<>(-3, 3)(rng));
        const Eigen::MatrixXd m = tkfac::random_spd(n, kappa, rng, scale);
        const Eigen::VectorXd b = tkfac::test::random_vector(n, rng);
        CAPTURE(backend.label);
        CAPTURE(n);
        CAPTURE(kappa);
        const auto s = solver->solve(m, b);
        TKFAC_CHECK_REL_NEAR(s.x, cholesky(m, b), backend.tolerance);
        CHECK(s.report.backend == backend.name);
        if (backend.name == "spice") {
          const double alpha_min_bound =
              1.0 / kappa;  // M_hat = M / max|m_ij| and max|m_ij| <= lambda_max
          CHECK(s.report.predicted_tau >= 1e-6 * (1 - 1e-9));  // R C / alpha_min, alpha_min <= 1
          CHECK(s.report.predicted_tau <= 1e-6 / alpha_min_bound * (1 + 1e-9));
          CHECK(s.report.analog_seconds >= s.report.predicted_tau * std::log(1e6));
        }
      }
    }
  }
}

TEST_CASE("several right-hand sides, damping and the inverse") {
  std::mt19937_64 rng(7);
  const Eigen::MatrixXd m = tkfac::random_spd(6, 50.0, rng);
  Eigen::MatrixXd b = tkfac::random_normal(6, 4, rng);
  b.col(2).setZero();  // a zero column must give a zero solution, not a division by zero
  b.col(3) *= 1e4;     // and columns of very different size each keep their accuracy
  for (const Backend& backend : kBackends) {
    CAPTURE(backend.label);
    auto solver = make(backend);
    const auto s = solver->solve(m, b, 0.5);
    const Eigen::MatrixXd ref = cholesky(m, b, 0.5);
    for (int c = 0; c < b.cols(); ++c) {
      CAPTURE(c);
      if (c == 2) {
        CHECK(s.x.col(c).norm() <= 1e-12);
      } else {
        TKFAC_CHECK_REL_NEAR(s.x.col(c), ref.col(c), backend.tolerance);
      }
    }
    Eigen::MatrixXd md = m;
    md.diagonal().array() += 0.5;
    // Column by column within the tolerance implies the whole inverse within it (Frobenius).
    TKFAC_CHECK_REL_NEAR(solver->inverse(m, 0.5).x, md.inverse(), backend.tolerance);
  }
}

TEST_CASE("spice: every column of a 50 x 50 inverse (kappa 1e4) within the target of cholesky") {
  // The noiseless cold solves run the final-state step plan (netlist_gen::plan_final_state):
  // each column, read after its own run on one loaded circuit, must still reach 1e-6.
  std::mt19937_64 rng(11);
  const Eigen::MatrixXd m = tkfac::random_spd(50, 1e4, rng, 3.0);
  const Eigen::MatrixXd ref = m.llt().solve(Eigen::MatrixXd::Identity(50, 50));
  for (const Backend& backend : kBackends) {
    if (backend.name != "spice") continue;
    CAPTURE(backend.label);
    const auto s = make(backend)->inverse(m);
    CHECK(s.report.iterations == 50);
    CHECK(s.report.method.find("steps of 3/4 tau") != std::string::npos);
    for (int c = 0; c < 50; ++c) {
      CAPTURE(c);
      TKFAC_CHECK_REL_NEAR(s.x.col(c), ref.col(c), backend.tolerance);
    }
  }
}

TEST_CASE("spice: 1000 successive solves grow resident memory by less than 10 MB") {
  SolverOptions o;
  o.backend = "spice";
  auto solver = LinearSolver::create(o);
  std::mt19937_64 rng(5);
  const Eigen::MatrixXd m = tkfac::random_spd(4, 10.0, rng);
  auto solve_once = [&] {
    const Eigen::VectorXd b = tkfac::test::random_vector(4, rng);
    const auto s = solver->solve(m, b);
    REQUIRE(tkfac::test::relative_error(s.x, cholesky(m, b)) <= 1e-6);
  };
  for (int i = 0; i < 20; ++i) solve_once();  // warm-up: library pools, first allocations
  const long before = resident_kb();
  for (int i = 0; i < 1000; ++i) solve_once();
  const long after = resident_kb();
  INFO("resident memory " << before << " kB -> " << after << " kB");
  CHECK(after - before < 10 * 1024);
}

TEST_CASE("bad input is an InputError for every backend") {
  std::vector<std::string> names = {"cholesky"};
  for (const Backend& b : kBackends) names.push_back(b.name);
  for (const auto& name : names) {
    CAPTURE(name);
    SolverOptions o;
    o.backend = name;
    auto solver = LinearSolver::create(o);
    Eigen::MatrixXd not_square(2, 3);
    not_square.setOnes();
    CHECK_THROWS_AS(solver->solve(not_square, Eigen::VectorXd::Ones(2)), tkfac::InputError);
    Eigen::MatrixXd indefinite(2, 2);
    indefinite << 1, 2, 2, 1;
    CHECK_THROWS_AS(solver->solve(indefinite, Eigen::VectorXd::Ones(2)), tkfac::InputError);
    // ... unless damping makes it positive definite.
    CHECK_NOTHROW(solver->solve(indefinite, Eigen::VectorXd::Ones(2), 1.5));
    CHECK_THROWS_AS(solver->solve(Eigen::MatrixXd::Identity(2, 2), Eigen::VectorXd::Ones(3)),
                    tkfac::InputError);
    Eigen::VectorXd nan_rhs = Eigen::VectorXd::Ones(2);
    nan_rhs(1) = std::nan("");
    CHECK_THROWS_AS(solver->solve(Eigen::MatrixXd::Identity(2, 2), nan_rhs), tkfac::InputError);
  }
  SolverOptions o;
  o.backend = "quantum";
  CHECK_THROWS_WITH_AS(LinearSolver::create(o), doctest::Contains("cholesky, cg, spice"),
                       tkfac::InputError);
}

namespace {

// Everything a report states, except the wall time (which no two runs share).
void check_same_report(const tkfac::solver::SolveReport& a, const tkfac::solver::SolveReport& b) {
  CHECK(a.backend == b.backend);
  CHECK(a.method == b.method);
  CHECK(a.analog_seconds == b.analog_seconds);
  CHECK(a.predicted_tau == b.predicted_tau);
  CHECK(a.iterations == b.iterations);
  CHECK(a.converged == b.converged);
  CHECK(a.estimator == b.estimator);
  CHECK(a.burn_in_seconds == b.burn_in_seconds);
  CHECK(a.window_seconds == b.window_seconds);
  CHECK(a.sample_interval == b.sample_interval);
  CHECK(a.samples == b.samples);
  CHECK(a.effective_samples == b.effective_samples);
  CHECK(a.standard_error == b.standard_error);
  CHECK(a.standard_errors == b.standard_errors);
}

}  // namespace

namespace {
// A request by its fields, in declaration order (aggregate initialization would leave the later
// members to -Wmissing-field-initializers).
tkfac::solver::SolveRequest make_request(tkfac::solver::SolveRequest::Kind kind,
                                         const Eigen::MatrixXd& m, const Eigen::MatrixXd& a,
                                         const Eigen::MatrixXd& rhs, double damping,
                                         const std::string& label) {
  tkfac::solver::SolveRequest r;
  r.kind = kind;
  r.matrix = m;
  r.activations = a;
  r.rhs = rhs;
  r.damping = damping;
  r.label = label;
  return r;
}
}  // namespace

TEST_CASE("solve_all on a mixed batch equals the individual calls (cholesky, ou)") {
  using tkfac::solver::SolveRequest;
  std::mt19937_64 rng(11);
  const Eigen::MatrixXd m = tkfac::random_spd(4, 20.0, rng);
  const Eigen::MatrixXd b = tkfac::random_normal(4, 2, rng);
  const Eigen::MatrixXd a = tkfac::random_normal(3, 5, rng);  // M = a a^T / 5, 3 x 3
  const Eigen::MatrixXd ba = tkfac::random_normal(3, 1, rng);
  const std::vector<SolveRequest> batch = {
      make_request(SolveRequest::Kind::solve, m, Eigen::MatrixXd(), b, 0.1, "solve"),
      make_request(SolveRequest::Kind::inverse, m, Eigen::MatrixXd(), Eigen::MatrixXd(), 0.2,
                   "inverse"),
      make_request(SolveRequest::Kind::solve, Eigen::MatrixXd(), a, ba, 0.3, "activations solve"),
      make_request(SolveRequest::Kind::inverse, Eigen::MatrixXd(), a, Eigen::MatrixXd(), 0.4,
                   "activations inverse"),
  };
  SolverOptions ou;
  ou.backend = "ou";
  // Noisy, so solves are window means and inverses sample covariances; the activation encoding,
  // so the array's requests run the activation circuit's twin. Every run is seeded, hence
  // reproducible to the bit.
  ou.netlist.noise_variance = 1e-3;
  ou.netlist.encoding = Encoding::activation;
  for (const SolverOptions& o : {SolverOptions{}, ou}) {
    CAPTURE(o.backend);
    const auto all = LinearSolver::create(o)->solve_all(batch);
    auto single = LinearSolver::create(o);
    const std::vector<tkfac::solver::Solution> one_by_one = {
        single->solve(m, b, 0.1), single->inverse(m, 0.2), single->solve_activations(a, ba, 0.3),
        single->inverse_activations(a, 0.4)};
    REQUIRE(all.size() == one_by_one.size());
    for (std::size_t i = 0; i < all.size(); ++i) {
      CAPTURE(batch[i].label);
      CHECK(all[i].x == one_by_one[i].x);
      check_same_report(all[i].report, one_by_one[i].report);
    }
    if (o.backend == "ou") {  // the batch really ran the estimators it should have
      CHECK(all[0].report.estimator == "mean");
      CHECK(all[3].report.estimator == "covariance");
    }
    // The default loop names the bad request.
    std::vector<SolveRequest> bad = batch;
    bad[1].matrix(0, 1) += 1.0;  // not symmetric
    CHECK_THROWS_WITH_AS(LinearSolver::create(o)->solve_all(bad), doctest::Contains("inverse: "),
                         tkfac::InputError);
    bad = batch;
    bad[2].matrix = m;
    CHECK_THROWS_WITH_AS(LinearSolver::create(o)->solve_all(bad),
                         doctest::Contains("activations solve: request: has both"),
                         tkfac::InputError);
  }
}

TEST_CASE("cost: a backend states a batch's circuit runs before solving, as many as it makes") {
  using tkfac::solver::SolveRequest;
  using tkfac::solver::SolveShape;
  std::mt19937_64 rng(5);
  const Eigen::MatrixXd m = tkfac::random_spd(3, 10.0, rng);
  const Eigen::MatrixXd b = tkfac::random_normal(3, 2, rng);
  const std::vector<SolveRequest> batch = {
      make_request(SolveRequest::Kind::solve, m, Eigen::MatrixXd(), b, 0.1, "solve"),
      make_request(SolveRequest::Kind::inverse, m, Eigen::MatrixXd(), Eigen::MatrixXd(), 0.2,
                   "inverse"),
  };
  std::vector<SolveShape> shapes;
  for (const auto& r : batch) shapes.push_back(tkfac::solver::shape_of(r));
  CHECK(shapes[0].n == 3);
  CHECK(shapes[0].rhs_columns == 2);
  CHECK(shapes[1].kind == SolveRequest::Kind::inverse);

  struct Case {
    const char* label;
    std::string backend;
    double noise_variance;
    std::string inverse_method;
    long solve_runs, inverse_runs;  // what the estimators make: a run per column, or one
    bool ngspice;
  };
  const Case cases[] = {
      {"cholesky", "cholesky", 0.0, "auto", 0, 0, false},
      {"cg", "cg", 0.0, "auto", 0, 0, false},
      {"spice, noiseless: a run per column", "spice", 0.0, "auto", 2, 3, true},
      {"spice, noisy: the covariance inverse is one run", "spice", 1e-3, "auto", 2, 1, true},
      {"spice, noisy, unit right-hand sides", "spice", 1e-3, "unit_rhs", 2, 3, true},
      {"ou, noisy: the twin's runs, not ngspice's", "ou", 1e-3, "auto", 2, 1, false},
      {"ou, noiseless", "ou", 0.0, "auto", 2, 3, false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.label);
    SolverOptions o;
    o.backend = c.backend;
    o.netlist.noise_variance = c.noise_variance;
    o.netlist.noise_sample_time = 1e-7;  // R C / 10: a short run of 100 samples
    o.thermo.burn_in = 1e-6;
    o.thermo.window = 1e-5;
    o.thermo.inverse_method = c.inverse_method;
    auto solver = LinearSolver::create(o);
    const tkfac::solver::SolveCost solve = solver->cost(shapes[0]);
    const tkfac::solver::SolveCost inverse = solver->cost(shapes[1]);
    CHECK(solve.circuit_runs == c.solve_runs);
    CHECK(inverse.circuit_runs == c.inverse_runs);
    CHECK(solve.ngspice == c.ngspice);
    CHECK(inverse.one_run_per_system == (c.inverse_runs == 1));
    const tkfac::solver::SolveCost all = solver->cost_all(shapes);
    CHECK(all.circuit_runs == c.solve_runs + c.inverse_runs);
    CHECK_FALSE(all.one_run_per_system);  // the solve runs per column
    CHECK(solver->cost_all({shapes[1], shapes[1]}).circuit_runs == 2 * c.inverse_runs);
    CHECK(solver->cost_all({shapes[1]}).one_run_per_system == (c.inverse_runs == 1));
    // What the progress callback hears of the batch: its start (0 runs done), then each run
    // as it ends and shares of the run under way in between, counting to the stated total.
    std::vector<tkfac::solver::SolveProgress> heard;
    solver->set_progress([&](const tkfac::solver::SolveProgress& p) { heard.push_back(p); });
    const auto sols = solver->solve_all(batch);
    const long total = all.circuit_runs;
    if (total == 0) {
      CHECK(heard.empty());
      continue;
    }
    REQUIRE(heard.size() >= 2);
    CHECK(heard.front().runs_done == 0);
    CHECK(heard.front().run_fraction == 0.0);
    CHECK(heard.back().runs_done == total);
    long ends = 0, inside = 0;
    for (std::size_t i = 0; i < heard.size(); ++i) {
      CHECK(heard[i].runs_total == total);
      CHECK(heard[i].run_fraction >= 0.0);
      CHECK(heard[i].run_fraction < 1.0);
      if (i == 0) continue;
      const long step = heard[i].runs_done - heard[i - 1].runs_done;
      CHECK((step == 0 || step == 1));
      if (step == 1) {
        ++ends;
        CHECK(heard[i].run_fraction == 0.0);
      } else {
        ++inside;
        CHECK(heard[i].run_fraction >= heard[i - 1].run_fraction);
      }
    }
    CHECK(ends == total);
    // Noisy runs of 110 samples tell their progress inside the run; noiseless final-state runs
    // only at their ends.
    CHECK((inside > 0) == (c.noise_variance > 0.0));
    // A single call counts its own runs.
    heard.clear();
    solver->inverse(m, 0.2);
    REQUIRE_FALSE(heard.empty());
    CHECK(heard.back().runs_done == c.inverse_runs);
    CHECK(heard.back().runs_total == c.inverse_runs);
    // The runs the solves made (the reports count circuit runs as iterations).
    CHECK(sols[0].report.iterations == c.solve_runs);
    CHECK(sols[1].report.iterations == c.inverse_runs);
  }
}

TEST_CASE("a request's start: each column's run starts there (finite analog time, ou and spice)") {
  // Noiseless, finite time T: x(T) = x_eq + expm(-M_hat T / RC) (x0 - x_eq) per column, which
  // the twin computes exactly and ngspice to its time-step error; with the start the columns
  // land elsewhere than from a cold start, and near x_eq when started there.
  using tkfac::solver::SolveRequest;
  std::mt19937_64 rng(21);
  const Eigen::MatrixXd m = tkfac::random_spd(3, 5.0, rng);
  const Eigen::MatrixXd b = tkfac::random_normal(3, 2, rng);
  const Eigen::MatrixXd x_eq = m.llt().solve(b);
  Eigen::MatrixXd start = tkfac::random_normal(3, 2, rng);
  start.col(1) = x_eq.col(1);
  for (const std::string backend : {"ou", "spice"}) {
    CAPTURE(backend);
    SolverOptions o;
    o.backend = backend;
    o.thermo.analog_time = 1.0;  // 1 R C: far from relaxed
    auto solver = LinearSolver::create(o);
    SolveRequest r = make_request(SolveRequest::Kind::solve, m, Eigen::MatrixXd(), b, 0.0, "warm");
    const Eigen::MatrixXd cold = solver->solve_all({r})[0].x;
    r.start = start;
    const tkfac::solver::Solution warm = solver->solve_all({r})[0];
    Eigen::MatrixXd want_warm(3, 2), want_cold(3, 2);
    for (int c = 0; c < 2; ++c) {
      const tkfac::cosim::ThermoModel model =
          tkfac::cosim::make_thermo_model(m, b.col(c), o.netlist);
      want_warm.col(c) = model.mean_at(model.tau0, start.col(c));
      want_cold.col(c) = model.mean_at(model.tau0, Eigen::VectorXd::Zero(3));
    }
    // spice: Gear-2 at 1/200 of the run, about 1e-5 relative.
    const double tol = backend == "ou" ? 1e-10 : 1e-4;
    TKFAC_CHECK_REL_NEAR(warm.x, want_warm, tol);
    TKFAC_CHECK_REL_NEAR(cold, want_cold, tol);
    TKFAC_CHECK_REL_NEAR(warm.x.col(1), x_eq.col(1), tol);
    CHECK((warm.x.col(0) - cold.col(0)).norm() > 1e-2 * cold.col(0).norm());
    CHECK(warm.report.method.find("warm start") != std::string::npos);
    r.start = Eigen::MatrixXd::Zero(3, 1);  // one column for two right-hand sides
    CHECK_THROWS_WITH_AS(solver->solve_all({r}),
                         doctest::Contains("start: is 3 x 1, expected 3 x 2"), tkfac::InputError);
  }
}

TEST_CASE("spice: a solve in column pieces equals the whole bit for bit (SolveCost::column_pieces)") {
  // What lets DistributedSolver share one solve of many right-hand sides between ranks: each
  // column's answer depends on that column alone, not on which column the circuit was parsed
  // for. Columns of very different sizes and signs, a zero one, both encodings.
  std::mt19937_64 rng(23);
  const Eigen::MatrixXd m = tkfac::random_spd(9, 300.0, rng);
  Eigen::MatrixXd b = tkfac::random_normal(9, 6, rng);
  b.col(1) *= 1e-3;
  b.col(3).setZero();
  b.col(4) *= 1e3;
  for (const Backend& backend : kBackends) {
    if (backend.name != "spice") continue;
    CAPTURE(backend.label);
    auto solver = make(backend);
    REQUIRE(solver->cost({tkfac::solver::SolveRequest::Kind::solve, 9, 6}).column_pieces);
    const auto whole = solver->solve(m, b, 0.1);
    std::vector<tkfac::solver::Solution> pieces;
    for (const auto& [first, count] : {std::pair{0, 2}, std::pair{2, 1}, std::pair{3, 3}}) {
      pieces.push_back(solver->solve(m, b.middleCols(first, count), 0.1));
    }
    const auto merged = tkfac::solver::merge_column_pieces(pieces);
    CHECK(merged.x.cols() == 6);
    CHECK((merged.x.array() == whole.x.array()).all());  // bit for bit
    CHECK(merged.report.iterations == whole.report.iterations);
    CHECK(merged.report.simulator_steps == whole.report.simulator_steps);
    // And each piece is the right answer, not merely the same one.
    TKFAC_CHECK_REL_NEAR(whole.x.col(0), cholesky(m, b.col(0), 0.1), backend.tolerance);
  }
}
