#include "tkfac/kfac/optimizer.hpp"

#include "tkfac/kfac/loss.hpp"

namespace tkfac::kfac {

LossAndGradient loss_and_gradient(const Mlp& net, const Batch& batch, ForwardCache& cache) {
  LossAndGradient out;
  out.logits = net.forward(batch.x, &cache);
  Eigen::MatrixXd dlogits;
  out.loss = softmax_cross_entropy(out.logits, batch.y, &dlogits);
  out.accuracy = accuracy(out.logits, batch.y);
  out.backward = net.backward(cache, dlogits);
  return out;
}

}  // namespace tkfac::kfac
