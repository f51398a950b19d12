#include "tkfac/kfac/factor_system.hpp"

#include <fmt/format.h>

#include <random>

#include "tkfac/core/error.hpp"

namespace tkfac::kfac {

Factor parse_factor(std::string_view text, std::string_view option) {
  if (text == "A" || text == "a") return Factor::a;
  if (text == "G" || text == "g") return Factor::g;
  throw InputError(fmt::format("{}: unknown factor '{}' (expected A or G)", option, text));
}

char factor_letter(Factor factor) { return factor == Factor::a ? 'A' : 'G'; }

FactorSource factor_source(const Checkpoint& checkpoint, bool from_ema) {
  FactorSource s;
  s.options = checkpoint.optimizer.kfac;
  s.options.solver = solver::SolverOptions{};  // digital bookkeeping only (cholesky)
  s.options.validate();
  if (from_ema) {
    if (checkpoint.optimizer.name != "kfac") {
      throw InputError(fmt::format("checkpoint: trained with '{}', which keeps no K-FAC factors",
                                   checkpoint.optimizer.name));
    }
    Kfac opt(s.options);
    opt.load_state(checkpoint.optimizer_state, checkpoint.net);
    s.ema = opt.layers();
  }
  return s;
}

void add_batch(FactorSource& source, const Mlp& net, const Batch& batch) {
  std::mt19937_64 rng(source.options.seed);  // Monte-Carlo labels, as a fresh optimizer draws them
  source.batch = batch_factors(net, batch, source.options, rng);
}

FactorSystem factor_system(const FactorSource& source, int layer, Factor factor, bool with_rhs) {
  const auto l = static_cast<std::size_t>(layer);
  const bool from_ema = !source.ema.empty();
  if ((from_ema ? source.ema.size() : source.batch ? source.batch->layers.size() : 0) <= l) {
    throw InputError(fmt::format("layer {}: no factors for it (out of range or no batch)", layer));
  }
  const Eigen::MatrixXd& a_fac = from_ema ? source.ema[l].a : source.batch->layers[l].a;
  const Eigen::MatrixXd& g_fac = from_ema ? source.ema[l].g : source.batch->layers[l].g;
  FactorSystem f;
  std::tie(f.lambda_a, f.lambda_g) = damping_pair(source.options, a_fac, g_fac);
  const bool is_a = factor == Factor::a;
  f.matrix = is_a ? a_fac : g_fac;
  f.damping = is_a ? f.lambda_a : f.lambda_g;
  if (!from_ema) f.array = is_a ? source.batch->layers[l].a_array : source.batch->layers[l].g_array;
  if (!with_rhs || !source.batch) return f;
  const Eigen::MatrixXd& grad = source.batch->gradients[l];
  if (!is_a) {
    f.rhs = grad;
    return f;
  }
  Eigen::MatrixXd gd = g_fac;
  gd.diagonal().array() += f.lambda_g;
  const Eigen::MatrixXd x = gd.llt().solve(grad);
  const Eigen::Index cols = source.options.bias == BiasMode::folded ? x.cols() : x.cols() - 1;
  f.rhs = x.leftCols(cols).transpose();
  return f;
}

}  // namespace tkfac::kfac
