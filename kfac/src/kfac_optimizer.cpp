#include "tkfac/kfac/kfac_optimizer.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

#include "json_util.hpp"
#include "tkfac/core/option_json.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/kfac/kfac_factors.hpp"
#include "tkfac/kfac/loss.hpp"

namespace tkfac::kfac {

namespace {

template <class E>
struct EnumName {
  E value;
  std::string_view name;
};

template <class E, std::size_t N>
E parse_enum(std::string_view text, std::string_view option, const EnumName<E> (&names)[N]) {
  std::string known;
  for (const auto& n : names) {
    if (text == n.name) return n.value;
    known += known.empty() ? "" : ", ";
    known += n.name;
  }
  throw InputError(
      fmt::format("{}: unknown value '{}' (expected one of: {})", option, text, known));
}

template <class E, std::size_t N>
std::string_view enum_name(E value, const EnumName<E> (&names)[N]) {
  for (const auto& n : names)
    if (n.value == value) return n.name;
  return "?";
}

constexpr EnumName<DampingScheme> k_damping[] = {{DampingScheme::tikhonov, "tikhonov"},
                                                 {DampingScheme::pi, "pi"}};
constexpr EnumName<KfacMethod> k_method[] = {{KfacMethod::inverse, "inverse"},
                                             {KfacMethod::solve, "solve"}};
constexpr EnumName<FisherType> k_fisher[] = {{FisherType::empirical, "empirical"},
                                             {FisherType::monte_carlo, "mc"}};
constexpr EnumName<BiasMode> k_bias[] = {{BiasMode::folded, "folded"},
                                         {BiasMode::separate, "separate"}};
constexpr EnumName<EmaInit> k_ema_init[] = {{EmaInit::first_batch, "first-batch"},
                                            {EmaInit::zero, "zero"}};

// (x x^T) * scale as an exactly symmetric matrix (the solvers check symmetry).
Eigen::MatrixXd gram(const Eigen::MatrixXd& x, double scale) {
  Eigen::MatrixXd m = Eigen::MatrixXd::Zero(x.rows(), x.rows());
  m.selfadjointView<Eigen::Lower>().rankUpdate(x, scale);
  return m.selfadjointView<Eigen::Lower>();
}

}  // namespace

LayerFactors layer_factors(const ForwardCache& cache, const Backward& fisher_backward, int layer,
                           BiasMode bias) {
  const auto l = static_cast<std::size_t>(layer);
  const Eigen::MatrixXd& a = cache.inputs[l];
  const double b = static_cast<double>(a.cols());
  LayerFactors f;
  if (bias == BiasMode::folded) {
    f.a_array.resize(a.rows() + 1, a.cols());
    f.a_array.topRows(a.rows()) = a;
    f.a_array.bottomRows(1).setOnes();
  } else {
    f.a_array = a;
  }
  f.a = gram(f.a_array, 1.0 / b);
  // Per-example g = b * dL/ds (the loss is a batch mean), so G_batch = (1/b) sum g g^T
  // = b * sum (dL/ds)(dL/ds)^T, computed in that second form (one rounding less).
  const Eigen::MatrixXd& ds = fisher_backward.output_grads[l];
  f.g_array = b * ds;
  f.g = gram(ds, b);
  return f;
}

Backward fisher_backward(const Mlp& net, const ForwardCache& cache, const Eigen::MatrixXd& logits,
                         const Backward& loss_backward, FisherType fisher, std::mt19937_64& rng) {
  if (fisher == FisherType::empirical) return loss_backward;
  // Monte-Carlo Fisher: back-propagate the loss of labels drawn from the model's own
  // predictive distribution (Martens & Grosse 2015, section 5).
  const std::vector<int> sampled = sample_labels(logits, rng);
  Eigen::MatrixXd dlogits;
  softmax_cross_entropy(logits, sampled, &dlogits);
  return net.backward(cache, dlogits, false);
}

Eigen::MatrixXd kfac_gradient(const Eigen::MatrixXd& loss_gradient, const Eigen::MatrixXd& weights,
                              const KfacOptions& options) {
  if (options.weight_decay > 0) return loss_gradient + options.weight_decay * weights;
  return loss_gradient;
}

std::pair<double, double> damping_pair(const KfacOptions& options, const Eigen::MatrixXd& a,
                                       const Eigen::MatrixXd& g) {
  const double root = std::sqrt(options.damping);
  if (options.damping_scheme == DampingScheme::tikhonov) return {root, root};
  // Factored Tikhonov damping (Martens & Grosse 2015, section 6.3): pi balances the two factors'
  // average eigenvalues so that lambda_A * lambda_G = lambda.
  const double ta = a.trace() / static_cast<double>(a.rows());
  const double tg = g.trace() / static_cast<double>(g.rows());
  const double pi = (ta > 0 && tg > 0 && std::isfinite(ta / tg)) ? std::sqrt(ta / tg) : 1.0;
  return {pi * root, root / pi};
}

BatchFactors batch_factors(const Mlp& net, const Batch& batch, const KfacOptions& options,
                           std::mt19937_64& rng) {
  ForwardCache cache;
  LossAndGradient lg = loss_and_gradient(net, batch, cache);
  const Backward fisher =
      fisher_backward(net, cache, lg.logits, lg.backward, options.fisher, rng);
  BatchFactors out;
  out.loss = lg.loss;
  for (int l = 0; l < net.num_layers(); ++l) {
    out.layers.push_back(layer_factors(cache, fisher, l, options.bias));
    out.gradients.push_back(kfac_gradient(lg.backward.grads[static_cast<std::size_t>(l)],
                                          net.weights()[static_cast<std::size_t>(l)], options));
  }
  return out;
}

DampingScheme parse_damping_scheme(std::string_view t, std::string_view o) {
  return parse_enum(t, o, k_damping);
}
KfacMethod parse_kfac_method(std::string_view t, std::string_view o) {
  // Accept the paper's numbering too.
  if (t == "1") return KfacMethod::inverse;
  if (t == "2") return KfacMethod::solve;
  return parse_enum(t, o, k_method);
}
FisherType parse_fisher_type(std::string_view t, std::string_view o) {
  return parse_enum(t, o, k_fisher);
}
BiasMode parse_bias_mode(std::string_view t, std::string_view o) {
  return parse_enum(t, o, k_bias);
}
EmaInit parse_ema_init(std::string_view t, std::string_view o) {
  return parse_enum(t, o, k_ema_init);
}
std::string_view to_string(DampingScheme v) { return enum_name(v, k_damping); }
std::string_view to_string(KfacMethod v) { return enum_name(v, k_method); }
std::string_view to_string(FisherType v) { return enum_name(v, k_fisher); }
std::string_view to_string(BiasMode v) { return enum_name(v, k_bias); }
std::string_view to_string(EmaInit v) { return enum_name(v, k_ema_init); }

void KfacOptions::validate() const {
  options::check(kfac_option_table(), *this);
  const auto known = solver::LinearSolver::backends();
  if (std::find(known.begin(), known.end(), solver.backend) == known.end()) {
    throw InputError(
        fmt::format("--solver: unknown factor solver backend '{}' (expected one of: {})",
                    solver.backend, fmt::join(known, ", ")));
  }
  solver.validate();
}

nlohmann::json to_json(const KfacOptions& o) {
  nlohmann::json j = options::write_json(kfac_option_table(), o);
  nlohmann::json& s = j["solver"] = options::write_json(solver::solver_option_table(), o.solver);
  s["netlist"] = options::write_json(netlist_gen::netlist_option_table(), o.solver.netlist);
  s["thermo"] = options::write_json(solver::thermo_option_table(), o.solver.thermo);
  return j;
}

KfacOptions kfac_options_from_json(const nlohmann::json& j) {
  const std::string what = "kfac options";
  KfacOptions o;
  options::read_json(kfac_option_table(), j, o, what);
  if (j.is_object() && j.contains("solver")) {
    const auto& s = j["solver"];
    options::read_json(solver::solver_option_table(), s, o.solver, what);
    if (s.is_object() && s.contains("netlist")) {
      options::read_json(netlist_gen::netlist_option_table(), s["netlist"], o.solver.netlist, what);
    }
    if (s.is_object() && s.contains("thermo")) {
      options::read_json(solver::thermo_option_table(), s["thermo"], o.solver.thermo, what);
    }
  }
  return o;
}

KfacOptions asdl_options(double learning_rate, double damping, double asdl_ema_decay) {
  KfacOptions o;
  o.learning_rate = learning_rate;
  o.damping = damping;
  o.damping_scheme = DampingScheme::pi;
  o.ema_decay = 1.0 - asdl_ema_decay;
  o.ema_init = EmaInit::zero;
  o.bias = BiasMode::separate;
  o.fisher = FisherType::empirical;
  return o;
}

Kfac::Kfac(KfacOptions options) : options_(std::move(options)), rng_(options_.seed) {
  options_.validate();
  solver_ = solver::LinearSolver::create(options_.solver);
}

Kfac::~Kfac() = default;

std::pair<double, double> Kfac::damping_for(const Eigen::MatrixXd& a,
                                            const Eigen::MatrixXd& g) const {
  return damping_pair(options_, a, g);
}

void Kfac::init_layers(const Mlp& net) {
  layers_.assign(static_cast<std::size_t>(net.num_layers()), LayerState{});
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const auto& w = net.weights()[l];
    const Eigen::Index da = options_.bias == BiasMode::folded ? w.cols() : w.cols() - 1;
    layers_[l].a = Eigen::MatrixXd::Zero(da, da);
    layers_[l].g = Eigen::MatrixXd::Zero(w.rows(), w.rows());
    layers_[l].velocity = Eigen::MatrixXd::Zero(w.rows(), w.cols());
  }
}

