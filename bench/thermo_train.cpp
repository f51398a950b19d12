// bench/thermo_train: K-FAC on the reference network (Fashion-MNIST pooled to 7x7, 49-32-10 tanh,
// batch 64) with its factor solves through the ngspice circuit, per configuration:
//   noiseless         Method 1, unit right-hand sides, inverses every 10 steps
//   noisy covariance  Method 1, the covariance of one noisy run per factor (beta^-1 = 1e-3,
//                     window for a relative precision 0.3 of the inverse), every 10 steps
//   noisy mean        Method 2, window means of noisy runs (beta^-1 = 1e-6, standard error
//                     5e-3 of the solution's units), every step
//   warm, finite time Method 2, noiseless, each solve 2 R C of analog time from the previous
//                     step's solution
// and the same steps with Cholesky (digital baseline: the accuracy to compare with). Prints
// circuit runs, simulator steps (ngspice's accepted time points), simulated analog time, wall
// time, final test accuracy, and each circuit configuration's wall time as a ratio to the
// noiseless circuit run measured in the same run (machines are noisy; ratios travel better).
//
//   ./build/bin/thermo_train [steps]     (default 40; Method 2 noisy is slow: every step solves
//                                         afresh, 1 run per right-hand-side column)
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "tkfac/cosim/backends.hpp"
#include "tkfac/kfac/dataset.hpp"
#include "tkfac/kfac/mlp.hpp"
#include "tkfac/kfac/optimizer_factory.hpp"
#include "tkfac/kfac/trainer.hpp"

namespace kf = tkfac::kfac;

namespace {

struct Row {
  std::string name;
  long runs = 0;
  long simulator_steps = 0;
  double analog = 0.0;
  double wall = 0.0;
  double accuracy = 0.0;
  double loss = 0.0;
};

Row train(const std::string& name, const kf::OptimizerConfig& cfg, const kf::Dataset& train_set,
          const kf::Dataset& test, long steps) {
  kf::Mlp net({49, 32, 10}, kf::Activation::tanh, 1);
  auto opt = kf::make_optimizer(cfg);
  Row row{name};
  for (long s = 0; s < steps; ++s) {
    const kf::Batch batch = train_set.slice(64L * s, 64);
    const auto start = std::chrono::steady_clock::now();
    const kf::StepReport r = opt->step(net, batch);
    row.wall += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    row.analog += r.analog_seconds;
    row.simulator_steps += r.simulator_steps;
  }
  const kf::Evaluation e = kf::evaluate(net, test);
  row.accuracy = e.accuracy;
  row.loss = e.loss;
  // Circuit runs: what the solver states per refresh (Method 1) or step (Method 2), times their
  // number (the first step always refreshes).
  if (cfg.kfac.solver.backend != "cholesky") {
    const auto shapes = kf::kfac_solve_shapes(net.weights(), cfg.kfac);
    const long per = tkfac::solver::LinearSolver::create(cfg.kfac.solver)->cost_all(shapes).circuit_runs;
    const long refreshes = cfg.kfac.method == kf::KfacMethod::inverse
                               ? (steps + cfg.kfac.inverse_update_interval - 1) /
                                     cfg.kfac.inverse_update_interval
                               : steps;
    row.runs = per * refreshes;
  }
  std::fprintf(stderr, "%s done: %.1f s\n", name.c_str(), row.wall);
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  tkfac::cosim::register_backends();
  long steps = 40;
  if (argc > 1) {
    char* end = nullptr;
    steps = std::strtol(argv[1], &end, 10);
    if (*end != '\0' || steps < 1 || steps > 100000) {
      std::fprintf(stderr, "thermo_train: steps '%s' is not a count in [1, 100000]\n", argv[1]);
      return 2;
    }
  }
  kf::FashionMnistOptions fo;
  fo.pool = 4;
  fo.limit = 64 * steps;
  const kf::Dataset train_set = kf::load_fashion_mnist(kf::Split::train, fo);
  kf::FashionMnistOptions to;
  to.pool = 4;
  const kf::Dataset test = kf::load_fashion_mnist(kf::Split::test, to);

  kf::OptimizerConfig base;
  base.name = "kfac";
  base.kfac.inverse_update_interval = 10;
  std::vector<Row> rows;
  rows.push_back(train("cholesky (digital)", base, train_set, test, steps));

  kf::OptimizerConfig c = base;
  c.kfac.solver.backend = "spice";
  rows.push_back(train("noiseless", c, train_set, test, steps));

  kf::OptimizerConfig cov = c;
  cov.kfac.solver.netlist.noise_variance = 1e-3;
  cov.kfac.solver.thermo.inverse_precision = 0.3;
  rows.push_back(train("noisy covariance, M1", cov, train_set, test, steps));

  kf::OptimizerConfig mean = c;
  mean.kfac.method = kf::KfacMethod::solve;
  mean.kfac.solver.netlist.noise_variance = 1e-6;
  mean.kfac.solver.thermo.target_standard_error = 5e-3;
  rows.push_back(train("noisy mean, M2", mean, train_set, test, steps));

  kf::OptimizerConfig warm = c;
  warm.kfac.method = kf::KfacMethod::solve;
  warm.kfac.solver.thermo.analog_time = 2.0;
  warm.kfac.solve_start = "previous";
  rows.push_back(train("warm, 2 RC, M2", warm, train_set, test, steps));

  const double base_wall = rows[1].wall;
  std::printf("thermo_train: reference network 49-32-10, batch 64, %ld steps, behavioral circuit\n",
              steps);
  std::printf("%-22s %9s %12s %12s %10s %10s %9s %12s\n", "configuration", "runs",
              "sim. steps", "analog s", "wall s", "test loss", "test acc", "wall / noiseless");
  for (const Row& r : rows) {
    std::printf("%-22s %9ld %12ld %12.4g %10.2f %10.4f %8.2f%% %12.2f\n", r.name.c_str(), r.runs,
                r.simulator_steps, r.analog, r.wall, r.loss, 100.0 * r.accuracy,
                r.wall / base_wall);
  }
  return 0;
}
