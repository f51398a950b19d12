#pragma once
// Symmetric positive definite matrices with a chosen spectrum, for demos, sweeps and tests.
//
//   std::mt19937_64 rng(1);
//   Eigen::MatrixXd m = tkfac::random_spd(16, 100.0, rng);   // eigenvalues log-spaced in [1, 100]
#include <Eigen/Dense>
#include <random>

namespace tkfac {

// Q diag(eigenvalues) Q^T with Q a random orthogonal matrix (QR of a Gaussian matrix), exactly
// symmetric.
Eigen::MatrixXd spd_with_spectrum(const Eigen::VectorXd& eigenvalues, std::mt19937_64& rng);

// Size n, eigenvalues log-spaced from scale to scale * kappa (condition number kappa).
Eigen::MatrixXd random_spd(int n, double kappa, std::mt19937_64& rng, double scale = 1.0);

// Standard normal entries.
Eigen::MatrixXd random_normal(Eigen::Index rows, Eigen::Index cols, std::mt19937_64& rng);

}  // namespace tkfac
