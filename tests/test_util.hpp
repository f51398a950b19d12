#pragma once
// Helpers shared by the test suites.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <Eigen/Dense>
#include <random>
#include <sstream>
#include <string>

namespace tkfac::test {

inline std::string to_text(const Eigen::MatrixXd& m) {
  std::ostringstream os;
  os << m;
  return os.str();
}

// Relative Frobenius error of `actual` against `expected`.
inline double relative_error(const Eigen::MatrixXd& actual, const Eigen::MatrixXd& expected) {
  const double denom = expected.norm();
  return denom > 0 ? (actual - expected).norm() / denom : actual.norm();
}

// Asserts ||actual - expected|| <= tol * ||expected||, printing both and their difference.
#define TKFAC_CHECK_REL_NEAR(actual, expected, tol)                                            \
  do {                                                                                         \
    const Eigen::MatrixXd tkfac_a_ = (actual);                                                 \
    const Eigen::MatrixXd tkfac_e_ = (expected);                                               \
    REQUIRE(tkfac_a_.rows() == tkfac_e_.rows());                                               \
    REQUIRE(tkfac_a_.cols() == tkfac_e_.cols());                                               \
    const double tkfac_err_ = ::tkfac::test::relative_error(tkfac_a_, tkfac_e_);               \
    INFO("actual:\n" << ::tkfac::test::to_text(tkfac_a_) << "\nexpected:\n"                    \
                     << ::tkfac::test::to_text(tkfac_e_) << "\ndifference:\n"                  \
                     << ::tkfac::test::to_text(tkfac_a_ - tkfac_e_) << "\nrelative error "    \
                     << tkfac_err_ << " > " << (tol));                                         \
    CHECK(tkfac_err_ <= (tol));                                                                \
  } while (0)

// A random SPD matrix of size n with condition number kappa (eigenvalues log-spaced in
// [1, kappa], random orthogonal eigenvectors), scaled by `scale`.
inline Eigen::MatrixXd random_spd(int n, double kappa, std::mt19937_64& rng, double scale = 1.0) {
  std::normal_distribution<double> normal;
  Eigen::MatrixXd g(n, n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) g(i, j) = normal(rng);
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(g);
  const Eigen::MatrixXd q = qr.householderQ();
  Eigen::VectorXd eig(n);
  for (int i = 0; i < n; ++i)
    eig(i) = n == 1 ? 1.0 : std::pow(kappa, static_cast<double>(i) / (n - 1));
  Eigen::MatrixXd m = scale * q * eig.asDiagonal() * q.transpose();
  return 0.5 * (m + m.transpose());
}

inline Eigen::VectorXd random_vector(int n, std::mt19937_64& rng) {
  std::normal_distribution<double> normal;
  Eigen::VectorXd v(n);
  for (int i = 0; i < n; ++i) v(i) = normal(rng);
  return v;
}

}  // namespace tkfac::test
