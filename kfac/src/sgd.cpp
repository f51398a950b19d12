#include "tkfac/kfac/sgd.hpp"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "json_util.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/kfac/kfac_options.hpp"

namespace tkfac::kfac {

void SgdOptions::validate() const {
  // The learning rate, momentum and weight decay flags are K-FAC's table lines, shared by every
  // optimizer (Field::shared_flag): one flag sets them all.
  const auto flag = [](const char* field) -> const std::string& {
    return options::flag_of(kfac_option_table(), field);
  };
  if (!(learning_rate > 0) || !std::isfinite(learning_rate)) {
    throw InputError(fmt::format("{}: learning rate must be positive and finite, got {}",
                                 flag("learning_rate"), learning_rate));
  }
  if (!(momentum >= 0 && momentum < 1)) {
    throw InputError(fmt::format("{}: must be in [0, 1), got {}", flag("momentum"), momentum));
  }
  if (nesterov && momentum == 0) {
    throw InputError(fmt::format("--nesterov: needs {} > 0", flag("momentum")));
  }
  if (!(weight_decay >= 0) || !std::isfinite(weight_decay)) {
    throw InputError(fmt::format("{}: must be >= 0, got {}", flag("weight_decay"), weight_decay));
  }
}

nlohmann::json to_json(const SgdOptions& o) {
  return {{"learning_rate", o.learning_rate},
          {"momentum", o.momentum},
          {"nesterov", o.nesterov},
          {"weight_decay", o.weight_decay}};
}

SgdOptions sgd_options_from_json(const nlohmann::json& j) {
  const std::string what = "sgd options";
  SgdOptions o;
  o.learning_rate = detail::get_or(j, "learning_rate", o.learning_rate, what);
  o.momentum = detail::get_or(j, "momentum", o.momentum, what);
  o.nesterov = detail::get_or(j, "nesterov", o.nesterov, what);
  o.weight_decay = detail::get_or(j, "weight_decay", o.weight_decay, what);
  return o;
}

Sgd::Sgd(SgdOptions options) : options_(options) { options_.validate(); }

StepReport Sgd::step(Mlp& net, const Batch& batch) {
  LossAndGradient lg = loss_and_gradient(net, batch, cache_);
  auto& ws = net.weights();
  if (velocity_.size() != ws.size()) {
    velocity_.clear();
    for (const auto& w : ws) velocity_.push_back(Eigen::MatrixXd::Zero(w.rows(), w.cols()));
  }
  const double mu = options_.momentum;
  for (std::size_t l = 0; l < ws.size(); ++l) {
    Eigen::MatrixXd g = std::move(lg.backward.grads[l]);
    if (options_.weight_decay > 0) g += options_.weight_decay * ws[l];
    if (mu > 0) {
      velocity_[l] = mu * velocity_[l] + g;
      if (options_.nesterov) {
        ws[l] -= options_.learning_rate * (g + mu * velocity_[l]);
      } else {
        ws[l] -= options_.learning_rate * velocity_[l];
      }
    } else {
      ws[l] -= options_.learning_rate * g;
    }
  }
  ++steps_;
  StepReport r;
  r.loss = lg.loss;
  r.accuracy = lg.accuracy;
  return r;
}

nlohmann::json Sgd::state() const {
  nlohmann::json v = nlohmann::json::array();
  for (const auto& m : velocity_) v.push_back(detail::matrix_to_json(m));
  return {{"steps", steps_}, {"velocity", v}};
}

void Sgd::load_state(const nlohmann::json& state, const Mlp& net) {
  const std::string what = "sgd state";
  const long steps = detail::get_count(state, "steps", what);
  const auto v = detail::get<nlohmann::json>(state, "velocity", what);
  std::vector<Eigen::MatrixXd> vel;
  if (!v.is_array() || (!v.empty() && v.size() != net.weights().size())) {
    throw InputError(fmt::format("{}: velocity for {} layers, the network has {}", what, v.size(),
                                 net.weights().size()));
  }
  for (std::size_t l = 0; l < v.size(); ++l) {
    vel.push_back(detail::matrix_from_json(v[l], fmt::format("{}: velocity[{}]", what, l),
                                           net.weights()[l].rows(), net.weights()[l].cols()));
  }
  steps_ = steps;
  velocity_ = std::move(vel);
}

}  // namespace tkfac::kfac
