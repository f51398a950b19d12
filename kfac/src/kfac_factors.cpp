// K-FAC's factor math for one batch: the Kronecker factors' arrays and Gram matrices, the
// Fisher's backward pass, the preconditioned gradient's input and the damping pair.
#include "tkfac/kfac/kfac_factors.hpp"

#include <cmath>

#include "tkfac/core/dense.hpp"
#include "tkfac/kfac/loss.hpp"

namespace tkfac::kfac {

namespace {

// (x x^T) * scale as an exactly symmetric matrix (the solvers check symmetry): the lower
// triangle by a rank update (BLAS syrk), mirrored.
Eigen::MatrixXd gram(const Eigen::MatrixXd& x, double scale) {
  Eigen::MatrixXd m = Eigen::MatrixXd::Zero(x.rows(), x.rows());
  m.selfadjointView<Eigen::Lower>().rankUpdate(x, scale);
  dense::mirror_lower(m);
  return m;
}

}  // namespace

LayerFactors layer_factors(const KfacLayer& layer, BiasMode bias) {
  const Eigen::MatrixXd& a = layer.inputs();
  const double b = static_cast<double>(a.cols());
  LayerFactors f;
  if (bias == BiasMode::folded) {
    f.a_array.resize(a.rows() + 1, a.cols());
    f.a_array.topRows(a.rows()) = a;
    f.a_array.bottomRows(1).setOnes();
  } else {
    f.a_array = a;
  }
  f.a = gram(f.a_array, 1.0 / b);
  // Per-example g = b * dL/ds (the loss is a batch mean), so G_batch = (1/b) sum g g^T
  // = b * sum (dL/ds)(dL/ds)^T, computed in that second form (one rounding less).
  const Eigen::MatrixXd& ds = layer.output_gradients();
  f.g_array = b * ds;
  f.g = gram(ds, b);
  return f;
}

Backward fisher_backward(const Mlp& net, const ForwardCache& cache, const Eigen::MatrixXd& logits,
                         const Backward& loss_backward, FisherType fisher, std::mt19937_64& rng) {
  if (fisher == FisherType::empirical) return loss_backward;
  // Monte-Carlo Fisher: back-propagate the loss of labels drawn from the model's own
  // predictive distribution (Martens & Grosse 2015, section 5).
  const std::vector<int> sampled = sample_labels(logits, rng);
  Eigen::MatrixXd dlogits;
  softmax_cross_entropy(logits, sampled, &dlogits);
  return net.backward(cache, dlogits, false);
}

Eigen::MatrixXd kfac_gradient(const Eigen::MatrixXd& loss_gradient, const Eigen::MatrixXd& weights,
                              const KfacOptions& options) {
  if (options.weight_decay > 0) return loss_gradient + options.weight_decay * weights;
  return loss_gradient;
}

std::pair<double, double> damping_pair(const KfacOptions& options, const Eigen::MatrixXd& a,
                                       const Eigen::MatrixXd& g) {
  const double root = std::sqrt(options.damping);
  if (options.damping_scheme == DampingScheme::tikhonov) return {root, root};
  // Factored Tikhonov damping (Martens & Grosse 2015, section 6.3): pi balances the two factors'
  // average eigenvalues so that lambda_A * lambda_G = lambda.
  const double ta = a.trace() / static_cast<double>(a.rows());
  const double tg = g.trace() / static_cast<double>(g.rows());
  const double pi = (ta > 0 && tg > 0 && std::isfinite(ta / tg)) ? std::sqrt(ta / tg) : 1.0;
  return {pi * root, root / pi};
}

BatchFactors batch_factors(const Mlp& net, const Batch& batch, const KfacOptions& options,
                           std::mt19937_64& rng) {
  ForwardCache cache;
  LossAndGradient lg = loss_and_gradient(net, batch, cache);
  const Backward fisher = fisher_backward(net, cache, lg.logits, lg.backward, options.fisher, rng);
  BatchFactors out;
  out.loss = lg.loss;
  for (const DenseLayer& layer : kfac_layers(net, cache, lg.backward, fisher)) {
    out.layers.push_back(layer_factors(layer, options.bias));
    out.gradients.push_back(kfac_gradient(layer.weight_gradient(), layer.weights(), options));
  }
  return out;
}

}  // namespace tkfac::kfac
