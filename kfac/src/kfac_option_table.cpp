// The description of KfacOptions' own fields (one line each; the solver's options have their
// own tables in cosim).
#include <string_view>

#include "tkfac/kfac/kfac_optimizer.hpp"

namespace tkfac::kfac {

const options::OptionTable<KfacOptions>& kfac_option_table() {
  using namespace tkfac::options;
  using O = KfacOptions;
  // --lr, --momentum, --weight-decay and --seed also set sgd's, adam's and the trainer's values,
  // so `tkfac train` adds them itself (shared); the table names them in messages and JSON.
  static const OptionTable<O> table = {
      shared(field("learning_rate", "--lr", &O::learning_rate, "learning rate of kfac",
                   positive("a finite learning rate > 0"))),
      field("damping", "--damping", &O::damping, "kfac: lambda", positive("a finite number > 0")),
      enum_field(
          "damping_scheme", "--damping-scheme", &O::damping_scheme,
          [](std::string_view t, std::string_view o) { return parse_damping_scheme(t, o); },
          [](DampingScheme v) { return to_string(v); }, {"tikhonov", "pi"},
          "kfac: pi | tikhonov (lambda_A = lambda_G = sqrt(lambda))"),
      field("ema_decay", "--ema-decay", &O::ema_decay,
            "kfac: beta in A <- beta A + (1-beta) A_batch", unit_interval("a number in [0, 1)")),
      enum_field(
          "ema_init", "--ema-init", &O::ema_init,
          [](std::string_view t, std::string_view o) { return parse_ema_init(t, o); },
          [](EmaInit v) { return to_string(v); }, {"first-batch", "zero"},
          "kfac: first-batch | zero (ASDL)"),
      field("factor_update_interval", "--factor-interval", &O::factor_update_interval,
            "kfac: steps between factor updates", at_least_one("a step count >= 1")),
      field("inverse_update_interval", "--inverse-interval", &O::inverse_update_interval,
            "kfac: steps between inverse refreshes (method inverse)",
            at_least_one("a step count >= 1")),
      enum_field(
          "method", "--method", &O::method,
          [](std::string_view t, std::string_view o) { return parse_kfac_method(t, o); },
          [](KfacMethod v) { return to_string(v); }, {"inverse", "solve"},
          "kfac: inverse (1: invert factors) | solve (2: fresh linear solves)"),
      field("kl_clip", "--kl-clip", &O::kl_clip, "kfac: KL clipping bound (0: off)",
            non_negative("a finite bound >= 0 (0: off)")),
      shared(field("momentum", "--momentum", &O::momentum, "kfac momentum",
                   unit_interval("a number in [0, 1)"))),
      shared(field("weight_decay", "--weight-decay", &O::weight_decay, "kfac: L2",
                   non_negative("a finite number >= 0"))),
      enum_field(
          "fisher", "--fisher", &O::fisher,
          [](std::string_view t, std::string_view o) { return parse_fisher_type(t, o); },
          [](FisherType v) { return to_string(v); }, {"empirical", "mc"},
          "kfac: empirical | mc (labels sampled from the model)"),
      enum_field(
          "bias", "--bias", &O::bias,
          [](std::string_view t, std::string_view o) { return parse_bias_mode(t, o); },
          [](BiasMode v) { return to_string(v); }, {"folded", "separate"},
          "kfac: folded (Eq. 4, ones entry in A) | separate (ASDL)"),
      shared(field("seed", "--seed", &O::seed, "Monte-Carlo Fisher label sampling")),
      choice_field("solve_start", "--solve-start", &O::solve_start, {"cold", "previous"},
                   "kfac, circuit solvers: runs start cold (zero) | previous (last step's "
                   "solutions, Method 2; inverses in use, Method 1 unit_rhs); with a finite "
                   "analog time the Thermodynamic NGD knob"),
  };
  return table;
}

}  // namespace tkfac::kfac
