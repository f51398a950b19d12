#include "tkfac/kfac/kfac_optimizer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

#include "json_util.hpp"
#include "tkfac/core/option_json.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/kfac/kfac_factors.hpp"

namespace tkfac::kfac {

Kfac::Kfac(KfacOptions options) : options_(std::move(options)), rng_(options_.seed) {
  options_.validate();
  solver_ = solver::LinearSolver::create(options_.solver);
}

Kfac::Kfac(KfacOptions options, std::unique_ptr<solver::LinearSolver> solver)
    : options_(std::move(options)), solver_(std::move(solver)), rng_(options_.seed) {
  options_.validate();
  if (!solver_) throw InputError("kfac: no factor solver given");
}

Kfac::~Kfac() = default;

std::pair<double, double> Kfac::damping_for(const Eigen::MatrixXd& a,
                                            const Eigen::MatrixXd& g) const {
  return damping_pair(options_, a, g);
}

void Kfac::init_layers(const std::vector<KfacLayer*>& layers) {
  layers_.assign(layers.size(), LayerState{});
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const auto& w = layers[l]->weights();
    const Eigen::Index da = options_.bias == BiasMode::folded ? w.cols() : w.cols() - 1;
    layers_[l].a = Eigen::MatrixXd::Zero(da, da);
    layers_[l].g = Eigen::MatrixXd::Zero(w.rows(), w.rows());
    layers_[l].velocity = Eigen::MatrixXd::Zero(w.rows(), w.cols());
  }
}

void Kfac::update_factors(const std::vector<KfacLayer*>& layers) {
  const bool first = factor_updates_ == 0 && options_.ema_init == EmaInit::first_batch;
  const double beta = options_.ema_decay;
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const LayerFactors f = layer_factors(*layers[l], options_.bias);
    auto& s = layers_[l];
    if (first) {
      s.a = f.a;
      s.g = f.g;
    } else {
      s.a = beta * s.a + (1.0 - beta) * f.a;
      s.g = beta * s.g + (1.0 - beta) * f.g;
    }
  }
  ++factor_updates_;
}

namespace {

// Adds one solve to the step's report; returns its solution.
Eigen::MatrixXd& account(solver::Solution& sol, StepReport& report) {
  report.analog_seconds += sol.report.analog_seconds;
  report.simulator_steps += sol.report.simulator_steps;
  report.solver_wall_seconds += sol.report.wall_seconds;
  report.solves += 1;
  report.converged = report.converged && sol.report.converged;
  return sol.x;
}

solver::SolveRequest request(solver::SolveRequest::Kind kind, const Eigen::MatrixXd& m,
                            Eigen::MatrixXd rhs, double damping, std::string label) {
  solver::SolveRequest r;
  r.kind = kind;
  r.matrix = m;
  r.rhs = std::move(rhs);
  r.damping = damping;
  r.label = std::move(label);
  return r;
}

}  // namespace

std::vector<solver::SolveShape> kfac_solve_shapes(const std::vector<Eigen::MatrixXd>& weights,
                                                  const KfacOptions& options) {
  using Kind = solver::SolveRequest::Kind;
  std::vector<solver::SolveShape> inverses, g_solves, a_solves;
  for (const Eigen::MatrixXd& w : weights) {
    const Eigen::Index n_out = w.rows(), cols = w.cols();
    // A has the ones entry only when the bias is folded into it (kfac_factors.hpp).
    const Eigen::Index n_a = options.bias == BiasMode::folded ? cols : cols - 1;
    // As refresh_inverses() and solve_updates() below ask.
    inverses.push_back({Kind::inverse, n_a, 0});
    inverses.push_back({Kind::inverse, n_out, 0});
    g_solves.push_back({Kind::solve, n_out, cols});
    a_solves.push_back({Kind::solve, n_a, n_out});
  }
  if (options.method == KfacMethod::inverse) return inverses;
  g_solves.insert(g_solves.end(), a_solves.begin(), a_solves.end());
  return g_solves;
}

