#pragma once
// Softmax cross-entropy, mean-reduced over the batch.
//
//   Eigen::MatrixXd dlogits;
//   double loss = tkfac::kfac::softmax_cross_entropy(logits, labels, &dlogits);
//   // dlogits = (softmax(logits) - onehot(labels)) / batch
//
// Labels are class indices 0 .. classes-1, one per column of `logits`.
#include <Eigen/Dense>
#include <random>
#include <vector>

namespace tkfac::kfac {

// Column-wise softmax (shifted by the column maximum for stability).
Eigen::MatrixXd softmax(const Eigen::MatrixXd& logits);

// Mean over the batch of -log softmax(logits)[label]. Fills dL/dlogits when asked.
double softmax_cross_entropy(const Eigen::MatrixXd& logits, const std::vector<int>& labels,
                             Eigen::MatrixXd* dlogits = nullptr);

// Fraction of columns whose largest logit is at the label (first maximum on ties).
double accuracy(const Eigen::MatrixXd& logits, const std::vector<int>& labels);

// One label per column drawn from softmax(logits): the Monte-Carlo Fisher's sampled targets.
// Uses rng() directly (53-bit uniforms, inverse CDF), so it is the same on every platform.
std::vector<int> sample_labels(const Eigen::MatrixXd& logits, std::mt19937_64& rng);

}  // namespace tkfac::kfac
