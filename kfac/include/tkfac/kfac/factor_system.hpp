#pragma once
// One Kronecker factor of one layer of a trained network as a linear system, exactly as K-FAC
// forms it: the undamped factor (from one batch or from the optimizer's EMA state), its array,
// the damping K-FAC gives it and Method 2's right-hand sides. `tkfac netlist --model` turns it
// into a circuit; anything else that wants "the system K-FAC solves for layer l" asks here.
//
//   tkfac::kfac::Checkpoint c = tkfac::kfac::load_checkpoint("run.json");
//   tkfac::kfac::FactorSource src = tkfac::kfac::factor_source(c, /*from_ema=*/false);
//   tkfac::kfac::add_batch(src, c.net, batch);
//   tkfac::kfac::FactorSystem s = factor_system(src, 0, tkfac::kfac::Factor::g, /*with_rhs=*/true);
//   // (s.matrix + s.damping I) x = s.rhs.col(j): Method 2's first solve for column j of dW_bar
#include <Eigen/Dense>
#include <optional>
#include <string_view>
#include <vector>

#include "tkfac/kfac/checkpoint.hpp"
#include "tkfac/kfac/kfac_factors.hpp"
#include "tkfac/kfac/kfac_optimizer.hpp"

namespace tkfac::kfac {

enum class Factor { a, g };
// "A"/"a" or "G"/"g"; throws InputError naming `option`.
Factor parse_factor(std::string_view text, std::string_view option = "--factor");
char factor_letter(Factor factor);  // 'A' or 'G'

// Where the factors come from.
struct FactorSource {
  KfacOptions options;                // the checkpoint's K-FAC options (damping, bias, Fisher)
  std::optional<BatchFactors> batch;  // one batch's factors, arrays and gradients
  std::vector<Kfac::LayerState> ema;  // non-empty: take the factors from the EMA state
};

// The source for a checkpoint: its K-FAC options (with the digital cholesky solver: no circuit
// runs here) and, with `from_ema`, the optimizer's EMA state (the checkpoint must come from
// K-FAC; InputError otherwise).
FactorSource factor_source(const Checkpoint& checkpoint, bool from_ema);
// Adds the factors and gradients of `batch` for `net` (Monte-Carlo labels drawn as a fresh
// optimizer with the options' seed draws them).
void add_batch(FactorSource& source, const Mlp& net, const Batch& batch);

struct FactorSystem {
  Eigen::MatrixXd matrix;  // the undamped factor (A or G) as K-FAC holds it
  Eigen::MatrixXd array;   // matrix = array array^T / b (one batch); empty for the EMA
  double damping = 0.0;    // lambda_A or lambda_G, whichever this factor gets
  double lambda_a = 0.0, lambda_g = 0.0;
  // Method 2's right-hand sides, one per column (with_rhs and a batch; empty otherwise):
  //   G: dW_bar, the first solve (G + lambda_G I) X = dW_bar;
  //   A: X^T's weight rows, X = (G + lambda_G I)^-1 dW_bar by Cholesky: the second solve
  //      (A + lambda_A I) U^T = X^T, whose column j is row j of the update U.
  Eigen::MatrixXd rhs;
};

// Layer `layer`'s factor from `source` (the EMA's when source.ema is non-empty, else the batch's).
FactorSystem factor_system(const FactorSource& source, int layer, Factor factor, bool with_rhs);

}  // namespace tkfac::kfac
