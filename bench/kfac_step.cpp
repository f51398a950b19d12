// bench/kfac_step: where a K-FAC step's time goes on any MLP (--layers, --batch-size), phase by
// phase (gradient = forward + backward, factors, inversion/solves = the LinearSolver calls,
// update = the rest), in ms, as a ratio to the Adam step measured in the same run, and as a
// fraction of this machine's own DGEMM rate (measured in the same run, on the threads given).
//
// Every K-FAC step refreshes its inverses (Method 1, inverse interval 1) or solves afresh
// (Method 2): the worst case. Medians over the steps, after one warm-up step.
//
//   kfac_step                                          # reference network 49-32-10, batch 64
//   kfac_step --layers 784,512,512,10 --batch-size 128 --backends cholesky
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "tkfac/core/dense.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/core/spd.hpp"
#include "tkfac/cosim/backends.hpp"
#include "tkfac/kfac/mlp.hpp"
#include "tkfac/kfac/step_profile.hpp"

namespace kf = tkfac::kfac;

namespace {

// GFLOP/s of C = A B at n x n (Eigen's product, which runs OpenBLAS's dgemm).
double dgemm_gflops(int n) {
  std::mt19937_64 rng(3);
  const Eigen::MatrixXd a = tkfac::random_normal(n, n, rng), b = tkfac::random_normal(n, n, rng);
  Eigen::MatrixXd c(n, n);
  const double s = tkfac::bench::median_seconds(5, [&] { c.noalias() = a * b; });
  return 2.0 * n * n * n / s * 1e-9;
}

std::string fraction(double flops, double seconds, double peak_gflops) {
  if (seconds <= 0) return "-";
  return fmt::format("{:.2f}", flops / seconds * 1e-9 / peak_gflops);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench/kfac_step: time per K-FAC step phase on an MLP, against Adam and DGEMM"};
  std::string layers = "49,32,10";
  int batch_size = 64, threads = 1, steps = 20;
  double budget = 20.0;
  std::vector<std::string> backends = {"cholesky", "cg", "spice", "spice/integrator"};
  app.add_option("--layers", layers, "layer sizes, input first")->capture_default_str();
  app.add_option("--batch-size", batch_size, "examples per step")->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "BLAS threads (1: compare with single-threaded peers)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--steps", steps, "measured steps per case, at most")->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--budget", budget, "seconds per case, about (fewer steps when slow)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--backends", backends, "K-FAC solver backends (spice/integrator: that encoding)")
      ->delimiter(',')->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    tkfac::cosim::register_backends();
    tkfac::dense::keep_freed_memory();  // as the tkfac program does
    tkfac::dense::set_threads(threads);
    const std::vector<int> sizes = kf::parse_layer_sizes(layers);
    const int largest = *std::max_element(sizes.begin(), sizes.end()) + 1;
    const double peak = dgemm_gflops(std::clamp(largest, 256, 1024));
    kf::OptimizerConfig adam;
    adam.name = "adam";
    const kf::PhaseTimes base = kf::profile_steps(sizes, batch_size, adam, steps, budget);
    std::printf(
        "MLP %s tanh, batch %d, float64, %d BLAS thread(s) of %s.\nDGEMM (n = %d): %.1f GFLOP/s. "
        "Adam step (baseline): %.3f ms.\nColumns: ms per step phase; (x.xx) = the phase's "
        "GFLOP/s as a fraction of DGEMM's.\n\n",
        layers.c_str(), batch_size, threads, tkfac::dense::blas_description().c_str(),
        std::clamp(largest, 256, 1024), peak,
        1e3 * base.step);
    std::puts(fmt::format("{:<30} {:>6} {:>10} {:>9} {:>16} {:>16} {:>16} {:>16}", "optimizer",
                          "steps", "step ms", "step/Adam", "gradient", "factors", "inversion",
                          "update")
                  .c_str());
    for (const std::string& backend : backends) {
      for (const kf::KfacMethod method : {kf::KfacMethod::inverse, kf::KfacMethod::solve}) {
        const bool integrator = backend == "spice/integrator";
        if (integrator && method == kf::KfacMethod::solve) continue;
        kf::OptimizerConfig cfg;
        cfg.name = "kfac";
        cfg.kfac.method = method;
        cfg.kfac.solver.backend = integrator ? "spice" : backend;
        if (integrator) cfg.kfac.solver.netlist.encoding = tkfac::netlist_gen::Encoding::integrator;
        const bool circuit = cfg.kfac.solver.backend == "spice";
        const kf::PhaseTimes t =
            kf::profile_steps(sizes, batch_size, cfg, circuit ? 3 : steps, budget);
        const kf::PhaseFlops f = kf::kfac_phase_flops(sizes, batch_size, cfg.kfac);
        const auto cell = [&](double seconds, double flops, bool digital) {
          return fmt::format("{:.3f} ({})", 1e3 * seconds,
                             digital ? fraction(flops, seconds, peak) : "-");
        };
        const bool digital = backend == "cholesky";  // cg's and the circuit's work differ
        const std::string label = fmt::format(
            "kfac:{} {}", backend, method == kf::KfacMethod::inverse ? "method1" : "method2");
        std::puts(fmt::format("{:<30} {:>6} {:>10.3f} {:>9.2f} {:>16} {:>16} {:>16} {:>16}", label,
                              t.steps, 1e3 * t.step, t.step / base.step,
                              cell(t.gradient, f.gradient, true), cell(t.factors, f.factors, true),
                              cell(t.inversion, f.inversion, digital),
                              cell(t.update, f.update, true))
                      .c_str());
      }
    }
    std::puts(
        "\ninversion: time inside LinearSolver calls (Method 1: both damped inverses of every "
        "layer;\nMethod 2: G X = dW, then A from the right); its DGEMM fraction is given for "
        "cholesky only.\nupdate: the rest of the update (Method 1: G^-1 dW A^-1).");
  } catch (const tkfac::InputError& e) {
    std::fprintf(stderr, "kfac_step: error: %s\n", e.what());
    return 2;
  }
  return 0;
}
