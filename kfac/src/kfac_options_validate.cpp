// KfacOptions::validate (its table's checks name the command-line option, then the solver's)
// and the ASDL preset.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "tkfac/core/error.hpp"
#include "tkfac/kfac/kfac_options.hpp"
#include "tkfac/solver/linear_solver.hpp"

namespace tkfac::kfac {

void KfacOptions::validate() const {
  options::check(kfac_option_table(), *this);
  const auto known = solver::LinearSolver::backends();
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
