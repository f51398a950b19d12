#include "tkfac/cosim/linear_solver.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <memory>

#include "tkfac/core/error.hpp"
#include "tkfac/cosim/session.hpp"
#include "thermo_solver.hpp"
#include "tkfac/netlist_gen/activation.hpp"
#include "tkfac/netlist_gen/netlist.hpp"

namespace tkfac::cosim {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void check_rhs(const Eigen::MatrixXd& m, const Eigen::MatrixXd& b) {
  if (b.rows() != m.rows()) {
    throw InputError(fmt::format("right-hand side: has {} rows, expected {} (the matrix size)",
                                 b.rows(), m.rows()));
  }
  if (!b.allFinite()) throw InputError("right-hand side: contains NaN or Inf");
}

Eigen::MatrixXd damped(const Eigen::MatrixXd& m, double damping) {
  Eigen::MatrixXd md = m;
  md.diagonal().array() += damping;
  return md;
}

class CholeskySolver final : public LinearSolver {
 public:
  std::string_view name() const override { return "cholesky"; }
  Solution solve(const Eigen::MatrixXd& m, const Eigen::MatrixXd& b, double damping) override {
    const auto start = Clock::now();
    netlist_gen::validate_spd(m, damping, "matrix");
    check_rhs(m, b);
    Eigen::LLT<Eigen::MatrixXd> llt(damped(m, damping));
    Solution s{llt.solve(b), {}};
    s.report.backend = "cholesky";
    s.report.method = "Eigen LLT";
    s.report.wall_seconds = seconds_since(start);
    return s;
  }
};

// Conjugate gradient per column (the textbook method; Eigen's ConjugateGradient is tuned for
// sparse matrices and applies a diagonal preconditioner we do not want in a reference).
class CgSolver final : public LinearSolver {
 public:
  explicit CgSolver(const SolverOptions& o) : tol_(o.cg_tolerance), cap_(o.cg_max_iterations) {}
  std::string_view name() const override { return "cg"; }
  Solution solve(const Eigen::MatrixXd& m, const Eigen::MatrixXd& b, double damping) override {
    const auto start = Clock::now();
    netlist_gen::validate_spd(m, damping, "matrix");
    check_rhs(m, b);
    const Eigen::MatrixXd a = damped(m, damping);
    const int cap = cap_ > 0 ? cap_ : 10 * static_cast<int>(a.rows());
    Solution s{Eigen::MatrixXd::Zero(b.rows(), b.cols()), {}};
    s.report.backend = "cg";
    s.report.method = fmt::format("conjugate gradient, tolerance {:g}, cap {}", tol_, cap);
    for (Eigen::Index c = 0; c < b.cols(); ++c) {
      const Eigen::VectorXd rhs = b.col(c);
      const double bnorm = rhs.norm();
      Eigen::VectorXd x = Eigen::VectorXd::Zero(rhs.size());
      if (bnorm == 0.0) continue;
      Eigen::VectorXd r = rhs;
      Eigen::VectorXd p = r;
      double rr = r.squaredNorm();
      int it = 0;
      while (std::sqrt(rr) > tol_ * bnorm && it < cap) {
        const Eigen::VectorXd ap = a * p;
        const double alpha = rr / p.dot(ap);
        x += alpha * p;
        r -= alpha * ap;
        const double rr_new = r.squaredNorm();
        p = r + (rr_new / rr) * p;
        rr = rr_new;
        ++it;
      }
      s.report.iterations = std::max(s.report.iterations, it);
      if (std::sqrt(rr) > tol_ * bnorm) s.report.converged = false;
      s.x.col(c) = x;
    }
    s.report.wall_seconds = seconds_since(start);
    return s;
  }

 private:
  double tol_;
  int cap_;
};

}  // namespace

// ngspice allows one instance per process: every spice solver alive shares one Session, created
// on first use and destroyed with the last solver.
std::shared_ptr<Session> shared_session() {
  static std::weak_ptr<Session> current;
  std::shared_ptr<Session> s = current.lock();
  if (!s) {
    s = std::make_shared<Session>();
    current = s;
  }
  return s;
}

namespace {

// The circuit: netlist_gen writes the relaxation circuit, an in-process ngspice session runs it
// from a cold start and the final node voltages, times the netlist's scales, are the solution.
//
// Several right-hand sides: the circuit is parsed once and, before each further run, only the
// input sources change (`alter`); see bench/solve_overhead for why that beats re-parsing.
class SpiceSolver final : public LinearSolver {
 public:
  explicit SpiceSolver(const SolverOptions& o) : options_(o.netlist) {}
  std::string_view name() const override { return "spice"; }

  Solution solve(const Eigen::MatrixXd& m, const Eigen::MatrixXd& b, double damping) override {
    return solve_system(System{m, {}}, b, damping);
  }
  Solution solve_activations(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b,
                             double damping) override {
    return solve_system(System::of_activations(a, damping, options_), b, damping);
  }
  Solution inverse_activations(const Eigen::MatrixXd& a, double damping) override {
    return solve_activations(a, Eigen::MatrixXd::Identity(a.rows(), a.rows()), damping);
  }

