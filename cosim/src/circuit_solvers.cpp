// The circuit backends: `spice` and `ou`, one class each, sharing how a call becomes an
// estimator's work (CircuitSolver). What they differ in is the engine behind the runs.
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "circuit_engine.hpp"
#include "circuit_estimators.hpp"
#include "tkfac/cosim/backends.hpp"
#include "tkfac/solver/registry.hpp"

namespace tkfac::cosim {
namespace {

using solver::Solution;

class CircuitSolver : public solver::LinearSolver {
 public:
  CircuitSolver(const CircuitSolver&) = delete;  // the estimators point into it
  CircuitSolver& operator=(const CircuitSolver&) = delete;

  std::string_view name() const override { return backend_.name; }
  Solution solve(const Eigen::MatrixXd& m, const Eigen::MatrixXd& b, double damping) override {
    const auto scope = runs_of(solver::SolveRequest::Kind::solve, m.rows(), b.cols());
    return estimators_.solve->solve(System{m, {}}, b, damping);
  }
  Solution inverse(const Eigen::MatrixXd& m, double damping) override {
    const auto scope = runs_of(solver::SolveRequest::Kind::inverse, m.rows(), 0);
    return estimators_.inverse->inverse(System{m, {}}, damping);
  }
  Solution solve_activations(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b,
                             double damping) override {
    const auto scope = runs_of(solver::SolveRequest::Kind::solve, a.rows(), b.cols());
    return estimators_.solve->solve(System::of_activations(a, damping, options_.netlist), b,
                                    damping);
  }
  Solution inverse_activations(const Eigen::MatrixXd& a, double damping) override {
    const auto scope = runs_of(solver::SolveRequest::Kind::inverse, a.rows(), 0);
    return estimators_.inverse->inverse(System::of_activations(a, damping, options_.netlist),
                                        damping);
  }
  // With a start: the estimators' *_from calls (the shape is checked there).
  Solution solve_request(const solver::SolveRequest& r) override {
    if (r.segment >= 0) {
      if (r.kind != solver::SolveRequest::Kind::inverse || estimators_.inverse->segments() == 0) {
        return LinearSolver::solve_request(r);  // refuses it
      }
      const solver::RunProgress::Scope scope(progress(), 1);
      return estimators_.inverse->inverse_segment(system_of(r), r.damping, r.segment);
    }
    if (r.start.size() == 0) return LinearSolver::solve_request(r);
    const solver::SolveShape shape = solver::shape_of(r);
    const auto scope = runs_of(shape.kind, shape.n, shape.rhs_columns);
    const System sys = system_of(r);
    if (r.kind == solver::SolveRequest::Kind::inverse) {
      return estimators_.inverse->inverse_from(sys, r.damping, r.start);
    }
    return estimators_.solve->solve_from(sys, r.rhs, r.damping, r.start);
  }
  Solution merge_segments(const solver::SolveRequest& whole,
                          const std::vector<Solution>& pieces) override {
    if (whole.kind != solver::SolveRequest::Kind::inverse || estimators_.inverse->segments() == 0) {
      return LinearSolver::merge_segments(whole, pieces);  // refuses it
    }
    return estimators_.inverse->merge_segments(system_of(whole), whole.damping, pieces);
  }
  // The estimators' runs: what the options chose, before any netlist is built.
  solver::SolveCost cost(const solver::SolveShape& shape) const override {
    solver::SolveCost c;
    if (shape.kind == solver::SolveRequest::Kind::inverse) {
      c.circuit_runs = estimators_.inverse->runs(shape.n);
      c.one_run_per_system = estimators_.inverse->one_run_per_system();
    } else {
      c.circuit_runs = estimators_.solve->runs(shape.n, shape.rhs_columns);
    }
    c.column_pieces = estimators_.column_pieces;
    if (shape.kind == solver::SolveRequest::Kind::inverse) {
      c.segments = estimators_.inverse->segments();
    }
    c.ngspice = engine_->is_spice();
    return c;
  }

 protected:
  CircuitSolver(const solver::SolverOptions& options, std::string name,
                std::unique_ptr<Engine> engine)
      : options_(options),
        engine_(std::move(engine)),
        backend_{options_, *engine_, std::move(name), progress()},
        estimators_(choose_estimators(backend_)) {}

 private:
  System system_of(const solver::SolveRequest& r) const {
    return solver::from_activations(r)
               ? System::of_activations(r.activations, r.damping, options_.netlist)
               : System{r.matrix, {}};
  }
  // The call's progress scope: the runs cost() says it makes (the estimators report each run).
  solver::RunProgress::Scope runs_of(solver::SolveRequest::Kind kind, Eigen::Index n,
                                     Eigen::Index columns) {
    return solver::RunProgress::Scope(progress(), cost({kind, n, columns}).circuit_runs);
  }

  solver::SolverOptions options_;
  std::unique_ptr<Engine> engine_;
  CircuitBackend backend_;
  Estimators estimators_;
};

// The relaxation circuit in ngspice: netlist_gen writes it, the process's one in-process
// Session runs it, and the node voltages times the netlist's scales are the unknowns.
class SpiceSolver final : public CircuitSolver {
 public:
  explicit SpiceSolver(const solver::SolverOptions& options)
      : CircuitSolver(options, "spice", std::make_unique<SpiceEngine>()) {}
};

// The circuit's exact Ornstein-Uhlenbeck twin (ou_process.hpp): the linear dynamics of the same
// netlist's elements (circuit_dynamics.hpp), stepped exactly, in the noise shape the options ask
// for.
class OuSolver final : public CircuitSolver {
 public:
  explicit OuSolver(const solver::SolverOptions& options)
      : CircuitSolver(options, "ou", std::make_unique<OuEngine>(options.thermo.noise_shape)) {}
};

}  // namespace

void register_backends() {
  static std::once_flag once;
  std::call_once(once, [] {
    solver::register_backend(
        "spice", [](const solver::SolverOptions& o) { return std::make_unique<SpiceSolver>(o); });
    solver::register_backend(
        "ou", [](const solver::SolverOptions& o) { return std::make_unique<OuSolver>(o); });
  });
}

}  // namespace tkfac::cosim
