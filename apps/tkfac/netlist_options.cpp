#include "netlist_options.hpp"

#include <fmt/format.h>

#include "tkfac/core/error.hpp"

namespace tkfac::cli {

void CircuitArgs::add_to(CLI::App* cmd) {
  cmd->add_option("--encoding", encoding,
                  "circuit encoding: behavioral | integrator | activation (built from an "
                  "activation array: tkfac netlist --activations or --model)")
      ->capture_default_str();
  cmd->add_option("--resistance", options.resistance, "R in ohms (unit conductance g0 = 1/R)")
      ->capture_default_str();
  cmd->add_option("--capacitance", options.capacitance, "C in farads (tau0 = R C)")
      ->capture_default_str();
  cmd->add_option("--opamp-gain", options.opamp_gain, "open-loop gain of the ideal op-amps")
      ->capture_default_str();
  cmd->add_option("--gain-compensation", options.gain_compensation,
                  "integrator: trim the resistors for the finite op-amp gain (true | false)")
      ->capture_default_str();
  cmd->add_option("--scaling", scaling, "matrix/input scaling: max_entry | none")
      ->capture_default_str();
  cmd->add_option("--input-full-scale", options.input_full_scale,
                  "largest input (DAC volts) after scaling")
      ->capture_default_str();
  cmd->add_option("--sim-time", options.sim_time,
                  "simulated analog seconds (0: tau * ln(1/target-error) plus margin)")
      ->capture_default_str();
  cmd->add_option("--target-error", options.target_rel_error,
                  "relative error the default simulated time aims at")
      ->capture_default_str();
  // Noise (thermodynamic solves): one held Gaussian noise current per unknown.
  cmd->add_option("--noise-variance", options.noise_variance,
                  "beta^-1: x ~ N(M^-1 b, beta^-1 M^-1) at equilibrium (0: noiseless)")
      ->capture_default_str();
  cmd->add_option("--noise-sample-time", options.noise_sample_time,
                  "seconds between noise samples NT (0: R C / (10 alpha_max))")
      ->capture_default_str();
  cmd->add_option("--noise-seed", options.noise_seed,
                  "noise seed (.options seed): same seed, same samples")
      ->capture_default_str();
  cmd->add_option("--max-step", options.max_step,
                  "largest simulator time step, seconds (0: automatic; with noise <= NT)")
      ->capture_default_str();
}

void CircuitArgs::add_seed_alias(CLI::App* cmd) {
  cmd->add_option("--seed", options.noise_seed, "the same as --noise-seed");
}

netlist_gen::NetlistOptions CircuitArgs::resolve() const {
  netlist_gen::NetlistOptions o = options;
  o.encoding = netlist_gen::parse_encoding(encoding, "--encoding");
  o.scaling = netlist_gen::parse_scaling(scaling, "--scaling");
  try {
    o.validate();
  } catch (const InputError& e) {
    // validate() names the field ("resistance = -1: ..."); a user typed the option.
    static const std::pair<const char*, const char*> kOptions[] = {
        {"resistance", "--resistance"},         {"capacitance", "--capacitance"},
        {"opamp_gain", "--opamp-gain"},         {"input_full_scale", "--input-full-scale"},
        {"sim_time", "--sim-time"},             {"target_rel_error", "--target-error"}};
    const std::string what = e.what();
    for (const auto& [field, option] : kOptions) {
      if (what.rfind(field, 0) == 0) throw InputError(fmt::format("{}: {}", option, what));
    }
    throw;
  }
  return o;
}

}  // namespace tkfac::cli
