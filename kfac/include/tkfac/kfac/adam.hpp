#pragma once
// Adam and AdamW (decoupled weight decay).
//
//   tkfac::kfac::Adam adam({.learning_rate = 1e-3, .weight_decay = 1e-2, .decoupled = true});
//   adam.step(net, batch);
//
// Update at step t (1-based): m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
// W -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps). Weight decay: Adam adds wd * W to g;
// AdamW (decoupled) first does W -= lr * wd * W. Decay applies to all parameters, biases too.
#include <nlohmann/json_fwd.hpp>

#include "tkfac/kfac/optimizer.hpp"

namespace tkfac::kfac {

struct AdamOptions {
  double learning_rate = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
  double weight_decay = 0.0;
  bool decoupled = false;  // true: AdamW
  void validate() const;   // throws InputError naming the option
};
nlohmann::json to_json(const AdamOptions& options);
AdamOptions adam_options_from_json(const nlohmann::json& j);

class Adam final : public Optimizer {
 public:
  explicit Adam(AdamOptions options = {});
  std::string_view name() const override { return options_.decoupled ? "adamw" : "adam"; }
  StepReport step(Mlp& net, const Batch& batch) override;
  long steps() const override { return steps_; }
  nlohmann::json state() const override;
  void load_state(const nlohmann::json& state, const Mlp& net) override;
  const AdamOptions& options() const { return options_; }

 private:
  AdamOptions options_;
  long steps_ = 0;
  std::vector<Eigen::MatrixXd> m_, v_;
  ForwardCache cache_;
};

}  // namespace tkfac::kfac
