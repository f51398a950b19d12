#pragma once
// K-FAC's options: the enums with their names (parse_* / to_string), KfacOptions with its
// checks, the checkpoint JSON form and the ASDL preset. kfac_optimizer.hpp states the math each
// option enters.
//
//   tkfac::kfac::KfacOptions o = tkfac::kfac::asdl_options(0.05, 1e-3, 0.05);
//   o.method = tkfac::kfac::parse_kfac_method("solve");    // or "2"
//   o.validate();                                           // InputError naming the option
//   nlohmann::json j = tkfac::kfac::to_json(o);             // checkpoint form, round-trips
//
// Where each part lives: enum tables in src/kfac_enums.cpp, validate() and asdl_options() in
// src/kfac_options_validate.cpp, the JSON form in src/kfac_options.cpp, the option table in
// src/kfac_option_table.cpp.
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "tkfac/core/option_table.hpp"
#include "tkfac/solver/linear_solver.hpp"

namespace tkfac::kfac {

enum class DampingScheme { tikhonov, pi };
enum class KfacMethod { inverse, solve };          // docs/DESIGN.md section 4, Methods 1 and 2
enum class FisherType { empirical, monte_carlo };  // true labels / labels sampled from the model
enum class BiasMode { folded, separate };          // Eq. (4) ones entry in A / ASDL
enum class EmaInit { first_batch, zero };          // first factor update sets / adds to zero

// Each throws InputError naming `option` (empty: the field's flag in kfac_option_table()) and
// the accepted values.
DampingScheme parse_damping_scheme(std::string_view text, std::string_view option = {});
KfacMethod parse_kfac_method(std::string_view text, std::string_view option = {});
FisherType parse_fisher_type(std::string_view text, std::string_view option = {});
BiasMode parse_bias_mode(std::string_view text, std::string_view option = {});
EmaInit parse_ema_init(std::string_view text, std::string_view option = {});
std::string_view to_string(DampingScheme v);
std::string_view to_string(KfacMethod v);
std::string_view to_string(FisherType v);
std::string_view to_string(BiasMode v);
std::string_view to_string(EmaInit v);

struct KfacOptions {
  double learning_rate = 0.05;
  double damping = 1e-3;  // lambda, > 0
  DampingScheme damping_scheme = DampingScheme::pi;
  double ema_decay = 0.95;  // beta in [0, 1); ASDL's ema_decay w is 1 - beta
  EmaInit ema_init = EmaInit::first_batch;
  int factor_update_interval = 1;   // steps between factor (EMA) updates, >= 1
  int inverse_update_interval = 1;  // Method 1: steps between inverse refreshes, >= 1
  KfacMethod method = KfacMethod::inverse;
  double kl_clip = 0.0;       // 0: off
  double momentum = 0.0;      // mu in [0, 1)
  double weight_decay = 0.0;  // L2, added to the gradient before preconditioning
  FisherType fisher = FisherType::empirical;
  BiasMode bias = BiasMode::folded;
  std::uint64_t seed = 0;  // Monte-Carlo Fisher label sampling
  // Where the circuit backends' runs start: "cold" (zero) or "previous" (the previous step's
  // solutions, Method 2; the inverses in use, Method 1 by unit right-hand sides).
  std::string solve_start = "cold";
  solver::SolverOptions solver;

  void validate() const;  // throws InputError naming the option
};
// The description of KfacOptions' own fields (src/kfac_option_table.cpp); `solver` is
// described by the solver part's solver and thermo tables and netlist_gen's netlist table.
const options::OptionTable<KfacOptions>& kfac_option_table();
// {own fields, "solver": {backend, cg, "netlist": {...}, "thermo": {...}}}; reading keeps the
// defaults of missing keys (older checkpoints).
nlohmann::json to_json(const KfacOptions& options);
KfacOptions kfac_options_from_json(const nlohmann::json& j);

// The settings of the Thermodynamic K-FAC paper's code (ASDL): bias apart, pi damping,
// empirical Fisher, EMA from zero. `asdl_ema_decay` is ASDL's w (F <- (1-w) F + w F_batch).
KfacOptions asdl_options(double learning_rate, double damping, double asdl_ema_decay);

}  // namespace tkfac::kfac
