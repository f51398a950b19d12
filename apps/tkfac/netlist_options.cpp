#include "netlist_options.hpp"

#include <fmt/format.h>

#include "tkfac/core/error.hpp"

namespace tkfac::cli {

void CircuitArgs::add_to(CLI::App* cmd) {
  cmd->add_option("--encoding", encoding, "circuit encoding: behavioral | integrator")
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
}

netlist_gen::NetlistOptions CircuitArgs::resolve() const {
  netlist_gen::NetlistOptions o = options;
  o.encoding = netlist_gen::parse_encoding(encoding, "--encoding");
  o.scaling = netlist_gen::parse_scaling(scaling, "--scaling");
  o.validate();
  return o;
}

}  // namespace tkfac::cli
