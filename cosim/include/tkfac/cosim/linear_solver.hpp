#pragma once
// Pluggable solvers for (M + damping*I) X = B, M symmetric positive definite.
//
//   tkfac::cosim::SolverOptions opt;
//   opt.backend = "spice";                       // or "cholesky", "cg"
//   auto solver = tkfac::cosim::LinearSolver::create(opt);
//   tkfac::cosim::Solution s = solver->solve(M, B);
//   std::cout << s.report.wall_seconds << " s, " << s.report.analog_seconds << " s analog\n";
//   // from activations a (M = a a^T / b): opt.netlist.encoding = Encoding::activation, then
//   // solver->solve_activations(a, B, damping)
//
// Every backend takes the same inputs and returns the same Solution; tests compare each backend
// with `cholesky`.
#include <Eigen/Dense>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tkfac/cosim/thermodynamic.hpp"
#include "tkfac/netlist_gen/encoding.hpp"

namespace tkfac::cosim {

struct SolverOptions {
  std::string backend = "cholesky";  // cholesky | cg | spice | ou
  // cg
  double cg_tolerance = 1e-12;   // relative residual ||M x - b|| / ||b||
  int cg_max_iterations = 0;     // 0: 10 * n
  // spice and ou (the exact Ornstein-Uhlenbeck twin of the spice circuit)
  netlist_gen::NetlistOptions netlist;
  // spice and ou: noisy sampling, finite analog time, warm starts (thermodynamic.hpp). The
  // spice backend uses them when netlist.noise_variance > 0, thermo.analog_time > 0 or
  // thermo.start == "warm"; otherwise it runs as before (noiseless, cold, final state).
  ThermoOptions thermo;

  void validate() const;  // throws InputError naming the option
};

struct SolveReport {
  std::string backend;
  std::string method;            // how several right-hand sides were handled, etc.
  double wall_seconds = 0.0;
  double analog_seconds = 0.0;   // simulated circuit time summed over runs (0 for digital)
  double predicted_tau = 0.0;    // R C / alpha_min (0 for digital)
  int iterations = 0;            // cg iterations (max over columns) or circuit runs
  bool converged = true;         // cg: tolerance reached within the cap
  // Thermodynamic solves (ou, and spice with noise / finite time / warm start), per run:
  std::string estimator{};        // "mean", "covariance", "final state", "samples"
  double burn_in_seconds = 0.0;   // analog time discarded before the window
  double window_seconds = 0.0;    // analog time averaged
  double sample_interval = 0.0;   // seconds between samples (the noise sample time)
  long samples = 0;               // samples in the window
  double effective_samples = 0.0;  // independent samples of the slowest mode
  double standard_error = 0.0;    // largest standard error of the result's entries
  Eigen::MatrixXd standard_errors{};  // per entry of x (empty when not estimated)
};

struct Solution {
  Eigen::MatrixXd x;
  SolveReport report;
};

// One system of a batch (solve_all): (M + damping I) X = rhs, or (M + damping I)^-1.
struct SolveRequest {
  enum class Kind { solve, inverse };
  Kind kind = Kind::solve;
  Eigen::MatrixXd matrix;       // M; empty when `activations` is given
  Eigen::MatrixXd activations;  // N x b array a with M = a a^T / b (optional)
  Eigen::MatrixXd rhs;          // B, for Kind::solve
  double damping = 0.0;
  std::string label;  // e.g. "layer 0 A", for progress and error messages
};

class LinearSolver {
 public:
  virtual ~LinearSolver() = default;
  virtual std::string_view name() const = 0;
  // Solves (m + damping*I) X = b column by column. Throws InputError if m is not square,
  // finite, symmetric and positive definite (after damping) or if b has the wrong row count.
  virtual Solution solve(const Eigen::MatrixXd& m, const Eigen::MatrixXd& b,
                         double damping = 0.0) = 0;
  // (m + damping*I)^-1. Default: solve with the identity.
  virtual Solution inverse(const Eigen::MatrixXd& m, double damping = 0.0);
  // The same for M = a a^T / b given by its N x b array `a` (a layer's activations over a
  // batch): the `spice` backend with netlist.encoding == activation builds its circuit from `a`
  // (netlist_gen/activation.hpp; M is never formed in the circuit), and `ou` simulates that
  // circuit's twin. Default: validate `a`, form M and call solve() / inverse().
  virtual Solution solve_activations(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b,
                                     double damping = 0.0);
  virtual Solution inverse_activations(const Eigen::MatrixXd& a, double damping = 0.0);
  // Many independent systems at once (K-FAC: one step's factor solves), solutions in request
  // order. Default: one solve() / inverse() / solve_activations() / inverse_activations() per
  // request, in order; a backend may override it to batch or spread the work.
  virtual std::vector<Solution> solve_all(const std::vector<SolveRequest>& requests);

  // Throws InputError for an unknown backend name (listing the known ones).
  static std::unique_ptr<LinearSolver> create(const SolverOptions& options);
  static std::vector<std::string> backends();
};

}  // namespace tkfac::cosim
