#include "tkfac/kfac/adam.hpp"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "json_util.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/kfac/kfac_options.hpp"

namespace tkfac::kfac {

void AdamOptions::validate() const {
  // The learning rate and weight decay flags are K-FAC's table lines, shared by every optimizer
  // (Field::shared_flag): one flag sets them all.
  const auto flag = [](const char* field) -> const std::string& {
    return options::flag_of(kfac_option_table(), field);
  };
  if (!(learning_rate > 0) || !std::isfinite(learning_rate)) {
    throw InputError(fmt::format("{}: learning rate must be positive and finite, got {}",
                                 flag("learning_rate"), learning_rate));
  }
  if (!(beta1 >= 0 && beta1 < 1))
    throw InputError(fmt::format("--beta1: must be in [0, 1), got {}", beta1));
  if (!(beta2 >= 0 && beta2 < 1))
    throw InputError(fmt::format("--beta2: must be in [0, 1), got {}", beta2));
  if (!(epsilon > 0)) throw InputError(fmt::format("--epsilon: must be positive, got {}", epsilon));
  if (!(weight_decay >= 0) || !std::isfinite(weight_decay)) {
    throw InputError(fmt::format("{}: must be >= 0, got {}", flag("weight_decay"), weight_decay));
  }
}

nlohmann::json to_json(const AdamOptions& o) {
  return {{"learning_rate", o.learning_rate},
          {"beta1", o.beta1},
          {"beta2", o.beta2},
          {"epsilon", o.epsilon},
          {"weight_decay", o.weight_decay},
          {"decoupled", o.decoupled}};
}

AdamOptions adam_options_from_json(const nlohmann::json& j) {
  const std::string what = "adam options";
  AdamOptions o;
  o.learning_rate = detail::get_or(j, "learning_rate", o.learning_rate, what);
  o.beta1 = detail::get_or(j, "beta1", o.beta1, what);
  o.beta2 = detail::get_or(j, "beta2", o.beta2, what);
  o.epsilon = detail::get_or(j, "epsilon", o.epsilon, what);
  o.weight_decay = detail::get_or(j, "weight_decay", o.weight_decay, what);
  o.decoupled = detail::get_or(j, "decoupled", o.decoupled, what);
  return o;
}

Adam::Adam(AdamOptions options) : options_(options) { options_.validate(); }

StepReport Adam::step(Mlp& net, const Batch& batch) {
  LossAndGradient lg = loss_and_gradient(net, batch, cache_);
  auto& ws = net.weights();
  if (m_.size() != ws.size()) {
    m_.clear();
    v_.clear();
    for (const auto& w : ws) {
      m_.push_back(Eigen::MatrixXd::Zero(w.rows(), w.cols()));
      v_.push_back(Eigen::MatrixXd::Zero(w.rows(), w.cols()));
    }
  }
  ++steps_;
  const auto& o = options_;
  const double c1 = 1.0 - std::pow(o.beta1, static_cast<double>(steps_));
  const double c2 = 1.0 - std::pow(o.beta2, static_cast<double>(steps_));
  for (std::size_t l = 0; l < ws.size(); ++l) {
    Eigen::MatrixXd g = std::move(lg.backward.grads[l]);
    if (o.weight_decay > 0) {
      if (o.decoupled) {
        ws[l] *= 1.0 - o.learning_rate * o.weight_decay;
      } else {
        g += o.weight_decay * ws[l];
      }
    }
    m_[l] = o.beta1 * m_[l] + (1.0 - o.beta1) * g;
    v_[l] = o.beta2 * v_[l] + (1.0 - o.beta2) * g.cwiseAbs2();
    ws[l].array() -=
        o.learning_rate * (m_[l].array() / c1) / ((v_[l].array() / c2).sqrt() + o.epsilon);
  }
  StepReport r;
  r.loss = lg.loss;
  r.accuracy = lg.accuracy;
  return r;
}

nlohmann::json Adam::state() const {
  nlohmann::json m = nlohmann::json::array(), v = nlohmann::json::array();
  for (const auto& x : m_) m.push_back(detail::matrix_to_json(x));
  for (const auto& x : v_) v.push_back(detail::matrix_to_json(x));
  return {{"steps", steps_}, {"m", m}, {"v", v}};
}

void Adam::load_state(const nlohmann::json& state, const Mlp& net) {
  const std::string what = "adam state";
  const long steps = detail::get_count(state, "steps", what);
  const auto m = detail::get<nlohmann::json>(state, "m", what);
  const auto v = detail::get<nlohmann::json>(state, "v", what);
  const std::size_t n = net.weights().size();
  if (!m.is_array() || !v.is_array() || m.size() != v.size() || (!m.empty() && m.size() != n)) {
    throw InputError(
        fmt::format("{}: moments for {} layers, the network has {}", what, m.size(), n));
  }
  std::vector<Eigen::MatrixXd> mm, vv;
  for (std::size_t l = 0; l < m.size(); ++l) {
    const auto r = net.weights()[l].rows(), c = net.weights()[l].cols();
    mm.push_back(detail::matrix_from_json(m[l], fmt::format("{}: m[{}]", what, l), r, c));
    vv.push_back(detail::matrix_from_json(v[l], fmt::format("{}: v[{}]", what, l), r, c));
    if ((vv.back().array() < 0).any()) {  // a mean of squares; sqrt(v) in the update
      throw InputError(fmt::format("{}: v[{}] has a negative entry", what, l));
    }
  }
  steps_ = steps;
  m_ = std::move(mm);
  v_ = std::move(vv);
}

}  // namespace tkfac::kfac
