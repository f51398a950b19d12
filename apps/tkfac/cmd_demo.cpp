// tkfac demo: the main job on built-in defaults. First solves a built-in SPD system with the
// digital backends and through ngspice in both circuit encodings and prints how each compares
// with Cholesky; then trains the reference network (Fashion-MNIST pooled to 7x7, 49-32-10 tanh)
// with Adam, digital K-FAC and K-FAC whose factor inversions run through ngspice, from the same
// start, and ends with a table and a plot. It is `tkfac train` with other defaults.
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <random>

#include "commands.hpp"
#include "train.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/core/spd.hpp"
#include "tkfac/solver/linear_solver.hpp"

namespace tkfac::cli {
namespace {

struct DemoArgs {
  int size = 16;
  double condition = 100.0;
  unsigned seed = 1;
  TrainArgs train = demo_training();

  // The reference comparison: equal steps for every optimizer; the circuit K-FAC refreshes its
  // inverses every 10 steps, noiseless (unit right-hand sides, ~0.6 s of ngspice per refresh on
  // 2 cores) and noisy (Method 1: the covariance of one noisy run per factor, ~4.6 s per
  // refresh). The noisy run's inverse precision 0.3 (relative Frobenius standard error) is the
  // loosest that kept the ou twin within 1 point of Cholesky over three noise seeds; 0.5 lost
  // 3-19 points (README, "Thermodynamic training"). beta^-1 itself does not change the relative
  // precision of a covariance inverse; 1e-3 keeps the noise voltages small against full scale.
  static TrainArgs demo_training() {
    TrainArgs t;
    t.compare =
        "adam,kfac:cholesky,kfac:spice,kfac:spice/noise-variance=1e-3/inverse-precision=0.3";
    t.steps = 400;
    t.kfac.inverse_update_interval = 10;
    t.log = "tkfac-demo-training.csv";
    t.plot = "tkfac-demo-training.png";
    return t;
  }
  // The options above count as given (train would otherwise keep the optimizer's defaults).
  static bool preset(const char* name) {
    const std::string n = name;
    return n == "--compare" || n == "--steps" || n == "--log" || n == "--plot" ||
           n == options::flag_of(kf::kfac_option_table(), "inverse_update_interval");
  }
};

void run_solve_demo(const DemoArgs& a) {
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

  const solver::Solution ref = solver::LinearSolver::create({})->solve(m, b);
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
    solver::SolverOptions opt;
    opt.backend = row.backend;
    opt.netlist = a.train.kfac.solver.netlist;  // the user's circuit options (R, C, gain, ...)
    opt.netlist.validate();
    opt.netlist.encoding = row.encoding;
    const solver::Solution s = solver::LinearSolver::create(opt)->solve(m, b);
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
               "are the solution.\n"
            << std::flush;  // before the progress bars on stderr
}

void run_demo(const DemoArgs& a, CLI::App* cmd) {
  TrainArgs train = a.train;
  const bool by_epochs = cmd->count("--epochs") > 0 && cmd->count("--steps") == 0;
  if (by_epochs) train.steps = 0;  // the user's --epochs replaces the preset --steps
  const auto given = [cmd, by_epochs](const char* name) {
    if (by_epochs && std::string(name) == "--steps") return false;
    const CLI::Option* o = cmd->get_option_no_throw(name);  // demo offers no --start
    return (o != nullptr && o->count() > 0) || DemoArgs::preset(name);
  };
  run_solve_demo(a);
  std::cout << "\nTraining the reference network: Adam, K-FAC with Cholesky, K-FAC with its "
               "factors inverted by the ngspice circuit,\nnoiseless (unit right-hand sides) and "
               "noisy (beta^-1 = 1e-3: the covariance of one run per factor, window sized for a\n"
               "relative standard error of 0.3 of the inverse).\n";
  run_train(train, given);
}

}  // namespace

void register_demo(CLI::App& app) {
  auto args = std::make_shared<DemoArgs>();
  CLI::App* cmd = app.add_subcommand(
      "demo", "Main job: a built-in system solved through ngspice, then Adam vs K-FAC (digital and circuit) training");
  cmd->add_option("--size", args->size, "system size n of the built-in system")
      ->capture_default_str()
      ->group("Built-in system");
  cmd->add_option("--condition", args->condition, "condition number of the built-in system")
      ->capture_default_str()
      ->group("Built-in system");
  cmd->add_option("--system-seed", args->seed, "seed of the built-in system")
      ->capture_default_str()
      ->group("Built-in system");
  add_train_options(cmd, &args->train);
  cmd->callback([args, cmd] { run_demo(*args, cmd); });
}

}  // namespace tkfac::cli
