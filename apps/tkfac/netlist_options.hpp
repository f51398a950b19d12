#pragma once
// Command-line options shared by the subcommands that build circuits (netlist, solve, ...).
#include <CLI/CLI.hpp>
#include <string>

#include "tkfac/netlist_gen/encoding.hpp"

namespace tkfac::cli {

struct CircuitArgs {
  std::string encoding = "behavioral";
  std::string scaling = "max_entry";
  netlist_gen::NetlistOptions options;

  // Adds --encoding, --resistance, --capacitance, --opamp-gain, --gain-compensation, --scaling, --input-full-scale,
  // --sim-time and --target-error to `cmd`.
  void add_to(CLI::App* cmd);
  // Parses the strings into `options` and validates it (InputError naming the option).
  netlist_gen::NetlistOptions resolve() const;
};

}  // namespace tkfac::cli