 private:
  Solution solve_system(const System& sys, const Eigen::MatrixXd& b, double damping) {
    const auto start = Clock::now();
    const Eigen::MatrixXd& m = sys.m;
    netlist_gen::NetlistOptions opt = options_;
    opt.damping = damping;
    opt.validate();
    netlist_gen::validate_spd(m, damping, "matrix");
    check_rhs(m, b);
    if (b.cols() == 0) {
      Solution none;
      none.x = Eigen::MatrixXd(m.rows(), 0);
      none.report.backend = "spice";
      return none;
    }
    if (!session_) session_ = shared_session();

    Solution s{Eigen::MatrixXd::Zero(b.rows(), b.cols()), {}};
    s.report.backend = "spice";
    s.report.method = fmt::format("{} encoding; one parse, inputs altered per right-hand side",
                                  netlist_gen::to_string(opt.encoding));

    const netlist_gen::Netlist nl = sys.netlist(b.col(0), opt);
    s.report.predicted_tau = nl.summary.predicted_tau;
    RunOptions run;
    run.nodes = netlist_gen::unknown_nodes(nl);

    {  // the circuit is removed at the end of this block, inside the measured wall time
      const CircuitGuard guard(*session_);
      session_->load(netlist_gen::to_spice(nl));
      for (Eigen::Index c = 0; c < b.cols(); ++c) {
        Eigen::VectorXd scales;  // for c > 0: those of column c's input scaling
        if (c > 0) {
          const auto values = netlist_gen::input_values(nl, b.col(c), opt);
          for (const auto& [element, value] : values.sources) session_->alter_dc(element, value);
          scales = values.unknown_scales;
        }
        const RunResult r = session_->run(run);
        s.x.col(c) = c == 0 ? netlist_gen::read_out(nl, r.final_values)
                            : netlist_gen::read_out(nl, r.final_values, scales);
        s.report.analog_seconds += r.final_time;
        ++s.report.iterations;
      }
    }
    s.report.wall_seconds = seconds_since(start);
    return s;
  }

  netlist_gen::NetlistOptions options_;
  std::shared_ptr<Session> session_;
};

}  // namespace

void SolverOptions::validate() const {
  bool known = false;
  for (const auto& b : LinearSolver::backends()) known = known || b == backend;
  if (!known) {
    throw InputError(fmt::format("--backend: unknown solver '{}', expected one of: {}", backend,
                                 fmt::join(LinearSolver::backends(), ", ")));
  }
  if (!(cg_tolerance > 0.0) || !std::isfinite(cg_tolerance)) {
    throw InputError(fmt::format("--cg-tolerance: {} is not a positive number", cg_tolerance));
  }
  if (cg_max_iterations < 0) {
    throw InputError(fmt::format("--cg-max-iterations: {} is negative (0 means 10 n)",
                                 cg_max_iterations));
  }
  netlist.validate();
  thermo.validate();
}

Solution LinearSolver::inverse(const Eigen::MatrixXd& m, double damping) {
  return solve(m, Eigen::MatrixXd::Identity(m.rows(), m.cols()), damping);
}

Solution LinearSolver::solve_activations(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b,
                                         double damping) {
  netlist_gen::validate_activations(a, damping, "activations");
  return solve(netlist_gen::activation_matrix(a), b, damping);
}

Solution LinearSolver::inverse_activations(const Eigen::MatrixXd& a, double damping) {
  netlist_gen::validate_activations(a, damping, "activations");
  return inverse(netlist_gen::activation_matrix(a), damping);
}

std::vector<Solution> LinearSolver::solve_all(const std::vector<SolveRequest>& requests) {
  std::vector<Solution> out;
  out.reserve(requests.size());
  for (const SolveRequest& r : requests) {
    const bool from_array = r.activations.size() != 0;
    if (r.kind == SolveRequest::Kind::inverse) {
      out.push_back(from_array ? inverse_activations(r.activations, r.damping)
                               : inverse(r.matrix, r.damping));
    } else {
      out.push_back(from_array ? solve_activations(r.activations, r.rhs, r.damping)
                               : solve(r.matrix, r.rhs, r.damping));
    }
  }
  return out;
}

std::vector<std::string> LinearSolver::backends() { return {"cholesky", "cg", "spice", "ou"}; }

std::unique_ptr<LinearSolver> LinearSolver::create(const SolverOptions& options) {
  options.validate();
  if (options.backend == "cholesky") return std::make_unique<CholeskySolver>();
  if (options.backend == "cg") return std::make_unique<CgSolver>(options);
  // Thermodynamic solves (thermo_solver.cpp): the exact OU twin, and the circuit whenever it is
  // noisy, run for a finite analog time or warm-started.
  if (options.backend == "ou" || uses_thermo(options)) return make_thermo_solver(options);
  return std::make_unique<SpiceSolver>(options);
}

}  // namespace tkfac::cosim
