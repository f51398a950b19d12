#pragma once
// K-FAC (Martens & Grosse 2015) for MLPs, with the factor solves done by any
// solver::LinearSolver backend (cholesky, cg, ou, spice). docs/DESIGN.md section 4.
//
//   tkfac::kfac::KfacOptions opt;
//   opt.learning_rate = 0.05;
//   opt.solver.backend = "spice";               // any LinearSolver backend, with its options
//   tkfac::kfac::Kfac kfac(opt);
//   tkfac::kfac::StepReport r = kfac.step(net, batch);  // r.analog_seconds: circuit time used
//
// Per layer, with a_bar = [a; 1], g = b * dL/ds per example (b the batch size: the loss is
// mean-reduced, so dL/ds carries 1/b), on every factor update:
//   A_batch = a_bar a_bar^T / b,  G_batch = g g^T / b,
//   A <- beta A + (1 - beta) A_batch   (first update: A = A_batch, or A starts at 0; ema_init)
// and on every step, with the gradient dW_bar of the mean loss:
//   U = (G + lambda_G I)^-1 dW_bar (A + lambda_A I)^-1
//   tikhonov: lambda_A = lambda_G = sqrt(lambda)
//   pi:       pi = sqrt((tr A / dim A) / (tr G / dim G)), lambda_A = pi sqrt(lambda),
//             lambda_G = sqrt(lambda) / pi
//   KL clip:  nu = min(1, sqrt(kl_clip / (lr^2 sum_l <U_l, dW_l>)))   (kl_clip > 0)
//   momentum: v <- mu v + nu U;  W_bar <- W_bar - lr v
// Method `inverse` (1): (G + lambda_G I)^-1 and (A + lambda_A I)^-1 from the solver, kept for
// inverse_update_interval steps. Method `solve` (2): solve G X = dW_bar, then Y A = X, every step.
// Bias `separate` (ASDL): A = a a^T / b without the ones entry; U_W as above and
// U_b = (G + lambda_G I)^-1 db.
//
// The solves of a step go to the solver in batches (LinearSolver::solve_all), so a backend may
// batch or spread them. Method 1: one call with every inverse due at a refresh ((A + lA I)^-1,
// (G + lG I)^-1 per layer). Method 2 has a true dependency (the A-solve needs the G-solve's X), so
// two calls per step: first every layer's (G + lG I) X = dW_bar (with the bias separate, X's last
// column is the bias update, so the bias solves are in this call), then every layer's
// (A + lA I) U^T = X^T. StepReport's solves, solver_wall_seconds and analog_seconds count and sum
// over the requests as before.
// solve_start "previous" (Thermodynamic NGD's warm start): each request carries the state its
// circuit runs start from (SolveRequest::start): Method 2 the previous step's X and U^T, Method 1
// the inverses in use (columns of unit right-hand sides). With a finite --analog-time this is
// the knob from gradient-like (short time, stays near the start) to natural-gradient updates.
//
// The optimizer works on layers through KfacLayer (kfac_layer.hpp); step(Mlp&, ...) only runs the
// network's forward and backward passes and hands its dense layers to update().
#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <random>
#include <string_view>
#include <vector>

#include "tkfac/solver/linear_solver.hpp"
#include "tkfac/kfac/kfac_layer.hpp"
#include "tkfac/kfac/kfac_options.hpp"
#include "tkfac/kfac/optimizer.hpp"

namespace tkfac::kfac {

class Kfac final : public Optimizer {
 public:
  explicit Kfac(KfacOptions options = {});  // validates; creates the solver (InputError)
  // With a solver made elsewhere (a wrapped or instrumented backend); options.solver is then
  // only recorded (checkpoints), not used to create one.
  Kfac(KfacOptions options, std::unique_ptr<solver::LinearSolver> solver);
  ~Kfac() override;
  std::string_view name() const override { return "kfac"; }
  StepReport step(Mlp& net, const Batch& batch) override;
  long steps() const override { return steps_; }
  nlohmann::json state() const override;
  void load_state(const nlohmann::json& state, const Mlp& net) override;
  const KfacOptions& options() const { return options_; }
  // Progress of the factor solves (LinearSolver::set_progress): one call per inverse refresh
  // (Method 1) or two per step (Method 2), each counting its circuit runs.
  void set_solve_progress(solver::ProgressCallback callback) {
    solver_->set_progress(std::move(callback));
  }

  // The optimizer proper on any layers: the factor update when factors_due(), the step's solves,
  // KL clipping, momentum and each layer's apply_update. `layers` are the network's layers for
  // the batch (their output gradients those of the Fisher's loss when factors_due()); `report`
  // holds the loss; factor_seconds is measured from `factor_start`. step(Mlp&, ...) calls this.
  void update(const std::vector<KfacLayer*>& layers, StepReport& report,
              std::chrono::steady_clock::time_point factor_start);
  // Whether this step updates the factors (every factor_update_interval steps).
  bool factors_due() const { return steps_ % options_.factor_update_interval == 0; }

  // Introspection (tests, plots). Valid after the first step.
  struct LayerState {
    Eigen::MatrixXd a, g;          // EMA factors A (n_in+1 or n_in square), G (n_out square)
    Eigen::MatrixXd a_inv, g_inv;  // Method 1: damped inverses in use (empty otherwise)
    double lambda_a = 0.0, lambda_g = 0.0;  // damping of the inverses in use (Method 1)
    Eigen::MatrixXd velocity;               // momentum buffer, shape of W_bar
    Eigen::MatrixXd direction;  // last step's update direction before lr (nu U, + momentum)
    // Method 2: the last step's solutions X of (G + lG I) X = dW_bar and U^T of
    // (A + lA I) U^T = X^T, the next step's starts with solve_start "previous" (else empty).
    Eigen::MatrixXd x_prev, ut_prev;
  };
  const std::vector<LayerState>& layers() const { return layers_; }
  // The damping pair (lambda_A, lambda_G) the options give for factors a and g.
  std::pair<double, double> damping_for(const Eigen::MatrixXd& a, const Eigen::MatrixXd& g) const;

 private:
  bool warm_start() const { return options_.solve_start == "previous"; }
  void init_layers(const std::vector<KfacLayer*>& layers);
  void update_factors(const std::vector<KfacLayer*>& layers);
  void refresh_inverses(StepReport& report);  // Method 1, one solve_all
  Eigen::MatrixXd apply_inverses(int layer, const Eigen::MatrixXd& grad) const;  // Method 1
  std::vector<Eigen::MatrixXd> solve_updates(const std::vector<Eigen::MatrixXd>& grads,
                                             StepReport& report);  // Method 2, two solve_alls

  KfacOptions options_;
  std::unique_ptr<solver::LinearSolver> solver_;
  long steps_ = 0;
  long factor_updates_ = 0;
  std::mt19937_64 rng_;
  std::vector<LayerState> layers_;
  ForwardCache cache_;
};

// The systems K-FAC hands its solver, by shape, for layers with parameters `weights` (each
// W_bar, n_out x (n_in + 1)): with options.method inverse those of one inverse refresh (every
// layer's A and G inverse), with solve those of one step (every layer's G-solve, a right-hand
// side per column of W_bar, then its A-solve, one per output). A program states a run's cost
// with them before training:
//   solver->cost_all(kfac_solve_shapes(net.weights(), options)).circuit_runs
std::vector<solver::SolveShape> kfac_solve_shapes(const std::vector<Eigen::MatrixXd>& weights,
                                                  const KfacOptions& options);

}  // namespace tkfac::kfac
