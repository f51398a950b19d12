#include "tkfac/kfac/kfac_layer.hpp"

#include <stdexcept>

namespace tkfac::kfac {

void DenseLayer::apply_update(double learning_rate, const Eigen::MatrixXd& direction) {
  if (!mutable_weights_)
    throw std::logic_error("DenseLayer: a view of a const network cannot be updated");
  *mutable_weights_ -= learning_rate * direction;
}

}  // namespace tkfac::kfac
