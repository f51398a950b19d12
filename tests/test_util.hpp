#pragma once
// Helpers shared by the test suites.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <Eigen/Dense>

#include "tkfac/core/spd.hpp"
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

using ::tkfac::random_spd;

inline Eigen::VectorXd random_vector(int n, std::mt19937_64& rng) {
  return ::tkfac::random_normal(n, 1, rng).col(0);
}

}  // namespace tkfac::test