void Kfac::update_factors(const Mlp& net, const ForwardCache& cache, const Backward& fisher_bw) {
  const bool first = factor_updates_ == 0 && options_.ema_init == EmaInit::first_batch;
  const double beta = options_.ema_decay;
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const LayerFactors f = layer_factors(cache, fisher_bw, static_cast<int>(l), options_.bias);
    auto& s = layers_[l];
    if (first) {
      s.a = f.a;
      s.g = f.g;
    } else {
      s.a = beta * s.a + (1.0 - beta) * f.a;
      s.g = beta * s.g + (1.0 - beta) * f.g;
    }
  }
  (void)net;
  ++factor_updates_;
}

Eigen::MatrixXd Kfac::precondition(int layer, const Eigen::MatrixXd& grad, StepReport& report) {
  auto& s = layers_[static_cast<std::size_t>(layer)];
  const auto account = [&](const solver::Solution& sol) -> const Eigen::MatrixXd& {
    report.analog_seconds += sol.report.analog_seconds;
    report.solver_wall_seconds += sol.report.wall_seconds;
    report.solves += 1;
    report.converged = report.converged && sol.report.converged;
    return sol.x;
  };
  const bool folded = options_.bias == BiasMode::folded;
  const Eigen::Index n_in = grad.cols() - 1;
  if (options_.method == KfacMethod::inverse) {
    if (folded) return s.g_inv * grad * s.a_inv;
    Eigen::MatrixXd u(grad.rows(), grad.cols());
    u.leftCols(n_in) = s.g_inv * grad.leftCols(n_in) * s.a_inv;
    u.col(n_in) = s.g_inv * grad.col(n_in);
    return u;
  }
  const auto [la, lg] = damping_for(s.a, s.g);
  // Method 2: (G + lG I) X = dW_bar, then (A + lA I) U^T = X^T.
  Eigen::MatrixXd x = account(solver_->solve(s.g, grad, lg));
  if (folded) {
    const Eigen::MatrixXd xt = x.transpose();
    return account(solver_->solve(s.a, xt, la)).transpose();
  }
  const Eigen::MatrixXd xt = x.leftCols(n_in).transpose();
  x.leftCols(n_in) = account(solver_->solve(s.a, xt, la)).transpose();
  return x;
}

