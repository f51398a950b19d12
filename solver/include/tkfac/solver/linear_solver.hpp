#pragma once
// Pluggable solvers for (M + damping*I) X = B, M symmetric positive definite.
//
//   tkfac::cosim::register_backends();            // only for "spice" and "ou" (cosim/backends.hpp)
//   tkfac::solver::SolverOptions opt;
//   opt.backend = "spice";                         // or "cholesky", "cg", "ou"
//   auto solver = tkfac::solver::LinearSolver::create(opt);
//   tkfac::solver::Solution s = solver->solve(M, B);
//   std::cout << s.report.wall_seconds << " s, " << s.report.analog_seconds << " s analog\n";
//
// From activations a (M = a a^T / b): opt.netlist.encoding = Encoding::activation, then
// solver->solve_activations(a, B, damping). Many systems at once: solver->solve_all(requests).
// Long circuit work can be watched: solver->set_progress([](const SolveProgress& p) { ... })
// hears of each circuit run of a call (see SolveProgress).
// Every backend takes the same inputs and returns the same Solution; tests compare each backend
// with `cholesky`. Backends are found by name in a registry (registry.hpp): this part registers
// the digital ones (cholesky, cg), cosim the circuit ones.
#include <Eigen/Dense>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tkfac/netlist_gen/encoding.hpp"
#include "tkfac/solver/thermo_options.hpp"

namespace tkfac::solver {

struct SolverOptions {
  std::string backend = "cholesky";  // cholesky | cg | spice | ou (LinearSolver::backends())
  // cg
  double cg_tolerance = 1e-12;  // relative residual ||M x - b|| / ||b||
  int cg_max_iterations = 0;    // 0: 10 * n
  // spice and ou (the exact Ornstein-Uhlenbeck twin of the spice circuit)
  netlist_gen::NetlistOptions netlist;
  // spice and ou: noisy sampling, finite analog time, warm starts (thermo_options.hpp). The
  // spice backend uses them when netlist.noise_variance > 0, thermo.analog_time > 0 or
  // thermo.start == "warm"; otherwise it runs noiseless, from a cold start, to its final state.
  ThermoOptions thermo;

