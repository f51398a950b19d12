#pragma once
// What K-FAC needs from one layer for one batch, so that the optimizer works on layers, not on a
// particular network type. A network hands K-FAC one KfacLayer per layer (Mlp: kfac_layers() in
// mlp.hpp gives DenseLayer views of its cache and backward passes).
//
//   std::vector<tkfac::kfac::DenseLayer> layers = tkfac::kfac::kfac_layers(net, cache, bw, bw);
//   const tkfac::kfac::KfacLayer& l = layers[0];
//   // l.inputs(): a, n_in x b;  l.output_gradients(): dL/ds, n_out x b;
//   // l.weight_gradient(), l.weights(): n_out x (n_in + 1);  layers[0].apply_update(lr, U);
//
// Every layer is a linear map s = W_bar [a; 1] of some input columns a (bias in W_bar's last
// column), so K-FAC's factors are A = a_bar a_bar^T / b and G = b^2 (dL/ds)(dL/ds)^T / b over the
// columns (kfac_factors.hpp).
//
// A convolution plugs in as a KfacLayer whose columns are its unfolded input patches (the
// im2col of the layer's input, c_in k_h k_w rows) and the matching output gradients, with W_bar
// the kernel reshaped to c_out x (c_in k_h k_w + 1) and apply_update reshaping back. Which columns
// it gives chooses the approximation of Eschenhagen et al. 2023: "expand" gives one column per
// example and output position (weight sharing treated as more examples), "reduce" one column per
// example, patches averaged and output gradients summed over positions. The factor code then runs
// unchanged; only the 1/b scales need the layer's own convention (expand: b = examples x
// positions for A).
#include <Eigen/Dense>

namespace tkfac::kfac {

class KfacLayer {
 public:
  virtual ~KfacLayer() = default;
  // a: the layer's input columns over the batch, n_in x b (without the ones entry).
  virtual const Eigen::MatrixXd& inputs() const = 0;
  // dL/ds per column for the loss that defines the Fisher (true or sampled labels), n_out x b.
  // For a mean-reduced loss every column carries the 1/b factor.
  virtual const Eigen::MatrixXd& output_gradients() const = 0;
  // dL/dW_bar of the mean training loss, n_out x (n_in + 1), bias gradient in the last column.
  virtual const Eigen::MatrixXd& weight_gradient() const = 0;
  // The parameters W_bar, n_out x (n_in + 1).
  virtual const Eigen::MatrixXd& weights() const = 0;
  // W_bar <- W_bar - learning_rate * direction (direction has W_bar's shape).
  virtual void apply_update(double learning_rate, const Eigen::MatrixXd& direction) = 0;
};

// A dense layer: views of matrices its network owns, which must outlive it. Built from a const
// network it is read-only (apply_update throws std::logic_error).
class DenseLayer final : public KfacLayer {
 public:
  DenseLayer(const Eigen::MatrixXd& inputs, const Eigen::MatrixXd& output_gradients,
             const Eigen::MatrixXd& weight_gradient, const Eigen::MatrixXd& weights,
             Eigen::MatrixXd* mutable_weights)
      : inputs_(&inputs),
        output_gradients_(&output_gradients),
        weight_gradient_(&weight_gradient),
        weights_(&weights),
        mutable_weights_(mutable_weights) {}
  const Eigen::MatrixXd& inputs() const override { return *inputs_; }
  const Eigen::MatrixXd& output_gradients() const override { return *output_gradients_; }
  const Eigen::MatrixXd& weight_gradient() const override { return *weight_gradient_; }
  const Eigen::MatrixXd& weights() const override { return *weights_; }
  void apply_update(double learning_rate, const Eigen::MatrixXd& direction) override;

 private:
  const Eigen::MatrixXd* inputs_;
  const Eigen::MatrixXd* output_gradients_;
  const Eigen::MatrixXd* weight_gradient_;
  const Eigen::MatrixXd* weights_;
  Eigen::MatrixXd* mutable_weights_;  // null: read-only view
};

}  // namespace tkfac::kfac
