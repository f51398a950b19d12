// bench/ngspice_memory: resident memory over many circuit solves (issue 14, memory).
//
//   ngspice_memory [solves = 10000] [train steps = 1500]
//
// 1. `solves` multi-right-hand-side solves through the in-process `spice` backend (n = 16,
//    kappa = 100, 4 right-hand sides each: one parse, three input changes, four runs), resident
//    memory (/proc/self/statm) after 100 warm-up solves and every 1000 after: growth per 1000.
// 2. `tkfac train` of an 8-16-3 network on the synthetic data with `--solver spice` for 10 and
//    for `steps` steps: peak resident memory of each (getrusage of the child); the difference is
//    what the long run grew. The program keeps freed memory (dense::keep_freed_memory) as tkfac
//    does, so resident memory never shrinks and any growth shows.
// Before the fix (ngspice kept every command's text): 7.4 MB per 1000 solves at n = 16 with two
// right-hand sides; training grew from 6.5 to 415 MB in 1500 steps.
#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "tkfac/core/dense.hpp"
#include "tkfac/core/spd.hpp"
#include "tkfac/cosim/backends.hpp"
#include "tkfac/solver/linear_solver.hpp"

namespace {

double resident_mb() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<double>(resident) * 4096.0 / 1e6;
}

// Peak resident memory (MB) of `tkfac train ... --steps steps`, or -1 if it failed.
double train_peak_mb(long steps) {
  const std::string cmd = fmt::format(
      "exec {} train --quiet --dataset synthetic --layers 8,16,3 --solver spice --steps {} "
      ">/dev/null 2>&1",
      TKFAC_CLI, steps);
  const int status = std::system(cmd.c_str());
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1.0;
  rusage u{};
  getrusage(RUSAGE_CHILDREN, &u);  // the largest child so far: runs go shortest first
  return static_cast<double>(u.ru_maxrss) / 1e3;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace tkfac;
  const long solves = argc > 1 ? std::atol(argv[1]) : 10000;
  const long train_steps = argc > 2 ? std::atol(argv[2]) : 1500;
  dense::keep_freed_memory();
  dense::set_threads(1);
  cosim::register_backends();
  solver::SolverOptions opt;
  opt.backend = "spice";
  auto spice = solver::LinearSolver::create(opt);
  std::mt19937_64 rng(5);
  const Eigen::MatrixXd m = random_spd(16, 100.0, rng);
  const Eigen::MatrixXd b = random_normal(16, 4, rng);

  std::puts("Multi-right-hand-side spice solves, n = 16, 4 right-hand sides:");
  std::puts(fmt::format("{:>8} {:>12} {:>16} {:>10}", "solves", "RSS MB", "MB per 1000", "s")
                .c_str());
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < 100 && i < solves; ++i) spice->solve(m, b);
  const double base = resident_mb();
  double last = base;
  for (long i = 100; i < solves; ++i) {
    spice->solve(m, b);
    if ((i + 1) % 1000 == 0 || i + 1 == solves) {
      const double now = resident_mb();
      const double s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::puts(fmt::format("{:>8} {:>12.2f} {:>16.3f} {:>10.1f}", i + 1, now,
                            (now - last) * 1000.0 / static_cast<double>(std::min(1000L, i + 1 - 100)),
                            s)
                    .c_str());
      last = now;
    }
  }
  if (solves > 100) {
    std::puts(fmt::format("growth after warm-up: {:.3f} MB over {} solves = {:.3f} MB per 1000",
                          last - base, solves - 100,
                          (last - base) * 1000.0 / static_cast<double>(solves - 100))
                  .c_str());
  }

  if (train_steps > 10) {
    std::puts("\ntkfac train, 8-16-3, --solver spice (peak resident memory):");
    const double short_run = train_peak_mb(10);
    const double long_run = train_peak_mb(train_steps);
    std::puts(fmt::format("10 steps {:.1f} MB, {} steps {:.1f} MB: grew {:.1f} MB", short_run,
                          train_steps, long_run, long_run - short_run)
                  .c_str());
  }
  return 0;
}