void Kfac::refresh_inverses(StepReport& report) {
  std::vector<solver::SolveRequest> requests;
  requests.reserve(2 * layers_.size());
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    auto& s = layers_[l];
    const auto [la, lg] = damping_for(s.a, s.g);
    s.lambda_a = la;
    s.lambda_g = lg;
    requests.push_back(
        request(solver::SolveRequest::Kind::inverse, s.a, {}, la, fmt::format("layer {} A", l)));
    requests.push_back(
        request(solver::SolveRequest::Kind::inverse, s.g, {}, lg, fmt::format("layer {} G", l)));
    if (warm_start()) {
      requests[requests.size() - 2].start = s.a_inv;  // empty before the first refresh
      requests.back().start = s.g_inv;
    }
  }
  std::vector<solver::Solution> sols = solver_->solve_all(requests);
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    layers_[l].a_inv = std::move(account(sols[2 * l], report));
    layers_[l].g_inv = std::move(account(sols[2 * l + 1], report));
  }
}

Eigen::MatrixXd Kfac::apply_inverses(int layer, const Eigen::MatrixXd& grad) const {
  const auto& s = layers_[static_cast<std::size_t>(layer)];
  if (options_.bias == BiasMode::folded) return s.g_inv * grad * s.a_inv;
  const Eigen::Index n_in = grad.cols() - 1;
  Eigen::MatrixXd u(grad.rows(), grad.cols());
  u.leftCols(n_in) = s.g_inv * grad.leftCols(n_in) * s.a_inv;
  u.col(n_in) = s.g_inv * grad.col(n_in);
  return u;
}

std::vector<Eigen::MatrixXd> Kfac::solve_updates(const std::vector<Eigen::MatrixXd>& grads,
                                                 StepReport& report) {
  const std::size_t n = layers_.size();
  const bool folded = options_.bias == BiasMode::folded;
  std::vector<std::pair<double, double>> damping(n);
  // First call: every layer's (G + lG I) X = dW_bar. With the bias separate, X's last column is
  // already the bias update (G + lG I)^-1 db, so the bias solves ride along here.
  std::vector<solver::SolveRequest> g_requests;
  g_requests.reserve(n);
  for (std::size_t l = 0; l < n; ++l) {
    damping[l] = damping_for(layers_[l].a, layers_[l].g);
    g_requests.push_back(request(solver::SolveRequest::Kind::solve, layers_[l].g, grads[l],
                                 damping[l].second, fmt::format("layer {} G", l)));
    if (warm_start()) g_requests.back().start = layers_[l].x_prev;  // empty on the first step
  }
  std::vector<solver::Solution> xs = solver_->solve_all(g_requests);
  // Second call, which needs the first's X: every layer's (A + lA I) U^T = X^T (weight columns).
  std::vector<solver::SolveRequest> a_requests;
  a_requests.reserve(n);
  for (std::size_t l = 0; l < n; ++l) {
    const Eigen::MatrixXd& x = xs[l].x;
    const Eigen::Index cols = folded ? x.cols() : x.cols() - 1;
    a_requests.push_back(request(solver::SolveRequest::Kind::solve, layers_[l].a,
                                 x.leftCols(cols).transpose(), damping[l].first,
                                 fmt::format("layer {} A", l)));
    if (warm_start()) a_requests.back().start = layers_[l].ut_prev;
  }
  std::vector<solver::Solution> us = solver_->solve_all(a_requests);
  // Accounted layer by layer, G then A, the order the solves were once made in, so the step's
  // summed analog and wall seconds round exactly as before.
  std::vector<Eigen::MatrixXd> updates(n);
  for (std::size_t l = 0; l < n; ++l) {
    Eigen::MatrixXd x = std::move(account(xs[l], report));
    const Eigen::MatrixXd& ut = account(us[l], report);
    if (warm_start()) {
      layers_[l].x_prev = x;
      layers_[l].ut_prev = ut;
    }
    if (folded) {
      updates[l] = ut.transpose();
    } else {
      x.leftCols(ut.rows()) = ut.transpose();
      updates[l] = std::move(x);
    }
  }
  return updates;
}

