#pragma once
// Stochastic gradient descent with (optionally Nesterov) momentum and L2 weight decay.
//
//   tkfac::kfac::Sgd sgd({.learning_rate = 0.1, .momentum = 0.9, .nesterov = true});
//   sgd.step(net, batch);
//
// Update (PyTorch convention): g += wd * W;  v = mu v + g;  d = nesterov ? g + mu v : v;
// W -= lr d.
#include <nlohmann/json_fwd.hpp>

#include "tkfac/kfac/optimizer.hpp"

namespace tkfac::kfac {

struct SgdOptions {
  double learning_rate = 0.01;
  double momentum = 0.0;      // mu in [0, 1)
  bool nesterov = false;      // needs momentum > 0
  double weight_decay = 0.0;  // L2 coefficient, >= 0
  void validate() const;      // throws InputError naming the option
};
nlohmann::json to_json(const SgdOptions& options);
SgdOptions sgd_options_from_json(const nlohmann::json& j);

class Sgd final : public Optimizer {
 public:
  explicit Sgd(SgdOptions options = {});
  std::string_view name() const override { return "sgd"; }
  StepReport step(Mlp& net, const Batch& batch) override;
  long steps() const override { return steps_; }
  nlohmann::json state() const override;
  void load_state(const nlohmann::json& state, const Mlp& net) override;
  const SgdOptions& options() const { return options_; }

 private:
  SgdOptions options_;
  long steps_ = 0;
  std::vector<Eigen::MatrixXd> velocity_;
  ForwardCache cache_;
};

}  // namespace tkfac::kfac
