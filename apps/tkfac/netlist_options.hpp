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
  // --sim-time, --target-error, --noise-variance, --noise-sample-time, --noise-seed and --max-step to `cmd`.
  void add_to(CLI::App* cmd);
  // Adds --seed as another name of --noise-seed (for subcommands without a seed of their own).
  void add_seed_alias(CLI::App* cmd);
  // Parses the strings into `options` and validates it (InputError naming the option).
  netlist_gen::NetlistOptions resolve() const;
};

}  // namespace tkfac::cli
