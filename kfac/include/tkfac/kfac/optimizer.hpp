#pragma once
// The interface every optimizer implements (SGD, Adam/AdamW, K-FAC), in the ensmallen manner:
// hyperparameters live in the optimizer's Options struct (defaults + validate()), one step()
// call does forward, backward and the update on one batch, and loops/callbacks live in the
// Trainer (trainer.hpp), not here.
//
//   tkfac::kfac::Adam adam({.learning_rate = 1e-3});
//   tkfac::kfac::StepReport r = adam.step(net, batch);   // r.loss: batch loss before the update
//   nlohmann::json s = adam.state();                     // everything the next step depends on
#include <Eigen/Dense>
#include <nlohmann/json_fwd.hpp>
#include <string_view>
#include <vector>

#include "tkfac/kfac/mlp.hpp"

namespace tkfac::kfac {

// One mini-batch: inputs one example per column, labels one per column.
struct Batch {
  Eigen::MatrixXd x;
  std::vector<int> y;
};

struct StepReport {
  double loss = 0.0;                 // batch loss before the update
  double accuracy = 0.0;             // batch accuracy before the update
  double analog_seconds = 0.0;       // simulated circuit time of this step's solves (0: digital)
  double solver_wall_seconds = 0.0;  // wall time spent inside LinearSolver calls
  int solves = 0;                    // LinearSolver calls in this step
  long simulator_steps = 0;          // circuit solvers: time points of this step's runs
  bool converged = true;             // false if any solve reported non-convergence
  double kl_scale = 1.0;             // K-FAC: factor applied by KL clipping (1: not clipped)
  // Wall-time breakdown of the step (bench/kfac_step): forward + backward, factor construction
  // (K-FAC), and everything after (preconditioning, clipping, parameter update); the part of
  // update_seconds spent in LinearSolver calls is solver_wall_seconds.
  double gradient_seconds = 0.0;
  double factor_seconds = 0.0;
  double update_seconds = 0.0;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual std::string_view name() const = 0;
  // One update of net's parameters from one batch (mean-reduced softmax cross-entropy).
  virtual StepReport step(Mlp& net, const Batch& batch) = 0;
  // Steps taken so far (restored by load_state).
  virtual long steps() const = 0;
  // Optimizer state as JSON (moments, factors, RNG, step count); doubles round-trip exactly.
  virtual nlohmann::json state() const = 0;
  // Restores state() output for a network of `net`'s shape; throws InputError if it does not fit.
  virtual void load_state(const nlohmann::json& state, const Mlp& net) = 0;
};

// Forward + loss + backward shared by the optimizers: fills `cache` and returns the gradients.
struct LossAndGradient {
  double loss = 0.0;
  double accuracy = 0.0;
  Eigen::MatrixXd logits;
  Backward backward;
};
LossAndGradient loss_and_gradient(const Mlp& net, const Batch& batch, ForwardCache& cache);

}  // namespace tkfac::kfac
