#include "tkfac/kfac/loss.hpp"

#include <fmt/format.h>

#include <cmath>

#include "tkfac/core/error.hpp"

namespace tkfac::kfac {

namespace {
void check_labels(const Eigen::MatrixXd& logits, const std::vector<int>& labels) {
  if (static_cast<Eigen::Index>(labels.size()) != logits.cols()) {
    throw InputError(fmt::format("loss: {} labels for {} examples", labels.size(), logits.cols()));
  }
  for (int y : labels) {
    if (y < 0 || y >= logits.rows()) {
      throw InputError(fmt::format("loss: label {} outside 0..{} (the network has {} outputs)", y,
                                   logits.rows() - 1, logits.rows()));
    }
  }
}
}  // namespace

Eigen::MatrixXd softmax(const Eigen::MatrixXd& logits) {
  Eigen::MatrixXd p = logits.rowwise() - logits.colwise().maxCoeff();
  p = p.array().exp().matrix();
  p.array().rowwise() /= p.colwise().sum().array();
  return p;
}

double softmax_cross_entropy(const Eigen::MatrixXd& logits, const std::vector<int>& labels,
                             Eigen::MatrixXd* dlogits) {
  check_labels(logits, labels);
  const Eigen::Index b = logits.cols();
  const Eigen::RowVectorXd mx = logits.colwise().maxCoeff();
  double loss = 0.0;
  for (Eigen::Index j = 0; j < b; ++j) {
    const double lse = mx(j) + std::log((logits.col(j).array() - mx(j)).exp().sum());
    loss += lse - logits(labels[static_cast<std::size_t>(j)], j);
  }
  if (dlogits) {
    *dlogits = softmax(logits);
    for (Eigen::Index j = 0; j < b; ++j) (*dlogits)(labels[static_cast<std::size_t>(j)], j) -= 1.0;
    *dlogits /= static_cast<double>(b);
  }
  return loss / static_cast<double>(b);
}

double accuracy(const Eigen::MatrixXd& logits, const std::vector<int>& labels) {
  check_labels(logits, labels);
  if (logits.cols() == 0) return 0.0;
  long correct = 0;
  for (Eigen::Index j = 0; j < logits.cols(); ++j) {
    Eigen::Index arg = 0;
    logits.col(j).maxCoeff(&arg);
    correct += arg == labels[static_cast<std::size_t>(j)];
  }
  return static_cast<double>(correct) / static_cast<double>(logits.cols());
}

std::vector<int> sample_labels(const Eigen::MatrixXd& logits, std::mt19937_64& rng) {
  const Eigen::MatrixXd p = softmax(logits);
  std::vector<int> out(static_cast<std::size_t>(p.cols()));
  for (Eigen::Index j = 0; j < p.cols(); ++j) {
    const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
    double c = 0.0;
    int k = static_cast<int>(p.rows()) - 1;
    for (Eigen::Index i = 0; i < p.rows(); ++i) {
      c += p(i, j);
      if (u < c) {
        k = static_cast<int>(i);
        break;
      }
    }
    out[static_cast<std::size_t>(j)] = k;
  }
  return out;
}

}  // namespace tkfac::kfac
