// The description of SolverOptions' own fields (backend and cg; the netlist and thermo options
// have their own tables) and its validation.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tkfac/core/error.hpp"
#include "tkfac/solver/linear_solver.hpp"

namespace tkfac::solver {

const options::OptionTable<SolverOptions>& solver_option_table() {
  using namespace tkfac::options;
  using O = SolverOptions;
  static const OptionTable<O> table = {
      // No flag of its own: `solve` and `sample` call it --backend, `train` --solver.
      field("backend", "", &O::backend, "cholesky | cg | spice | ou"),
      field("cg_tolerance", "--cg-tolerance", &O::cg_tolerance,
            "cg: relative residual ||M x - b|| / ||b|| to reach",
            positive("a finite relative residual > 0")),
      field("cg_max_iterations", "--cg-max-iterations", &O::cg_max_iterations,
            "cg: iteration cap per column (0: 10 n)", non_negative("a count >= 0 (0: 10 n)")),
  };
  return table;
}

void SolverOptions::validate() const {
  bool known = false;
  for (const auto& b : LinearSolver::backends()) known = known || b == backend;
  if (!known) {
    throw InputError(fmt::format("--backend: unknown solver '{}', expected one of: {}", backend,
                                 fmt::join(LinearSolver::backends(), ", ")));
  }
  options::check(solver_option_table(), *this);
  netlist.validate();
  thermo.validate();
}

}  // namespace tkfac::solver
