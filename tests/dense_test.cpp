// core/dense: the LAPACK Cholesky that validates, solves and inverts; the digital solver on it.
#include <random>

#include "test_util.hpp"
#include "tkfac/core/dense.hpp"
#include "tkfac/core/spd.hpp"
#include "tkfac/solver/linear_solver.hpp"

TEST_CASE("dense: Cholesky solves and inverts as Eigen's LLT does, the inverse exactly symmetric") {
  std::mt19937_64 rng(11);
  for (int n : {1, 2, 7, 64, 200}) {
    const Eigen::MatrixXd m = tkfac::random_spd(n, 1e3, rng);
    const Eigen::MatrixXd b = tkfac::random_normal(n, 3, rng);
    const tkfac::dense::Cholesky c(m);
    REQUIRE(c.positive_definite());
    const Eigen::LLT<Eigen::MatrixXd> llt(m);
    const Eigen::MatrixXd x = c.solve(b), x_ref = llt.solve(b);
    // Both backward stable: they agree to a few kappa eps (kappa 1e3).
    CHECK((x - x_ref).norm() <= 1e-11 * x_ref.norm());
    const Eigen::MatrixXd inv = c.inverse();
    CHECK(inv == inv.transpose());  // bit for bit
    const Eigen::MatrixXd inv_ref = llt.solve(Eigen::MatrixXd::Identity(n, n));
    CHECK((inv - inv_ref).norm() <= 1e-11 * inv_ref.norm());
  }
}

TEST_CASE("dense: Cholesky refuses an indefinite or singular matrix") {
  Eigen::MatrixXd indefinite(2, 2);
  indefinite << 1, 2, 2, 1;
  CHECK_FALSE(tkfac::dense::Cholesky(indefinite).positive_definite());
  Eigen::MatrixXd singular(2, 2);  // leaves a pivot of rounding size, which the floor rejects
  singular << 2, 2, 2, 2;
  const double floor = 2 * std::numeric_limits<double>::epsilon() * 2;
  CHECK_FALSE(tkfac::dense::Cholesky(singular).positive_definite(floor));
  CHECK(tkfac::dense::Cholesky(Eigen::MatrixXd::Identity(3, 3)).positive_definite(floor));
}

TEST_CASE("dense: thread count is a setting, and a bad one is refused") {
  const int before = tkfac::dense::threads();
  tkfac::dense::set_threads(1);
  CHECK(tkfac::dense::threads() == 1);
  CHECK_THROWS_AS(tkfac::dense::set_threads(0), tkfac::InputError);
  tkfac::dense::set_threads(before);
  CHECK(tkfac::dense::machine_cores() >= 1);
}

TEST_CASE("cholesky backend: inverse from one factorization, symmetric, damping applied") {
  std::mt19937_64 rng(12);
  const Eigen::MatrixXd m = tkfac::random_spd(30, 100.0, rng);
  auto solver = tkfac::solver::LinearSolver::create({});
  const tkfac::solver::Solution s = solver->inverse(m, 0.5);
  Eigen::MatrixXd damped = m;
  damped.diagonal().array() += 0.5;
  CHECK(s.x == s.x.transpose());
  CHECK((s.x * damped - Eigen::MatrixXd::Identity(30, 30)).norm() <= 1e-12 * 30);
  CHECK(s.report.method == "LAPACK potrf + potri");
  CHECK_THROWS_AS(solver->inverse(-m, 0.0), tkfac::InputError);
}