  void validate() const;  // throws InputError naming the option
};

// The description of SolverOptions' own fields: backend (no flag of its own) and the cg options
// (src/solver_options.cpp); `netlist` and `thermo` have their own tables.
const options::OptionTable<SolverOptions>& solver_option_table();

struct SolveReport {
  std::string backend;
  std::string method;  // how several right-hand sides were handled, etc.
  double wall_seconds = 0.0;
  double analog_seconds = 0.0;  // simulated circuit time summed over runs (0 for digital)
  double predicted_tau = 0.0;   // R C / alpha_min (0 for digital)
  // Time points the runs took, summed: ngspice's accepted points (spice), exact steps (ou).
  long simulator_steps = 0;
  int iterations = 0;     // cg iterations (max over columns) or circuit runs
  bool converged = true;  // cg: tolerance reached within the cap
  // Thermodynamic solves (ou, and spice with noise / finite time / warm start), per run:
  std::string estimator{};            // "mean", "covariance", "final state", "samples"
  double burn_in_seconds = 0.0;       // analog time discarded before the window
  double window_seconds = 0.0;        // analog time averaged
  double sample_interval = 0.0;       // seconds between samples (the noise sample time)
  long samples = 0;                   // samples in the window
  double effective_samples = 0.0;     // independent samples of the slowest mode
  double standard_error = 0.0;        // largest standard error of the result's entries
  Eigen::MatrixXd standard_errors{};  // per entry of x (empty when not estimated)
  // Circuit backends: each run's analog time, in order (analog_seconds is their sum, added in
  // this order), so that the pieces of a solve split by columns add up as the whole.
  std::vector<double> run_analog_seconds{};
  // Circuit backends with B-bit converters (--adc-bits, --dac-bits): read-outs through the ADC,
  // how many of them clipped at its full scale, and DAC inputs clipped (never silent).
  long adc_conversions = 0;
  long adc_clipped = 0;
  long dac_clipped = 0;
};

struct Solution {
  Eigen::MatrixXd x;
  SolveReport report;
};

// One system of a batch (LinearSolver::solve_all): (M + damping I) X = B, or (M + damping I)^-1.
struct SolveRequest {
  enum class Kind { solve, inverse };
  Kind kind = Kind::solve;
  Eigen::MatrixXd matrix;       // M; empty when `activations` is given
  Eigen::MatrixXd activations;  // N x b array a with M = a a^T / b (optional)
  Eigen::MatrixXd rhs;          // B, for Kind::solve
  double damping = 0.0;
  std::string label;  // e.g. "layer 0 A", for progress and error messages
  // Circuit backends: the state each column's run starts from (units of the unknowns), e.g. the
  // previous training step's solution (Thermodynamic NGD's warm start). Kind::solve: the rhs's
  // shape; Kind::inverse: n x n, used by inverses from unit right-hand sides (a covariance run
  // starts cold, its burn-in covers the start). Empty: the options' start (options.thermo).
  // Digital backends ignore it.
  Eigen::MatrixXd start;
  // >= 0, Kind::inverse by a covariance estimator with several runs (SolveCost::segments > 1):
  // only run `segment` of them (0-based), returned as its raw sample moments (x = [mean | M2],
  // n x (n + 1); report.samples the count) for LinearSolver::merge_segments. -1: the whole.
  int segment = -1;
};

// A system's size: what a backend's cost depends on (LinearSolver::cost), known without its
// numbers.
struct SolveShape {
  SolveRequest::Kind kind = SolveRequest::Kind::solve;
  Eigen::Index n = 0;            // unknowns (M is n x n)
  Eigen::Index rhs_columns = 0;  // right-hand sides, for Kind::solve
};
SolveShape shape_of(const SolveRequest& request);
// Whether the request gives M by its activation array; InputError when it gives both a matrix
// and an array.
bool from_activations(const SolveRequest& request);

// What solving costs a backend beyond arithmetic, known before it runs, so a program can say
// what it is about to do: digital backends report nothing.
struct SolveCost {
  long circuit_runs = 0;  // transient runs of a circuit (spice: ngspice's; ou: its exact twin's)
  bool ngspice = false;   // the runs are ngspice transients (each time step a dense LU: ~n^3)
  // Every system that runs is answered by one run (a covariance inverse), not one run per column.
  bool one_run_per_system = false;
  // A system's columns are runs of their own that depend on nothing but the column (noiseless,
  // cold, final state): a solve (an inverse: a solve with the identity) may be solved in pieces,
  // contiguous columns of its right-hand side as Kind::solve requests, and merge_column_pieces
  // gives the whole's Solution bit for bit. What lets DistributedSolver split one large factor
  // or one solve of many right-hand sides.
  bool column_pieces = false;
  // An inverse is this many independent covariance runs (ThermoOptions::covariance_runs > 1;
  // else 0): each may be asked for alone (SolveRequest::segment) and merge_segments pools them
  // into the whole's Solution bit for bit. What lets DistributedSolver split a noisy factor.
  long segments = 0;
};

// The Solution of a system from the Solutions of its column pieces, in column order (see
// SolveCost::column_pieces): x side by side, runs, steps and analog times added in run order,
// the rest from the first piece.
Solution merge_column_pieces(const std::vector<Solution>& pieces);

// Where a call (solve, inverse, their _activations forms, solve_all) is in its circuit runs: the
// callback set with LinearSolver::set_progress hears it once when the call begins (runs_done 0),
// after every circuit run, and now and then inside a long run (run_fraction > 0: the share of the
// run's planned analog samples delivered). Digital backends make no runs and never call it.
// The callback may throw to abandon the call (e.g. on Ctrl-C): the exception leaves the call once
// the run under way has finished (an ngspice transient is not stopped half-way).
struct SolveProgress {
  long runs_done = 0;         // circuit runs finished in this call
  long runs_total = 0;        // circuit runs the call makes (what cost / cost_all say)
  double run_fraction = 0.0;  // of the run under way, in [0, 1)
};
using ProgressCallback = std::function<void(const SolveProgress&)>;

// A backend's side of SolveProgress: the count of one call's runs. Calls nest (solve_all calls
// inverse, which calls solve); the outermost one's total counts.
class RunProgress {
 public:
  void set_callback(ProgressCallback callback) { callback_ = std::move(callback); }
  // Open for the duration of a call: `runs_total` is what the call makes.
  class Scope {
   public:
    Scope(RunProgress& p, long runs_total);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    RunProgress& p_;
  };
  void run_done();                      // a circuit run finished
  void run_under_way(double fraction);  // the run under way is this far along, in [0, 1)
  // The call's count set from outside (a solver that runs a call's systems elsewhere, e.g. on
  // other MPI ranks): `done` runs finished, the next `fraction` along.
  void set_done(long done, double fraction);

