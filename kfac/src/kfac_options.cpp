// KfacOptions in a checkpoint: to_json and kfac_options_from_json, both from the option tables
// (kfac_option_table and the solver, netlist and thermo tables), so the two directions cannot
// drift apart (missing fields read as their defaults).
#include "tkfac/kfac/kfac_options.hpp"

#include <nlohmann/json.hpp>
#include <string>

#include "tkfac/core/option_json.hpp"
#include "tkfac/solver/linear_solver.hpp"

namespace tkfac::kfac {

nlohmann::json to_json(const KfacOptions& o) {
  nlohmann::json j = options::write_json(kfac_option_table(), o);
  nlohmann::json& s = j["solver"] = options::write_json(solver::solver_option_table(), o.solver);
  s["netlist"] = options::write_json(netlist_gen::netlist_option_table(), o.solver.netlist);
  s["thermo"] = options::write_json(solver::thermo_option_table(), o.solver.thermo);
  return j;
}

KfacOptions kfac_options_from_json(const nlohmann::json& j) {
  const std::string what = "kfac options";
  KfacOptions o;
  // Checkpoints written before these keys existed ran with the noise sample time following the
  // fastest mode and covariance windows of 100 tau: keep that meaning for them (a key present
  // in the file overrides it below).
  o.solver.netlist.noise_follows = "fastest";
  o.solver.thermo.inverse_precision = 0.0;
  options::read_json(kfac_option_table(), j, o, what);
  if (j.is_object() && j.contains("solver")) {
    const auto& s = j["solver"];
    options::read_json(solver::solver_option_table(), s, o.solver, what);
    if (s.is_object() && s.contains("netlist")) {
      options::read_json(netlist_gen::netlist_option_table(), s["netlist"], o.solver.netlist, what);
    }
    if (s.is_object() && s.contains("thermo")) {
      options::read_json(solver::thermo_option_table(), s["thermo"], o.solver.thermo, what);
    }
  }
  return o;
}

}  // namespace tkfac::kfac
