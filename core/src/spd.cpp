#include "tkfac/core/spd.hpp"

#include <cmath>

namespace tkfac {

Eigen::MatrixXd random_normal(Eigen::Index rows, Eigen::Index cols, std::mt19937_64& rng) {
  std::normal_distribution<double> normal;
  Eigen::MatrixXd g(rows, cols);
  // Filled row by row so the values do not depend on Eigen's storage order.
  for (Eigen::Index i = 0; i < rows; ++i)
    for (Eigen::Index j = 0; j < cols; ++j) g(i, j) = normal(rng);
  return g;
}

Eigen::MatrixXd spd_with_spectrum(const Eigen::VectorXd& eigenvalues, std::mt19937_64& rng) {
  const Eigen::Index n = eigenvalues.size();
  const Eigen::HouseholderQR<Eigen::MatrixXd> qr(random_normal(n, n, rng));
  const Eigen::MatrixXd q = qr.householderQ();
  const Eigen::MatrixXd m = q * eigenvalues.asDiagonal() * q.transpose();
  return 0.5 * (m + m.transpose());
}

Eigen::MatrixXd random_spd(int n, double kappa, std::mt19937_64& rng, double scale) {
  Eigen::VectorXd eig(n);
  for (int i = 0; i < n; ++i) {
    eig(i) = scale * (n == 1 ? 1.0 : std::pow(kappa, static_cast<double>(i) / (n - 1)));
  }
  return spd_with_spectrum(eig, rng);
}

}  // namespace tkfac
