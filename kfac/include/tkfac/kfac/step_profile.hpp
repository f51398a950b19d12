#pragma once
// Where a K-FAC step's time goes, for bench/kfac_step and `tkfac profile`: wall time per phase
// (gradient = forward + backward; factors = Kronecker factor construction; inversion = the
// LinearSolver calls, i.e. Method 1's damped inverses or Method 2's solves; update = the rest),
// and each phase's floating-point operations, to compare with the machine's DGEMM rate.
//
//   tkfac::kfac::PhaseTimes t = tkfac::kfac::profile_steps(sizes, 128, config, 3, 2.0);
//   tkfac::kfac::PhaseFlops f = tkfac::kfac::kfac_phase_flops(sizes, 128, config.kfac);
//   double gflops = f.update / t.update * 1e-9;
#include <random>
#include <vector>

#include "tkfac/kfac/kfac_options.hpp"
#include "tkfac/kfac/optimizer_factory.hpp"

namespace tkfac::kfac {

struct PhaseTimes {  // seconds, medians over the measured steps
  double step = 0, gradient = 0, factors = 0, inversion = 0, update = 0;
  int steps = 0;  // steps measured (after the warm-up step)
};

// Times steps of `config`'s optimizer on an MLP of `sizes` (tanh, seed 1) with batches of
// `batch_size` random Gaussian inputs and uniform labels (a step's work does not depend on the
// data). Every K-FAC step refreshes its inverses (Method 1 at interval 1) or solves afresh
// (Method 2): the worst case. Measures `max_steps` steps after an unmeasured warm-up step, fewer
// when the measured ones would exceed `budget_seconds` (at least one).
PhaseTimes profile_steps(const std::vector<int>& sizes, int batch_size,
                         const OptimizerConfig& config, int max_steps, double budget_seconds);

// The batches profile_steps times: `batch_size` standard normal inputs, uniform labels.
Batch random_batch(int inputs, int classes, int batch_size, std::mt19937_64& rng);

struct PhaseFlops {  // floating-point operations of one step, a multiply-add counted as 2
  double gradient = 0, factors = 0, inversion = 0, update = 0;
  double total() const { return gradient + factors + inversion + update; }
};

// The dense kernels' operation counts for one K-FAC step (every layer's factors formed and
// inverted or solved): forward + backward 2 b n_in n_out each, skipping the input's gradient;
// factors b n (n + 1) per Gram matrix; Method 1 n^3 per inverse (Cholesky n^3/3 plus inverse from
// it 2 n^3/3) and 2 n_out^2 n_a + 2 n_out n_a^2 per preconditioned gradient; Method 2 n^3/3 plus
// 2 n^2 m per solve with m right-hand sides. Elementwise work is not counted.
PhaseFlops kfac_phase_flops(const std::vector<int>& sizes, int batch_size,
                            const KfacOptions& options);

}  // namespace tkfac::kfac
