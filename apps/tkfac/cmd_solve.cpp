// tkfac solve: solve (M + damping I) X = B with a chosen backend and compare with Cholesky.
#include <fmt/format.h>

#include <cmath>
#include <iostream>
#include <memory>

#include "file_options.hpp"
#include "commands.hpp"
#include "inputs.hpp"
#include "netlist_options.hpp"
#include "option_cli.hpp"
#include "thermo_options.hpp"
#include "tkfac/core/csv.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/core/output_file.hpp"
#include "tkfac/netlist_gen/encoding.hpp"
#include "tkfac/solver/linear_solver.hpp"

namespace tkfac::cli {
namespace {

struct SolveArgs {
  std::string matrix;
  std::string rhs;
  double damping = 0.0;
  std::string output;
  solver::SolverOptions solver;
  CircuitArgs circuit;
  ThermoArgs thermo;
};

void run_solve(SolveArgs a) {
  a.solver.netlist = a.circuit.resolve();
  a.solver.validate();
  if (!a.output.empty()) check_writable(a.output, "--output");
  const Eigen::MatrixXd m = read_spd_matrix(a.matrix, a.damping);
  const Eigen::MatrixXd b = read_rhs(a.rhs, m.rows(), a.matrix);
  a.solver.thermo = a.thermo.resolve(m.rows());

  auto solver = solver::LinearSolver::create(a.solver);
  const solver::Solution s = solver->solve(m, b, a.damping);
  const solver::Solution ref = solver::LinearSolver::create({})->solve(m, b, a.damping);
  if (!s.x.allFinite()) {
    throw InputError(fmt::format("{}: the solution is not finite (overflow); the matrix is too "
                                 "badly scaled for double precision",
                                 a.matrix));
  }

  Eigen::MatrixXd md = m;
  md.diagonal().array() += a.damping;
  const double bnorm = b.norm();
  const double residual = bnorm > 0 ? (md * s.x - b).norm() / bnorm : (md * s.x).norm();
  const double rnorm = ref.x.norm();
  const double error = rnorm > 0 ? (s.x - ref.x).norm() / rnorm : s.x.norm();

  std::cout << fmt::format("backend            {}\n", s.report.backend)
            << fmt::format("method             {}\n", s.report.method)
            << fmt::format("system             n = {}, {} right-hand side(s), damping {:g}\n",
                           m.rows(), b.cols(), a.damping)
            << fmt::format("relative residual  {:.3e}\n", residual)
            << fmt::format("error vs cholesky  {:.3e} (relative, Frobenius)\n", error);
  if (s.report.backend == "cg") {
    std::cout << fmt::format("iterations         {} ({})\n", s.report.iterations,
                             s.report.converged ? "converged" : "NOT converged");
  }
  if (s.report.predicted_tau > 0) {
    std::cout << fmt::format("predicted tau      {:.4g} s (R C / alpha_min)\n",
                             s.report.predicted_tau)
              << fmt::format("analog time        {:.4g} s over {} run(s)\n",
                             s.report.analog_seconds, s.report.iterations);
  }
  print_thermo_report(std::cout, s.report);
  // A --sim-time shorter than the requested precision needs: from a cold start the relative
  // error after T is at most exp(-T / tau) (docs/DESIGN.md section 5), and it is that large for
  // a right-hand side along the slowest mode.
  const netlist_gen::NetlistOptions& nl = a.solver.netlist;
  if (s.report.predicted_tau > 0 && nl.sim_time > 0 &&
      (s.report.estimator.empty() || s.report.estimator == "final state")) {
    const double bound = std::exp(-nl.sim_time / s.report.predicted_tau);
    if (bound > nl.target_rel_error) {
      const auto& table = netlist_gen::netlist_option_table();
      std::cout << fmt::format(
          "warning            {} {:g} s is {:.3g} tau: the relaxation error may be up to "
          "exp(-T/tau) = {:.3g}, above the requested {} {:g}; the default (0) runs tau (ln(1/eps) "
          "+ ln 10) = {:.4g} s\n",
          options::flag_of(table, "sim_time"), nl.sim_time, nl.sim_time / s.report.predicted_tau,
          bound, options::flag_of(table, "target_rel_error"), nl.target_rel_error,
          s.report.predicted_tau * (std::log(1.0 / nl.target_rel_error) + std::log(10.0)));
    }
  }
  std::cout << fmt::format("wall time          {:.4g} s\n", s.report.wall_seconds);
  if (!a.output.empty()) {
    write_file_atomically(a.output, "--output",
                          [&](std::ostream& os) { write_csv_matrix(os, s.x); });
    std::cout << fmt::format("solution written   {}\n", a.output);
  }
}

}  // namespace

void register_solve(CLI::App& app) {
  auto args = std::make_shared<SolveArgs>();
  CLI::App* cmd = app.add_subcommand(
      "solve", "Solve (M + damping I) X = B with a backend and compare it with Cholesky");
  input_file(cmd->add_option("--matrix,-m", args->matrix, "SPD matrix M (CSV)"))->required();
  input_file(cmd->add_option("--rhs,-b", args->rhs, "right-hand sides B (CSV, one column each)"))
      ->required();
  cmd->add_option("--damping", args->damping, "lambda added to the diagonal")->capture_default_str();
  cmd->add_option("--backend", args->solver.backend, "cholesky | cg | spice | ou")->capture_default_str();
  add_table_options(cmd, solver::solver_option_table(), args->solver);
  output_file(cmd->add_option("--output,-o", args->output, "solution X to write (CSV)"));
  args->circuit.add_to(cmd);
  args->circuit.add_seed_alias(cmd);
  args->thermo.add_to(cmd);
  cmd->callback([args] { run_solve(*args); });
}

}  // namespace tkfac::cli
