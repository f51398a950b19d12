#pragma once
// K-FAC (Martens & Grosse 2015) for MLPs, with the factor solves done by any
// solver::LinearSolver backend (cholesky, cg, ou, spice). docs/DESIGN.md.
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
#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <random>
#include <string_view>

#include "tkfac/kfac/optimizer.hpp"
#include "tkfac/solver/linear_solver.hpp"

namespace tkfac::kfac {

enum class DampingScheme { tikhonov, pi };
enum class KfacMethod { inverse, solve };          // DESIGN.md Method 1 and Method 2
enum class FisherType { empirical, monte_carlo };  // true labels / labels sampled from the model
enum class BiasMode { folded, separate };          // Eq. (4) ones entry in A / ASDL
enum class EmaInit { first_batch, zero };          // first factor update sets / adds to zero

// Each throws InputError naming `option` and the accepted values.
DampingScheme parse_damping_scheme(std::string_view text,
                                   std::string_view option = "--damping-scheme");
KfacMethod parse_kfac_method(std::string_view text, std::string_view option = "--method");
FisherType parse_fisher_type(std::string_view text, std::string_view option = "--fisher");
BiasMode parse_bias_mode(std::string_view text, std::string_view option = "--bias");
EmaInit parse_ema_init(std::string_view text, std::string_view option = "--ema-init");
std::string_view to_string(DampingScheme v);
std::string_view to_string(KfacMethod v);
std::string_view to_string(FisherType v);
std::string_view to_string(BiasMode v);
std::string_view to_string(EmaInit v);

struct KfacOptions {
  double learning_rate = 0.05;
  double damping = 1e-3;  // lambda, > 0
  DampingScheme damping_scheme = DampingScheme::pi;
  double ema_decay = 0.95;  // beta in [0, 1); ASDL's ema_decay w is 1 - beta
  EmaInit ema_init = EmaInit::first_batch;
  int factor_update_interval = 1;   // steps between factor (EMA) updates, >= 1
  int inverse_update_interval = 1;  // Method 1: steps between inverse refreshes, >= 1
  KfacMethod method = KfacMethod::inverse;
  double kl_clip = 0.0;       // 0: off
  double momentum = 0.0;      // mu in [0, 1)
  double weight_decay = 0.0;  // L2, added to the gradient before preconditioning
  FisherType fisher = FisherType::empirical;
  BiasMode bias = BiasMode::folded;
  std::uint64_t seed = 0;  // Monte-Carlo Fisher label sampling
  solver::SolverOptions solver;

  void validate() const;  // throws InputError naming the option
};
// The description of KfacOptions' own fields (src/kfac_option_table.cpp); `solver` is
// described by cosim's solver, netlist and thermo tables.
const options::OptionTable<KfacOptions>& kfac_option_table();
// {own fields, "solver": {backend, cg, "netlist": {...}, "thermo": {...}}}; reading keeps the
// defaults of missing keys (older checkpoints).
nlohmann::json to_json(const KfacOptions& options);
KfacOptions kfac_options_from_json(const nlohmann::json& j);

// The settings of the Thermodynamic K-FAC paper's code (ASDL): bias apart, pi damping,
// empirical Fisher, EMA from zero. `asdl_ema_decay` is ASDL's w (F <- (1-w) F + w F_batch).
KfacOptions asdl_options(double learning_rate, double damping, double asdl_ema_decay);

class Kfac final : public Optimizer {
 public:
  explicit Kfac(KfacOptions options = {});  // validates; creates the solver (InputError)
  ~Kfac() override;
  std::string_view name() const override { return "kfac"; }
  StepReport step(Mlp& net, const Batch& batch) override;
  long steps() const override { return steps_; }
  nlohmann::json state() const override;
  void load_state(const nlohmann::json& state, const Mlp& net) override;
  const KfacOptions& options() const { return options_; }

  // Introspection (tests, plots). Valid after the first step.
  struct LayerState {
    Eigen::MatrixXd a, g;          // EMA factors A (n_in+1 or n_in square), G (n_out square)
    Eigen::MatrixXd a_inv, g_inv;  // Method 1: damped inverses in use (empty otherwise)
    double lambda_a = 0.0, lambda_g = 0.0;  // damping of the inverses in use (Method 1)
    Eigen::MatrixXd velocity;               // momentum buffer, shape of W_bar
    Eigen::MatrixXd direction;  // last step's update direction before lr (nu U, + momentum)
  };
  const std::vector<LayerState>& layers() const { return layers_; }
  // The damping pair (lambda_A, lambda_G) the options give for factors a and g.
  std::pair<double, double> damping_for(const Eigen::MatrixXd& a, const Eigen::MatrixXd& g) const;

 private:
  void init_layers(const Mlp& net);
  void update_factors(const Mlp& net, const ForwardCache& cache, const Backward& fisher_bw);
  Eigen::MatrixXd precondition(int layer, const Eigen::MatrixXd& grad, StepReport& report);

  KfacOptions options_;
  std::unique_ptr<solver::LinearSolver> solver_;
  long steps_ = 0;
  long factor_updates_ = 0;
  std::mt19937_64 rng_;
  std::vector<LayerState> layers_;
  ForwardCache cache_;
};

}  // namespace tkfac::kfac