StepReport Kfac::step(Mlp& net, const Batch& batch) {
  StepReport report;
  using Clock = std::chrono::steady_clock;
  const auto seconds_since = [](Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  };
  auto phase = Clock::now();
  LossAndGradient lg = loss_and_gradient(net, batch, cache_);
  report.gradient_seconds = seconds_since(phase);
  phase = Clock::now();
  report.loss = lg.loss;
  report.accuracy = lg.accuracy;
  if (layers_.empty()) init_layers(net);
  if (layers_.size() != net.weights().size() ||
      layers_.front().velocity.rows() != net.weights().front().rows() ||
      layers_.front().velocity.cols() != net.weights().front().cols()) {
    throw InputError("kfac: optimizer state does not match the network's shape");
  }

  if (steps_ % options_.factor_update_interval == 0) {
    if (options_.fisher == FisherType::monte_carlo) {
      update_factors(net, cache_,
                     fisher_backward(net, cache_, lg.logits, lg.backward, options_.fisher, rng_));
    } else {
      update_factors(net, cache_, lg.backward);  // no copy of the backward pass
    }
  }
  report.factor_seconds = seconds_since(phase);
  phase = Clock::now();

  const std::size_t n = layers_.size();
  if (options_.method == KfacMethod::inverse &&
      (steps_ % options_.inverse_update_interval == 0 || layers_.front().a_inv.size() == 0)) {
    for (auto& s : layers_) {
      const auto [la, lgd] = damping_for(s.a, s.g);
      s.lambda_a = la;
      s.lambda_g = lgd;
      for (auto* target : {&s.a_inv, &s.g_inv}) {
        const bool is_a = target == &s.a_inv;
        solver::Solution sol = solver_->inverse(is_a ? s.a : s.g, is_a ? la : lgd);
        report.analog_seconds += sol.report.analog_seconds;
        report.solver_wall_seconds += sol.report.wall_seconds;
        report.solves += 1;
        report.converged = report.converged && sol.report.converged;
        *target = std::move(sol.x);
      }
    }
  }

  std::vector<Eigen::MatrixXd> grads(n), updates(n);
  double vg = 0.0;
  for (std::size_t l = 0; l < n; ++l) {
    grads[l] = kfac_gradient(lg.backward.grads[l], net.weights()[l], options_);
    updates[l] = precondition(static_cast<int>(l), grads[l], report);
    vg += updates[l].cwiseProduct(grads[l]).sum();
  }
  double nu = 1.0;
  if (options_.kl_clip > 0) {
    // KL clipping (Ba et al. 2017): bound the predicted KL change lr^2 <U, grad> by kl_clip.
    vg *= options_.learning_rate * options_.learning_rate;
    if (vg > 0) nu = std::min(1.0, std::sqrt(options_.kl_clip / vg));
  }
  report.kl_scale = nu;
  for (std::size_t l = 0; l < n; ++l) {
    auto& s = layers_[l];
    if (options_.momentum > 0) {
      s.velocity = options_.momentum * s.velocity + nu * updates[l];
    } else {
      s.velocity = nu * updates[l];
    }
    s.direction = s.velocity;
    net.weights()[l] -= options_.learning_rate * s.velocity;
  }
  ++steps_;
  report.update_seconds = seconds_since(phase);
  return report;
}

