// tkfac demo: the main job on built-in defaults. Solves a built-in SPD system with the digital
// backends and through ngspice in both circuit encodings, and prints how each compares with
// Cholesky.
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <random>

#include "commands.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/core/spd.hpp"
#include "tkfac/cosim/linear_solver.hpp"

namespace tkfac::cli {
namespace {

struct DemoArgs {
  int size = 16;
  double condition = 100.0;
  unsigned seed = 1;
};

void run_demo(const DemoArgs& a) {
  if (a.size < 1 || a.size > 256) throw InputError(fmt::format("--size: {} is not in [1, 256]", a.size));
  if (!(a.condition >= 1.0) || !std::isfinite(a.condition)) {
    throw InputError(fmt::format("--condition: {} is not a finite number >= 1", a.condition));
  }
  std::mt19937_64 rng(a.seed);
  const Eigen::MatrixXd m = random_spd(a.size, a.condition, rng);
  const Eigen::VectorXd b = random_normal(a.size, 1, rng).col(0);
  std::cout << fmt::format(
      "Built-in system: n = {}, condition number {:g} (eigenvalues log-spaced in [1, {:g}]), "
      "seed {}, b standard normal.\n\n",
      a.size, a.condition, a.condition, a.seed);

  const cosim::Solution ref = cosim::LinearSolver::create({})->solve(m, b);
  std::cout << fmt::format("{:<10} {:<11} {:>12} {:>12} {:>12} {:>10}\n", "backend", "encoding",
                           "rel. error", "tau (s)", "analog (s)", "wall (s)");
  struct Row {
    std::string backend;
    netlist_gen::Encoding encoding;
  };
  const Row rows[] = {{"cholesky", netlist_gen::Encoding::behavioral},
                      {"cg", netlist_gen::Encoding::behavioral},
                      {"spice", netlist_gen::Encoding::behavioral},
                      {"spice", netlist_gen::Encoding::integrator}};
  for (const Row& row : rows) {
    cosim::SolverOptions opt;
    opt.backend = row.backend;
    opt.netlist.encoding = row.encoding;
    const cosim::Solution s = cosim::LinearSolver::create(opt)->solve(m, b);
    const bool circuit = row.backend == "spice";
    std::cout << fmt::format(
        "{:<10} {:<11} {:>12.3e} {:>12} {:>12} {:>10.4f}\n", row.backend,
        circuit ? std::string(netlist_gen::to_string(row.encoding)) : "-",
        (s.x - ref.x).norm() / ref.x.norm(),
        circuit ? fmt::format("{:.4g}", s.report.predicted_tau) : "-",
        circuit ? fmt::format("{:.4g}", s.report.analog_seconds) : "-", s.report.wall_seconds);
  }
  std::cout << "\nrel. error: ||x - x_cholesky|| / ||x_cholesky||. tau = R C / alpha_min with "
               "R = 1 kOhm, C = 1 nF; the circuit runs from a cold start\nfor tau * ln(1/1e-6) "
               "plus margin of analog time and its final voltages, times the netlist's scales, "
               "are the solution.\n";
}

}  // namespace

void register_demo(CLI::App& app) {
  auto args = std::make_shared<DemoArgs>();
  CLI::App* cmd = app.add_subcommand(
      "demo", "Main job: solve a built-in system through ngspice and compare with Cholesky");
  cmd->add_option("--size", args->size, "system size n")->capture_default_str();
  cmd->add_option("--condition", args->condition, "condition number of the matrix")
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "seed of the built-in system")->capture_default_str();
  cmd->callback([args] { run_demo(*args); });
}

}  // namespace tkfac::cli
