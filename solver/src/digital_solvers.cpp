// The digital backends: `cholesky` (the reference every other backend is compared with) and
// `cg`.
#include "digital_solvers.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>

namespace tkfac::solver {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

Eigen::MatrixXd damped(const Eigen::MatrixXd& m, double damping) {
  Eigen::MatrixXd md = m;
  md.diagonal().array() += damping;
  return md;
}

class CholeskySolver final : public LinearSolver {
 public:
  std::string_view name() const override { return "cholesky"; }
  Solution solve(const Eigen::MatrixXd& m, const Eigen::MatrixXd& b, double damping) override {
    const auto start = Clock::now();
    Solution s{check_system(m, b, damping).solve(b), {}};
    s.report.backend = "cholesky";
    s.report.method = "LAPACK potrf + potrs";
    s.report.wall_seconds = seconds_since(start);
    return s;
  }
  // The validating factorization, inverted in place (potri): half the work of solving against
  // the identity, and exactly symmetric.
  Solution inverse(const Eigen::MatrixXd& m, double damping) override {
    const auto start = Clock::now();
    const Eigen::MatrixXd none(m.rows(), 0);
    Solution s{check_system(m, none, damping).inverse(), {}};
    s.report.backend = "cholesky";
    s.report.method = "LAPACK potrf + potri";
    s.report.wall_seconds = seconds_since(start);
    return s;
  }
};

// Conjugate gradient per column (the textbook method; Eigen's ConjugateGradient is tuned for
// sparse matrices and applies a diagonal preconditioner we do not want in a reference).
class CgSolver final : public LinearSolver {
 public:
  explicit CgSolver(const SolverOptions& o) : tol_(o.cg_tolerance), cap_(o.cg_max_iterations) {}
  std::string_view name() const override { return "cg"; }
  Solution solve(const Eigen::MatrixXd& m, const Eigen::MatrixXd& b, double damping) override {
    const auto start = Clock::now();
    check_system(m, b, damping);
    const Eigen::MatrixXd a = damped(m, damping);
    const int cap = cap_ > 0 ? cap_ : 10 * static_cast<int>(a.rows());
    Solution s{Eigen::MatrixXd::Zero(b.rows(), b.cols()), {}};
    s.report.backend = "cg";
    s.report.method = fmt::format("conjugate gradient, tolerance {:g}, cap {}", tol_, cap);
    for (Eigen::Index c = 0; c < b.cols(); ++c) {
      const Eigen::VectorXd rhs = b.col(c);
      const double bnorm = rhs.norm();
      Eigen::VectorXd x = Eigen::VectorXd::Zero(rhs.size());
      if (bnorm == 0.0) continue;
      Eigen::VectorXd r = rhs;
      Eigen::VectorXd p = r;
      double rr = r.squaredNorm();
      int it = 0;
      while (std::sqrt(rr) > tol_ * bnorm && it < cap) {
        const Eigen::VectorXd ap = a * p;
        const double alpha = rr / p.dot(ap);
        x += alpha * p;
        r -= alpha * ap;
        const double rr_new = r.squaredNorm();
        p = r + (rr_new / rr) * p;
        rr = rr_new;
        ++it;
      }
      s.report.iterations = std::max(s.report.iterations, it);
      if (std::sqrt(rr) > tol_ * bnorm) s.report.converged = false;
      s.x.col(c) = x;
    }
    s.report.wall_seconds = seconds_since(start);
    return s;
  }

 private:
  double tol_;
  int cap_;
};

}  // namespace

std::unique_ptr<LinearSolver> make_cholesky_solver(const SolverOptions&) {
  return std::make_unique<CholeskySolver>();
}

std::unique_ptr<LinearSolver> make_cg_solver(const SolverOptions& options) {
  return std::make_unique<CgSolver>(options);
}

}  // namespace tkfac::solver