nlohmann::json Kfac::state() const {
  using detail::matrix_to_json;
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& s : layers_) {
    layers.push_back({{"A", matrix_to_json(s.a)},
                      {"G", matrix_to_json(s.g)},
                      {"A_inv", matrix_to_json(s.a_inv)},
                      {"G_inv", matrix_to_json(s.g_inv)},
                      {"lambda_A", s.lambda_a},
                      {"lambda_G", s.lambda_g},
                      {"velocity", matrix_to_json(s.velocity)}});
  }
  return {{"steps", steps_},
          {"factor_updates", factor_updates_},
          {"rng", detail::rng_to_string(rng_)},
          {"layers", layers}};
}

void Kfac::load_state(const nlohmann::json& state, const Mlp& net) {
  const std::string what = "kfac state";
  using detail::get;
  using detail::matrix_from_json;
  const long steps = detail::get_count(state, "steps", what);
  const long factor_updates = detail::get_count(state, "factor_updates", what);
  if (factor_updates > steps) {  // factors are updated at most once per step
    throw InputError(
        fmt::format("{}: \"factor_updates\" {} exceeds \"steps\" {}", what, factor_updates, steps));
  }
  std::mt19937_64 rng =
      detail::rng_from_json(get<nlohmann::json>(state, "rng", what), what + ": rng");
  const auto layers = get<nlohmann::json>(state, "layers", what);
  if (!layers.is_array() || (!layers.empty() && layers.size() != net.weights().size())) {
    throw InputError(fmt::format("{}: state for {} layers, the network has {}", what, layers.size(),
                                 net.weights().size()));
  }
  std::vector<LayerState> out;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const auto& j = layers[l];
    const auto& w = net.weights()[l];
    const Eigen::Index da = options_.bias == BiasMode::folded ? w.cols() : w.cols() - 1;
    const std::string lw = fmt::format("{}: layer {}", what, l);
    LayerState s;
    s.a = matrix_from_json(get<nlohmann::json>(j, "A", lw), lw + " A", da, da);
    s.g = matrix_from_json(get<nlohmann::json>(j, "G", lw), lw + " G", w.rows(), w.rows());
    s.a_inv = matrix_from_json(get<nlohmann::json>(j, "A_inv", lw), lw + " A_inv");
    s.g_inv = matrix_from_json(get<nlohmann::json>(j, "G_inv", lw), lw + " G_inv");
    if ((s.a_inv.size() != 0 && (s.a_inv.rows() != da || s.a_inv.cols() != da)) ||
        (s.g_inv.size() != 0 && (s.g_inv.rows() != w.rows() || s.g_inv.cols() != w.rows()))) {
      throw InputError(lw + ": inverse factor has the wrong shape");
    }
    s.lambda_a = get<double>(j, "lambda_A", lw);
    s.lambda_g = get<double>(j, "lambda_G", lw);
    s.velocity = matrix_from_json(get<nlohmann::json>(j, "velocity", lw), lw + " velocity",
                                  w.rows(), w.cols());
    out.push_back(std::move(s));
  }
  steps_ = steps;
  factor_updates_ = factor_updates;
  rng_ = rng;
  layers_ = std::move(out);
}

}  // namespace tkfac::kfac