StepReport Kfac::step(Mlp& net, const Batch& batch) {
  StepReport report;
  using Clock = std::chrono::steady_clock;
  const auto phase = Clock::now();
  LossAndGradient lg = loss_and_gradient(net, batch, cache_);
  report.gradient_seconds = std::chrono::duration<double>(Clock::now() - phase).count();
  report.loss = lg.loss;
  report.accuracy = lg.accuracy;
  // A diverged network (overflowed weights): no factor or solve can use its NaNs. The step
  // changes nothing and reports the loss, which tells the caller (tkfac train stops there).
  if (!std::isfinite(lg.loss)) return report;
  // The factor phase starts here: it includes the Monte-Carlo Fisher's backward pass.
  const auto factor_start = Clock::now();
  Backward sampled;
  const bool sample = factors_due() && options_.fisher == FisherType::monte_carlo;
  if (sample) sampled = fisher_backward(net, cache_, lg.logits, lg.backward, options_.fisher, rng_);
  std::vector<DenseLayer> dense =
      kfac_layers(net, cache_, lg.backward, sample ? sampled : lg.backward);
  std::vector<KfacLayer*> layers;
  for (auto& d : dense) layers.push_back(&d);
  update(layers, report, factor_start);
  return report;
}

void Kfac::update(const std::vector<KfacLayer*>& layers, StepReport& report,
                  std::chrono::steady_clock::time_point factor_start) {
  using Clock = std::chrono::steady_clock;
  const auto seconds_since = [](Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  };
  if (layers_.empty()) init_layers(layers);
  if (layers_.size() != layers.size() ||
      layers_.front().velocity.rows() != layers.front()->weights().rows() ||
      layers_.front().velocity.cols() != layers.front()->weights().cols()) {
    throw InputError("kfac: optimizer state does not match the network's shape");
  }

  if (factors_due()) update_factors(layers);
  report.factor_seconds = seconds_since(factor_start);
  const auto phase = Clock::now();

  const std::size_t n = layers_.size();
  if (options_.method == KfacMethod::inverse &&
      (steps_ % options_.inverse_update_interval == 0 || layers_.front().a_inv.size() == 0)) {
    refresh_inverses(report);
  }

  std::vector<Eigen::MatrixXd> grads(n), updates(n);
  for (std::size_t l = 0; l < n; ++l) {
    grads[l] = kfac_gradient(layers[l]->weight_gradient(), layers[l]->weights(), options_);
  }
  if (options_.method == KfacMethod::inverse) {
    for (std::size_t l = 0; l < n; ++l) updates[l] = apply_inverses(static_cast<int>(l), grads[l]);
  } else {
    updates = solve_updates(grads, report);
  }
  double vg = 0.0;
  for (std::size_t l = 0; l < n; ++l) vg += updates[l].cwiseProduct(grads[l]).sum();
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
    layers[l]->apply_update(options_.learning_rate, s.velocity);
  }
  ++steps_;
  report.update_seconds = seconds_since(phase);
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
                      {"velocity", matrix_to_json(s.velocity)},
                      {"X_prev", matrix_to_json(s.x_prev)},
                      {"UT_prev", matrix_to_json(s.ut_prev)}});
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
    // Warm-start states (absent in older checkpoints: the next step starts cold).
    if (j.contains("X_prev")) {
      s.x_prev = matrix_from_json(j.at("X_prev"), lw + " X_prev");
      s.ut_prev = matrix_from_json(get<nlohmann::json>(j, "UT_prev", lw), lw + " UT_prev");
      if ((s.x_prev.size() != 0 && (s.x_prev.rows() != w.rows() || s.x_prev.cols() != w.cols())) ||
          (s.ut_prev.size() != 0 && (s.ut_prev.rows() != da || s.ut_prev.cols() != w.rows()))) {
        throw InputError(lw + ": warm-start state has the wrong shape");
      }
    }
    out.push_back(std::move(s));
  }
  steps_ = steps;
  factor_updates_ = factor_updates;
  rng_ = rng;
  layers_ = std::move(out);
}

}  // namespace tkfac::kfac
