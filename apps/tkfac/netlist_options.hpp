#pragma once
// Command-line options shared by the subcommands that build circuits (netlist, solve, ...):
// every NetlistOptions field with a flag, from netlist_gen::netlist_option_table().
#include <CLI/CLI.hpp>
#include <string>

#include "tkfac/netlist_gen/encoding.hpp"

namespace tkfac::cli {

struct CircuitArgs {
  netlist_gen::NetlistOptions options;

  // Adds the circuit options of the table to `cmd` (in `group`, if not empty).
  void add_to(CLI::App* cmd, const std::string& group = "");
  // Adds --seed as another name of the noise seed (for subcommands without a seed of their own).
  void add_seed_alias(CLI::App* cmd);
  // `options`, validated (InputError naming the option).
  netlist_gen::NetlistOptions resolve() const;
};

}  // namespace tkfac::cli
