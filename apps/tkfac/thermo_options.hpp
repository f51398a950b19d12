#pragma once
// Command-line options of thermodynamic solves (burn-in, window, finite analog time, warm
// start, inverse method) and the report lines every thermodynamic result prints.
#include <CLI/CLI.hpp>
#include <iosfwd>
#include <string>

#include "tkfac/solver/linear_solver.hpp"

namespace tkfac::cli {

struct ThermoArgs {
  solver::ThermoOptions options;
  std::string warm_start_file;
  std::string noise_shape = "white";

  // Adds --burn-in, --window, --target-standard-error, --analog-time, --start, --warm-start,
  // --inverse-method and --noise-shape to `cmd`.
  void add_to(CLI::App* cmd);
  // Reads the warm start (n entries) and validates (InputError naming the option).
  solver::ThermoOptions resolve(Eigen::Index n) const;
};

// "analog time ... burn-in ... samples ... effective samples ... standard error ... tau" lines,
// only for thermodynamic results (report.estimator set).
void print_thermo_report(std::ostream& out, const solver::SolveReport& report);

}  // namespace tkfac::cli
