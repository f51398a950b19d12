#pragma once
// Choosing an optimizer by name, and the run specs of `tkfac train --compare`.
//
//   tkfac::kfac::OptimizerConfig cfg;           // holds the options of every optimizer
//   cfg.name = "kfac";
//   cfg.kfac.solver.backend = "cg";
//   std::unique_ptr<tkfac::kfac::Optimizer> opt = tkfac::kfac::make_optimizer(cfg);
//
//   auto runs = tkfac::kfac::parse_run_specs("adam,kfac:cholesky,kfac:spice", cfg);
//   // A kfac item may end in '/'-separated settings of K-FAC's, the circuit's and the
//   // thermodynamic options, by flag without dashes: "kfac:spice/noise-variance=1e-3".
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "tkfac/kfac/adam.hpp"
#include "tkfac/kfac/kfac_optimizer.hpp"
#include "tkfac/kfac/sgd.hpp"

namespace tkfac::kfac {

struct OptimizerConfig {
  std::string name = "kfac";  // sgd | adam | adamw | kfac
  SgdOptions sgd;
  AdamOptions adam;  // `adamw` uses these with decoupled = true
  KfacOptions kfac;
  void validate() const;  // the selected optimizer's options; InputError for an unknown name
};
std::vector<std::string> optimizer_names();
nlohmann::json to_json(const OptimizerConfig& config);  // name + the selected options only
OptimizerConfig optimizer_config_from_json(const nlohmann::json& j);

std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& config);

struct RunSpec {
  std::string label;  // e.g. "kfac:spice"
  OptimizerConfig optimizer;
};
// Comma-separated `name[:backend][/key=value...]` items ("adam", "kfac:cholesky",
// "kfac:spice/noise-variance=1e-3/inverse-precision=0.3"); `base` supplies all other options,
// the settings override K-FAC's, the circuit's and the thermodynamic options by flag. Throws
// InputError naming `option` and the item for unknown names/backends/settings, a value of the
// wrong type, or a backend or settings on a non-K-FAC optimizer (values are checked by the
// options' validate()).
std::vector<RunSpec> parse_run_specs(std::string_view text, const OptimizerConfig& base,
                                     std::string_view option = "--compare");

}  // namespace tkfac::kfac
