#include "netlist_options.hpp"

#include "option_cli.hpp"

namespace tkfac::cli {

void CircuitArgs::add_to(CLI::App* cmd, const std::string& group) {
  add_table_options(cmd, netlist_gen::netlist_option_table(), options, group);
}

void CircuitArgs::add_seed_alias(CLI::App* cmd) {
  cmd->add_option("--seed", options.noise_seed, "the same as the noise seed");
}

netlist_gen::NetlistOptions CircuitArgs::resolve() const {
  options.validate();
  return options;
}

}  // namespace tkfac::cli
