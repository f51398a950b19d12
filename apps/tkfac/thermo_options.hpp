#pragma once
// Command-line options of thermodynamic solves (every ThermoOptions field with a flag, from
// solver::thermo_option_table(), plus the warm start's file) and the report lines every
// thermodynamic result prints.
#include <CLI/CLI.hpp>
#include <iosfwd>
#include <string>

#include "tkfac/solver/linear_solver.hpp"

namespace tkfac::cli {

struct ThermoArgs {
  solver::ThermoOptions options;
  std::string warm_start_file;

  // Adds the table's options and --warm-start to `cmd` (in `group`, if not empty).
  void add_to(CLI::App* cmd, const std::string& group = "");
  // Reads the warm start (n entries) and validates (InputError naming the option).
  solver::ThermoOptions resolve(Eigen::Index n) const;
};

// "analog time ... burn-in ... samples ... effective samples ... standard error ... tau" lines,
// only for thermodynamic results (report.estimator set).
void print_thermo_report(std::ostream& out, const solver::SolveReport& report);

}  // namespace tkfac::cli
