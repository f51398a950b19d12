#pragma once
// A multilayer perceptron: linear layers with bias and an elementwise activation (tanh or ReLU)
// between them; the last layer outputs logits (softmax cross-entropy is in loss.hpp).
//
//   tkfac::kfac::Mlp net({49, 32, 10}, tkfac::kfac::Activation::tanh, /*seed=*/1);
//   tkfac::kfac::ForwardCache cache;
//   Eigen::MatrixXd logits = net.forward(x, &cache);     // x: 49 x batch, one example per column
//   tkfac::kfac::Backward bw = net.backward(cache, dlogits);  // bw.grads[l]: dL/dW_bar_l
//
// Layer l computes s_l = W_bar_l [a_l; 1] (docs/DESIGN.md section 4): the bias is the last column
// of W_bar_l, so every layer's parameters are one n_out x (n_in + 1) matrix.
#include <Eigen/Dense>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tkfac/kfac/kfac_layer.hpp"

namespace tkfac::kfac {

enum class Activation { tanh, relu };

// Throws InputError naming `option` and the accepted values.
Activation parse_activation(std::string_view text, std::string_view option = "--activation");
std::string_view to_string(Activation activation);

// What backward() needs from forward().
struct ForwardCache {
  std::vector<Eigen::MatrixXd> inputs;  // a_l: input of layer l, n_in x batch (no ones row)
  std::vector<Eigen::MatrixXd> pre;     // s_l: pre-activation output of layer l, n_out x batch
};

struct Backward {
  // dL/dW_bar_l, n_out x (n_in + 1), bias gradient in the last column.
  std::vector<Eigen::MatrixXd> grads;
  // dL/ds_l, n_out x batch, for the loss whose gradient was passed in (for a mean-reduced loss
  // every column carries the 1/b factor).
  std::vector<Eigen::MatrixXd> output_grads;
};

class Mlp {
 public:
  // `sizes` = {n_input, hidden..., n_output}, at least two entries, all positive.
  // Weights: Glorot normal (tanh) or He normal (ReLU) from a std::mt19937_64 seeded with `seed`;
  // biases zero. Throws InputError for bad sizes.
  Mlp(std::vector<int> sizes, Activation activation, std::uint64_t seed);
  // From given parameters (checks their shapes against `sizes`).
  Mlp(std::vector<int> sizes, Activation activation, std::vector<Eigen::MatrixXd> weights);

  const std::vector<int>& sizes() const { return sizes_; }
  Activation activation() const { return activation_; }
  int num_layers() const { return static_cast<int>(weights_.size()); }
  int input_size() const { return sizes_.front(); }
  int output_size() const { return sizes_.back(); }
  long num_parameters() const;

  // W_bar per layer (n_out x (n_in + 1)).
  const std::vector<Eigen::MatrixXd>& weights() const { return weights_; }
  std::vector<Eigen::MatrixXd>& weights() { return weights_; }

  // Logits, output_size x batch. Fills `cache` when given. Throws InputError if x has the wrong
  // number of rows.
  Eigen::MatrixXd forward(const Eigen::MatrixXd& x, ForwardCache* cache = nullptr) const;

  // Back-propagates dL/dlogits (output_size x batch). With `param_grads` false only
  // output_grads is filled (what the Monte-Carlo Fisher needs).
  Backward backward(const ForwardCache& cache, const Eigen::MatrixXd& dlogits,
                    bool param_grads = true) const;

 private:
  std::vector<int> sizes_;
  Activation activation_;
  std::vector<Eigen::MatrixXd> weights_;
};

// K-FAC's view of the network's layers for one batch (kfac_layer.hpp): inputs from `cache`,
// weight gradients from `loss` (the training loss's backward pass), output gradients from
// `fisher` (the Fisher's loss; `loss` itself for the empirical Fisher). The views refer to all
// four arguments, which must outlive them; from a const network they are read-only.
std::vector<DenseLayer> kfac_layers(Mlp& net, const ForwardCache& cache, const Backward& loss,
                                    const Backward& fisher);
std::vector<DenseLayer> kfac_layers(const Mlp& net, const ForwardCache& cache, const Backward& loss,
                                    const Backward& fisher);

// The largest layer size a network may have: far beyond what trains in memory, and small
// enough that no size arithmetic (n + 1, n * (n + 1)) overflows an int or a long.
inline constexpr int kMaxLayerSize = 1'000'000;

// Throws InputError naming `option` unless `text` is a comma-separated list of at least two
// integers in [1, kMaxLayerSize], e.g. "49,32,10".
std::vector<int> parse_layer_sizes(std::string_view text, std::string_view option = "--layers");

}  // namespace tkfac::kfac
