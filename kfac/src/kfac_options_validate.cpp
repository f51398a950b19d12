// KfacOptions::validate (messages name the command-line option) and the ASDL preset.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

#include "tkfac/core/error.hpp"
#include "tkfac/kfac/kfac_options.hpp"

namespace tkfac::kfac {

void KfacOptions::validate() const {
  if (!(learning_rate > 0) || !std::isfinite(learning_rate)) {
    throw InputError(
        fmt::format("--lr: learning rate must be positive and finite, got {}", learning_rate));
  }
  if (!(damping > 0) || !std::isfinite(damping)) {
    throw InputError(fmt::format("--damping: must be positive and finite, got {}", damping));
  }
  if (!(ema_decay >= 0 && ema_decay < 1)) {
    throw InputError(fmt::format("--ema-decay: must be in [0, 1), got {}", ema_decay));
  }
  if (factor_update_interval < 1) {
    throw InputError(
        fmt::format("--factor-interval: must be >= 1, got {}", factor_update_interval));
  }
  if (inverse_update_interval < 1) {
    throw InputError(
        fmt::format("--inverse-interval: must be >= 1, got {}", inverse_update_interval));
  }
  if (!(kl_clip >= 0) || !std::isfinite(kl_clip)) {
    throw InputError(fmt::format("--kl-clip: must be >= 0 (0: off), got {}", kl_clip));
  }
  if (!(momentum >= 0 && momentum < 1)) {
    throw InputError(fmt::format("--momentum: must be in [0, 1), got {}", momentum));
  }
  if (!(weight_decay >= 0) || !std::isfinite(weight_decay)) {
    throw InputError(fmt::format("--weight-decay: must be >= 0, got {}", weight_decay));
  }
  const auto known = cosim::LinearSolver::backends();
  if (std::find(known.begin(), known.end(), solver.backend) == known.end()) {
    throw InputError(
        fmt::format("--solver: unknown factor solver backend '{}' (expected one of: {})",
                    solver.backend, fmt::join(known, ", ")));
  }
  solver.validate();
}

KfacOptions asdl_options(double learning_rate, double damping, double asdl_ema_decay) {
  KfacOptions o;
  o.learning_rate = learning_rate;
  o.damping = damping;
  o.damping_scheme = DampingScheme::pi;
  o.ema_decay = 1.0 - asdl_ema_decay;
  o.ema_init = EmaInit::zero;
  o.bias = BiasMode::separate;
  o.fisher = FisherType::empirical;
  return o;
}

}  // namespace tkfac::kfac
