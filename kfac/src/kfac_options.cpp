// KfacOptions in a checkpoint: to_json and kfac_options_from_json, kept together so the two
// directions cannot drift apart (missing fields read as their defaults).
#include "tkfac/kfac/kfac_options.hpp"

#include <nlohmann/json.hpp>
#include <string>

#include "json_util.hpp"

namespace tkfac::kfac {

nlohmann::json to_json(const KfacOptions& o) {
  const auto& n = o.solver.netlist;
  return {{"learning_rate", o.learning_rate},
          {"damping", o.damping},
          {"damping_scheme", to_string(o.damping_scheme)},
          {"ema_decay", o.ema_decay},
          {"ema_init", to_string(o.ema_init)},
          {"factor_update_interval", o.factor_update_interval},
          {"inverse_update_interval", o.inverse_update_interval},
          {"method", to_string(o.method)},
          {"kl_clip", o.kl_clip},
          {"momentum", o.momentum},
          {"weight_decay", o.weight_decay},
          {"fisher", to_string(o.fisher)},
          {"bias", to_string(o.bias)},
          {"seed", o.seed},
          {"solver",
           {{"backend", o.solver.backend},
            {"cg_tolerance", o.solver.cg_tolerance},
            {"cg_max_iterations", o.solver.cg_max_iterations},
            {"netlist",
             {{"encoding", netlist_gen::to_string(n.encoding)},
              {"resistance", n.resistance},
              {"capacitance", n.capacitance},
              {"opamp_gain", n.opamp_gain},
              {"scaling", netlist_gen::to_string(n.scaling)},
              {"input_full_scale", n.input_full_scale},
              {"sim_time", n.sim_time},
              {"target_rel_error", n.target_rel_error},
              {"noise_variance", n.noise_variance},
              {"gain_compensation", n.gain_compensation},
              {"noise_sample_time", n.noise_sample_time},
              {"noise_seed", n.noise_seed},
              {"max_step", n.max_step}}}}}};
}

KfacOptions kfac_options_from_json(const nlohmann::json& j) {
  const std::string what = "kfac options";
  using detail::get_or;
  KfacOptions o;
  o.learning_rate = get_or(j, "learning_rate", o.learning_rate, what);
  o.damping = get_or(j, "damping", o.damping, what);
  o.damping_scheme = parse_damping_scheme(get_or<std::string>(j, "damping_scheme", "pi", what),
                                          what + ": damping_scheme");
  o.ema_decay = get_or(j, "ema_decay", o.ema_decay, what);
  o.ema_init =
      parse_ema_init(get_or<std::string>(j, "ema_init", "first-batch", what), what + ": ema_init");
  o.factor_update_interval = get_or(j, "factor_update_interval", o.factor_update_interval, what);
  o.inverse_update_interval = get_or(j, "inverse_update_interval", o.inverse_update_interval, what);
  o.method =
      parse_kfac_method(get_or<std::string>(j, "method", "inverse", what), what + ": method");
  o.kl_clip = get_or(j, "kl_clip", o.kl_clip, what);
  o.momentum = get_or(j, "momentum", o.momentum, what);
  o.weight_decay = get_or(j, "weight_decay", o.weight_decay, what);
  o.fisher =
      parse_fisher_type(get_or<std::string>(j, "fisher", "empirical", what), what + ": fisher");
  o.bias = parse_bias_mode(get_or<std::string>(j, "bias", "folded", what), what + ": bias");
  o.seed = get_or(j, "seed", o.seed, what);
  if (j.contains("solver")) {
    const auto& s = j["solver"];
    o.solver.backend = get_or(s, "backend", o.solver.backend, what);
    o.solver.cg_tolerance = get_or(s, "cg_tolerance", o.solver.cg_tolerance, what);
    o.solver.cg_max_iterations = get_or(s, "cg_max_iterations", o.solver.cg_max_iterations, what);
    if (s.contains("netlist")) {
      const auto& n = s["netlist"];
      auto& d = o.solver.netlist;
      d.encoding = netlist_gen::parse_encoding(
          get_or<std::string>(n, "encoding", std::string(netlist_gen::to_string(d.encoding)), what),
          what + ": encoding");
      d.resistance = get_or(n, "resistance", d.resistance, what);
      d.capacitance = get_or(n, "capacitance", d.capacitance, what);
      d.opamp_gain = get_or(n, "opamp_gain", d.opamp_gain, what);
      d.scaling = netlist_gen::parse_scaling(
          get_or<std::string>(n, "scaling", std::string(netlist_gen::to_string(d.scaling)), what),
          what + ": scaling");
      d.input_full_scale = get_or(n, "input_full_scale", d.input_full_scale, what);
      d.sim_time = get_or(n, "sim_time", d.sim_time, what);
      d.target_rel_error = get_or(n, "target_rel_error", d.target_rel_error, what);
      d.noise_variance = get_or(n, "noise_variance", d.noise_variance, what);
      d.gain_compensation = get_or(n, "gain_compensation", d.gain_compensation, what);
      d.noise_sample_time = get_or(n, "noise_sample_time", d.noise_sample_time, what);
      d.noise_seed = get_or(n, "noise_seed", d.noise_seed, what);
      d.max_step = get_or(n, "max_step", d.max_step, what);
    }
  }
  return o;
}

}  // namespace tkfac::kfac
