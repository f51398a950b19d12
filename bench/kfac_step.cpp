// bench/kfac_step: time per training step of the reference network (Fashion-MNIST pooled to 7x7,
// 49-32-10 tanh, batch 64), broken into gradient (forward + backward), factor construction,
// solves/inversions (LinearSolver calls) and the rest of the update, for each solver backend
// and both K-FAC methods, as ratios to the Adam step measured in the same run.
//
// Every K-FAC step here refreshes its inverses (Method 1, inverse interval 1) or solves afresh
// (Method 2): the worst case. Medians over the steps, after one warm-up step.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "tkfac/cosim/backends.hpp"
#include "tkfac/kfac/dataset.hpp"
#include "tkfac/kfac/mlp.hpp"
#include "tkfac/kfac/optimizer_factory.hpp"

namespace kf = tkfac::kfac;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

struct Timing {
  double step = 0, gradient = 0, factors = 0, solves = 0, update = 0;
};

Timing time_steps(const kf::OptimizerConfig& cfg, const kf::Dataset& train, int steps) {
  kf::Mlp net({49, 32, 10}, kf::Activation::tanh, 1);
  auto opt = kf::make_optimizer(cfg);
  std::vector<double> step, gradient, factors, solves, update;
  for (int s = 0; s <= steps; ++s) {
    const kf::Batch batch = train.slice(64L * s, 64);
    const auto start = std::chrono::steady_clock::now();
    const kf::StepReport r = opt->step(net, batch);
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (s == 0) continue;  // warm-up: first factors, library initialization
    step.push_back(t);
    gradient.push_back(r.gradient_seconds);
    factors.push_back(r.factor_seconds);
    solves.push_back(r.solver_wall_seconds);
    update.push_back(r.update_seconds - r.solver_wall_seconds);
  }
  return {median(step), median(gradient), median(factors), median(solves), median(update)};
}

}  // namespace

int main() {
  tkfac::cosim::register_backends();  // the spice runs below
  kf::FashionMnistOptions fo;
  fo.pool = 4;
  fo.limit = 64 * 201;
  const kf::Dataset train = kf::load_fashion_mnist(kf::Split::train, fo);

  kf::OptimizerConfig adam;
  adam.name = "adam";
  const Timing base = time_steps(adam, train, 200);
  std::printf("Reference network 49-32-10 tanh, batch 64. Adam step (baseline): %.3g ms\n\n",
              1e3 * base.step);
  std::puts(fmt::format("{:<28} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9}", "optimizer", "step ms",
                        "step/Adam", "gradient", "factors", "solves", "update")
                .c_str());
  std::puts(fmt::format("{:<28} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9}", "", "", "", "/Adam",
                        "/Adam", "/Adam", "/Adam")
                .c_str());
  struct Case {
    std::string backend, encoding;
    kf::KfacMethod method;
    int steps;
  };
  const std::vector<Case> cases = {
      {"cholesky", "", kf::KfacMethod::inverse, 200}, {"cholesky", "", kf::KfacMethod::solve, 200},
      {"cg", "", kf::KfacMethod::inverse, 50},        {"cg", "", kf::KfacMethod::solve, 50},
      {"spice", "behavioral", kf::KfacMethod::inverse, 3},
      {"spice", "behavioral", kf::KfacMethod::solve, 3},
      {"spice", "integrator", kf::KfacMethod::inverse, 3},
  };
  for (const Case& c : cases) {
    kf::OptimizerConfig cfg;
    cfg.name = "kfac";
    cfg.kfac.method = c.method;
    cfg.kfac.solver.backend = c.backend;
    if (c.encoding == "integrator") cfg.kfac.solver.netlist.encoding = tkfac::netlist_gen::Encoding::integrator;
    const Timing t = time_steps(cfg, train, c.steps);
    const std::string label = fmt::format(
        "kfac:{}{} {}", c.backend, c.encoding.empty() ? "" : "/" + c.encoding,
        c.method == kf::KfacMethod::inverse ? "method1" : "method2");
    std::puts(fmt::format("{:<28} {:>10.3f} {:>9.1f} {:>9.2f} {:>9.2f} {:>9.1f} {:>9.2f}", label,
                          1e3 * t.step, t.step / base.step, t.gradient / base.step,
                          t.factors / base.step, t.solves / base.step, t.update / base.step)
                  .c_str());
  }
  std::puts("\nsolves: time inside LinearSolver calls (Method 1: both damped inverses of every "
            "layer; Method 2: G X = dW, then A from the right). update: the rest of the update.");
  return 0;
}
