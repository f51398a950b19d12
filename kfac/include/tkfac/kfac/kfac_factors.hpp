#pragma once
// What one K-FAC step computes from a network and a batch before any solve: each layer's batch
// Kronecker factors, the arrays they are Gram matrices of, and the gradient. Kfac::step calls
// these same functions, so a tool that shows "the factor K-FAC computes for this batch" shows
// exactly that (tkfac netlist --model).
//
//   tkfac::kfac::KfacOptions opt;                 // bias, fisher, weight decay, damping scheme
//   std::mt19937_64 rng(opt.seed);                // Monte-Carlo Fisher only
//   tkfac::kfac::BatchFactors f = tkfac::kfac::batch_factors(net, batch, opt, rng);
//   const auto& l = f.layers[0];                  // l.a == l.a_array l.a_array^T / b
//   auto [lambda_a, lambda_g] = tkfac::kfac::damping_pair(opt, l.a, l.g);
//
// Per layer, b the batch size (kfac_optimizer.hpp states the conventions):
//   a_array = [a; 1] per example (bias folded) or a (bias separate), N_A x b;
//   g_array = b * dL/ds per example (the loss is a batch mean), n_out x b;
//   A_batch = a_array a_array^T / b,  G_batch = g_array g_array^T / b.
#include <Eigen/Dense>
#include <random>
#include <utility>
#include <vector>

#include "tkfac/kfac/kfac_layer.hpp"
#include "tkfac/kfac/kfac_options.hpp"
#include "tkfac/kfac/mlp.hpp"
#include "tkfac/kfac/optimizer.hpp"

namespace tkfac::kfac {

struct LayerFactors {
  Eigen::MatrixXd a_array;  // N_A x b
  Eigen::MatrixXd g_array;  // n_out x b
  Eigen::MatrixXd a;        // A_batch, exactly symmetric
  Eigen::MatrixXd g;        // G_batch, exactly symmetric
};

// A layer's factors from its inputs and the output gradients of the Fisher's loss (true labels
// for the empirical Fisher, sampled ones for the Monte-Carlo Fisher).
LayerFactors layer_factors(const KfacLayer& layer, BiasMode bias);

// The backward pass whose output gradients define G: `loss_backward` itself (empirical Fisher)
// or that of labels drawn from the model's softmax with `rng` (Monte-Carlo Fisher).
Backward fisher_backward(const Mlp& net, const ForwardCache& cache, const Eigen::MatrixXd& logits,
                         const Backward& loss_backward, FisherType fisher, std::mt19937_64& rng);

// The gradient K-FAC preconditions: dW_bar of the mean loss plus weight_decay * W_bar.
Eigen::MatrixXd kfac_gradient(const Eigen::MatrixXd& loss_gradient, const Eigen::MatrixXd& weights,
                              const KfacOptions& options);

// (lambda_A, lambda_G) that `options` give for factors a and g (tikhonov or pi damping).
std::pair<double, double> damping_pair(const KfacOptions& options, const Eigen::MatrixXd& a,
                                       const Eigen::MatrixXd& g);

struct BatchFactors {
  std::vector<LayerFactors> layers;
  std::vector<Eigen::MatrixXd> gradients;  // kfac_gradient per layer
  double loss = 0.0;                       // batch loss at the current parameters
};

// Forward, loss, backward, Fisher and factors of `batch`, as Kfac::step computes them.
BatchFactors batch_factors(const Mlp& net, const Batch& batch, const KfacOptions& options,
                           std::mt19937_64& rng);

}  // namespace tkfac::kfac
