#include "tkfac/kfac/step_profile.hpp"

#include <algorithm>
#include <chrono>
#include <random>

#include "tkfac/core/spd.hpp"

namespace tkfac::kfac {
namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

}  // namespace

Batch random_batch(int inputs, int classes, int batch_size, std::mt19937_64& rng) {
  Batch b;
  b.x = random_normal(inputs, batch_size, rng);
  std::uniform_int_distribution<int> label(0, classes - 1);
  for (int i = 0; i < batch_size; ++i) b.y.push_back(label(rng));
  return b;
}

PhaseTimes profile_steps(const std::vector<int>& sizes, int batch_size,
                         const OptimizerConfig& config, int max_steps, double budget_seconds) {
  Mlp net(sizes, Activation::tanh, 1);
  auto opt = make_optimizer(config);
  std::mt19937_64 rng(2);
  std::vector<double> step, gradient, factors, inversion, update;
  double spent = 0.0;
  max_steps = std::max(1, max_steps);
  // Step 0 is the warm-up (first factors, library initialization, the first touch of every
  // page the step uses): never measured.
  for (int s = 0; s <= max_steps; ++s) {
    const Batch batch = random_batch(sizes.front(), sizes.back(), batch_size, rng);
    const auto start = std::chrono::steady_clock::now();
    const StepReport r = opt->step(net, batch);
    const double t =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (s == 0) continue;
    spent += t;
    step.push_back(t);
    gradient.push_back(r.gradient_seconds);
    factors.push_back(r.factor_seconds);
    inversion.push_back(r.solver_wall_seconds);
    update.push_back(r.update_seconds - r.solver_wall_seconds);
    if (spent + t > budget_seconds) break;
  }
  return {median(step),      median(gradient), median(factors),
          median(inversion), median(update),   static_cast<int>(step.size())};
}

PhaseFlops kfac_phase_flops(const std::vector<int>& sizes, int batch_size,
                            const KfacOptions& options) {
  PhaseFlops f;
  const double b = batch_size;
  for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
    const double n_in = sizes[l], n_out = sizes[l + 1];
    const double cols = n_in + 1;  // W_bar has the bias column
    const double n_a = options.bias == BiasMode::folded ? cols : n_in;
    // Forward W_bar x; backward dW = delta x^T and (but for the first layer) W^T delta.
    f.gradient += 2 * b * cols * n_out + 2 * b * cols * n_out + (l > 0 ? 2 * b * n_in * n_out : 0);
    f.factors += b * n_a * (n_a + 1) + b * n_out * (n_out + 1);
    if (options.method == KfacMethod::inverse) {
      f.inversion += n_a * n_a * n_a + n_out * n_out * n_out;
      f.update += 2 * n_out * n_out * n_a + 2 * n_out * n_a * n_a;
    } else {
      // G X = dW (cols right-hand sides), then A U^T = X^T (n_out right-hand sides).
      f.inversion += n_out * n_out * n_out / 3 + 2 * n_out * n_out * cols;
      f.inversion += n_a * n_a * n_a / 3 + 2 * n_a * n_a * n_out;
    }
  }
  return f;
}

}  // namespace tkfac::kfac
