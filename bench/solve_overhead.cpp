// bench/solve_overhead: what one circuit solve costs, measured in one run as ratios.
//
// For n in 8, 16, 32, 64 (kappa = 100, one right-hand side):
//   in-process  the `spice` backend (netlist_gen + ngspice shared library, cold start to 1e-6)
//   program     `ngspice -b` on the same netlist file (spawn, parse, simulate, print)
//   cholesky    Eigen LLT
// and, for several right-hand sides, one parse with inputs altered between runs against one
// full solve (parse + run) per column.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <vector>

#include "tkfac/core/spd.hpp"
#include "tkfac/cosim/backends.hpp"
#include "tkfac/netlist_gen/netlist.hpp"
#include "tkfac/solver/linear_solver.hpp"

#include "bench_util.hpp"

namespace {

using tkfac::bench::median_seconds;

}  // namespace

int main() {
  using namespace tkfac;
  cosim::register_backends();
  solver::SolverOptions spice_opt;
  spice_opt.backend = "spice";
  auto spice = solver::LinearSolver::create(spice_opt);
  auto chol = solver::LinearSolver::create({});
  const auto dir = std::filesystem::temp_directory_path() / "tkfac-bench";
  std::filesystem::create_directories(dir);

  std::puts("One solve, behavioral encoding, kappa = 100, median wall time:");
  std::puts(fmt::format("{:>4} {:>12} {:>12} {:>12} {:>14} {:>16}", "n", "in-process", "program",
                        "cholesky", "program/in-p.", "in-p./cholesky")
                .c_str());
  std::mt19937_64 rng(1);
  for (int n : {8, 16, 32, 64}) {
    const Eigen::MatrixXd m = random_spd(n, 100.0, rng);
    const Eigen::VectorXd b = random_normal(n, 1, rng).col(0);
    const int reps = n <= 16 ? 9 : 5;
    const double t_in = median_seconds(reps, [&] { spice->solve(m, b); });
    const auto file = dir / fmt::format("n{}.cir", n);
    std::ofstream(file) << netlist_gen::to_spice(
        netlist_gen::make_netlist(m, b, spice_opt.netlist));
    const std::string cmd = fmt::format("{} -b {} > /dev/null 2>&1", TKFAC_NGSPICE_PROGRAM,
                                        file.string());
    const double t_prog = median_seconds(reps, [&] {
      if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "ngspice failed on %s\n", cmd.c_str());
    });
    const double t_chol = median_seconds(101, [&] { chol->solve(m, b); });
    std::puts(fmt::format("{:>4} {:>11.4f}s {:>11.4f}s {:>11.6f}s {:>14.2f} {:>16.0f}", n, t_in,
                          t_prog, t_chol, t_prog / t_in, t_in / t_chol)
                  .c_str());
  }

  std::puts("\nSeveral right-hand sides (k = 8), behavioral, kappa = 100:");
  std::puts(fmt::format("{:>4} {:>16} {:>18} {:>8}", "n", "alter inputs", "parse per column",
                        "ratio")
                .c_str());
  for (int n : {8, 16, 32, 64}) {
    const Eigen::MatrixXd m = random_spd(n, 100.0, rng);
    const Eigen::MatrixXd b = random_normal(n, 8, rng);
    const int reps = n <= 16 ? 5 : 3;
    const double t_alter = median_seconds(reps, [&] { spice->solve(m, b); });
    const double t_parse = median_seconds(reps, [&] {
      for (int c = 0; c < b.cols(); ++c) spice->solve(m, b.col(c));
    });
    std::puts(fmt::format("{:>4} {:>15.4f}s {:>17.4f}s {:>8.2f}", n, t_alter, t_parse,
                          t_parse / t_alter)
                  .c_str());
  }
  std::filesystem::remove_all(dir);
  return 0;
}
