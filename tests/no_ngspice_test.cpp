// The solver part and kfac without ngspice: this program links neither cosim nor ngspice and
// is also built by the configure_without_ngspice test in a tree configured with
// -DTKFAC_WITH_NGSPICE=OFF, where ngspice cannot be found at all.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "tkfac/core/error.hpp"
#include "tkfac/core/spd.hpp"
#include "tkfac/kfac/dataset.hpp"
#include "tkfac/kfac/mlp.hpp"
#include "tkfac/kfac/optimizer_factory.hpp"
#include "tkfac/kfac/trainer.hpp"
#include "tkfac/solver/linear_solver.hpp"
#include "tkfac/solver/registry.hpp"

namespace sv = tkfac::solver;
namespace kf = tkfac::kfac;

TEST_CASE("without cosim the registry holds the digital backends only") {
  const auto names = sv::LinearSolver::backends();
  REQUIRE(names.size() >= 2);  // a later test case registers one more
  CHECK(names[0] == "cholesky");
  CHECK(names[1] == "cg");
  for (const auto& name : names) CHECK((name != "spice" && name != "ou"));
  sv::SolverOptions o;
  o.backend = "spice";
  CHECK_THROWS_WITH_AS(sv::LinearSolver::create(o),
                       doctest::Contains("--backend: unknown solver 'spice', expected one of: "
                                         "cholesky, cg"),
                       tkfac::InputError);
}

TEST_CASE("cholesky through the registry solves an SPD system and its batch") {
  std::mt19937_64 rng(3);
  const Eigen::MatrixXd m = tkfac::random_spd(12, 50.0, rng);
  const Eigen::MatrixXd b = Eigen::MatrixXd::Random(12, 2);
  auto solver = sv::LinearSolver::create({});
  REQUIRE(solver->name() == "cholesky");
  const sv::Solution s = solver->solve(m, b, 0.5);
  Eigen::MatrixXd damped = m;
  damped.diagonal().array() += 0.5;
  CHECK((damped * s.x - b).norm() <= 1e-12 * b.norm());
  CHECK(s.report.backend == "cholesky");

  sv::SolveRequest inv;
  inv.kind = sv::SolveRequest::Kind::inverse;
  inv.matrix = m;
  inv.damping = 0.5;
  sv::SolveRequest one;
  one.matrix = m;
  one.rhs = b;
  one.damping = 0.5;
  one.label = "x";
  const auto all = solver->solve_all({one, inv});
  REQUIRE(all.size() == 2);
  CHECK(all[0].x == s.x);
  CHECK((damped * all[1].x - Eigen::MatrixXd::Identity(12, 12)).norm() <= 1e-12);
}

TEST_CASE("a backend registered from outside the solver part is created by name") {
  sv::register_backend("cholesky-twice", [](const sv::SolverOptions&) {
    return sv::LinearSolver::create({});  // any LinearSolver will do here
  });
  sv::register_backend("cholesky-twice",
                       [](const sv::SolverOptions&) { return sv::LinearSolver::create({}); });
  const auto names = sv::LinearSolver::backends();
  CHECK(names == std::vector<std::string>{"cholesky", "cg", "cholesky-twice"});
  sv::SolverOptions o;
  o.backend = "cholesky-twice";
  CHECK(sv::LinearSolver::create(o)->name() == "cholesky");
}

TEST_CASE("K-FAC with cholesky trains without ngspice") {
  const auto [train, test] = kf::make_synthetic({});
  kf::Mlp init({8, 16, 3}, kf::Activation::tanh, 1);
  const double initial = kf::evaluate(init, test).loss;
  kf::OptimizerConfig base;
  base.kfac.learning_rate = 0.05;
  base.kfac.damping = 1e-2;
  CHECK_THROWS_AS(kf::parse_run_specs("kfac:spice", base), tkfac::InputError);
  const auto runs = kf::parse_run_specs("kfac:cholesky", base);
  kf::TrainOptions to;
  to.batch_size = 32;
  to.steps = 60;
  to.eval_every = 60;
  const auto hs = kf::compare(init, runs, train, &test, to);
  REQUIRE(hs.size() == 1);
  CAPTURE(initial);
  CHECK(hs[0].final_test_loss < 0.8 * initial);
}