 private:
  void report(double fraction) const;
  ProgressCallback callback_;
  int depth_ = 0;
  long done_ = 0, total_ = 0;
};

class LinearSolver {
 public:
  virtual ~LinearSolver() = default;
  // Progress of later calls (SolveProgress); an empty callback turns it off.
  void set_progress(ProgressCallback callback) { progress_.set_callback(std::move(callback)); }
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
  // Many systems, one Solution each, in the order of `requests`. A backend may batch or spread
  // the work; the default calls solve / inverse / solve_activations / inverse_activations once
  // per request, in order. Throws InputError for a bad request (prefixed with its label, when
  // it has one), like the single calls.
  virtual std::vector<Solution> solve_all(const std::vector<SolveRequest>& requests);
  // One request (what solve_all's default calls for each): solve / inverse / ..._activations.
  // The circuit backends override it to honour request.start.
  virtual Solution solve_request(const SolveRequest& request);
  // The Solution of inverse request `whole` from its segments' Solutions (solve_request with
  // segment 0, 1, ..., in that order; see SolveCost::segments): bit for bit what solve_request
  // of `whole` returns. Default: std::logic_error (a backend without segments).
  virtual Solution merge_segments(const SolveRequest& whole, const std::vector<Solution>& pieces);

  // What solving a system of this shape would cost this backend with its options, e.g.
  //   solver->cost({SolveRequest::Kind::inverse, 40}).circuit_runs  // spice: 40, noisy: 1
  // Default (digital backends): nothing.
  virtual SolveCost cost(const SolveShape& shape) const;
  // The same for a batch (solve_all): runs add up; one_run_per_system when every system that
  // runs is answered by one run; segments the most of any system.
  SolveCost cost_all(const std::vector<SolveShape>& shapes) const;

  // Throws InputError for an unknown backend name (listing the known ones).
  static std::unique_ptr<LinearSolver> create(const SolverOptions& options);
  // The registered backends, in registration order: cholesky, cg, then those registered later
  // (register_backend in registry.hpp; cosim::register_backends() adds spice and ou).
  static std::vector<std::string> backends();

 protected:
  // Backends that make circuit runs count them here (a RunProgress::Scope per call).
  RunProgress& progress() { return progress_; }

 private:
  RunProgress progress_;
};

// The checks every backend makes before solving: m square, finite, symmetric and positive
// definite after damping (message naming "matrix"), b with m's row count and finite (naming
// "right-hand side"). Throws InputError. Returns the damped matrix's Cholesky factorization the
// check made.
dense::Cholesky check_system(const Eigen::MatrixXd& m, const Eigen::MatrixXd& b, double damping);

}  // namespace tkfac::solver
