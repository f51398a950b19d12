#include "tkfac/solver/linear_solver.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "tkfac/core/error.hpp"
#include "tkfac/netlist_gen/activation.hpp"

namespace tkfac::solver {

dense::Cholesky check_system(const Eigen::MatrixXd& m, const Eigen::MatrixXd& b, double damping) {
  dense::Cholesky cholesky = netlist_gen::validate_spd(m, damping, "matrix");
  if (b.rows() != m.rows()) {
    throw InputError(fmt::format("right-hand side: has {} rows, expected {} (the matrix size)",
                                 b.rows(), m.rows()));
  }
  if (!b.allFinite()) throw InputError("right-hand side: contains NaN or Inf");
  return cholesky;
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

SolveShape shape_of(const SolveRequest& r) {
  SolveShape s;
  s.kind = r.kind;
  s.n = r.activations.size() != 0 ? r.activations.rows() : r.matrix.rows();
  s.rhs_columns = r.kind == SolveRequest::Kind::solve ? r.rhs.cols() : 0;
  return s;
}

SolveCost LinearSolver::cost(const SolveShape&) const { return {}; }

SolveCost LinearSolver::cost_all(const std::vector<SolveShape>& shapes) const {
  SolveCost total;
  bool all_one_run = true, any_runs = false;
  for (const SolveShape& s : shapes) {
    const SolveCost c = cost(s);
    total.circuit_runs += c.circuit_runs;
    total.ngspice = total.ngspice || c.ngspice;
    if (c.circuit_runs > 0) {
      any_runs = true;
      all_one_run = all_one_run && c.one_run_per_system;
    }
    total.segments = std::max(total.segments, c.segments);
  }
  total.one_run_per_system = any_runs && all_one_run;
  return total;
}

Solution merge_column_pieces(const std::vector<Solution>& pieces) {
  if (pieces.empty()) return {};
  Solution out;
  out.report = pieces.front().report;
  SolveReport& r = out.report;
  Eigen::Index columns = 0;
  for (const Solution& p : pieces) columns += p.x.cols();
  out.x.resize(pieces.front().x.rows(), columns);
  r.analog_seconds = 0.0;
  r.wall_seconds = 0.0;
  r.simulator_steps = 0;
  r.iterations = 0;
  r.adc_conversions = r.adc_clipped = r.dac_clipped = 0;
  r.run_analog_seconds.clear();
  Eigen::Index at = 0;
  for (const Solution& p : pieces) {
    out.x.middleCols(at, p.x.cols()) = p.x;
    at += p.x.cols();
    // The whole adds its runs' analog times one by one, in column order: so do we.
    for (double a : p.report.run_analog_seconds) {
      r.analog_seconds += a;
      r.run_analog_seconds.push_back(a);
    }
    r.wall_seconds += p.report.wall_seconds;
    r.simulator_steps += p.report.simulator_steps;
    r.iterations += p.report.iterations;
    r.adc_conversions += p.report.adc_conversions;
    r.adc_clipped += p.report.adc_clipped;
    r.dac_clipped += p.report.dac_clipped;
    r.converged = r.converged && p.report.converged;
  }
  return out;
}

bool from_activations(const SolveRequest& r) {
  const bool from_array = r.activations.size() != 0;
  if (from_array && r.matrix.size() != 0) {
    throw InputError("request: has both a matrix and activations, expected one of them");
  }
  return from_array;
}

Solution LinearSolver::solve_request(const SolveRequest& r) {
  if (r.segment >= 0) {
    throw std::logic_error(
        fmt::format("{}: '{}' asks for segment {}, but this backend's inverses "
                    "have no segments",
                    name(), r.label, r.segment));
  }
  const bool from_array = from_activations(r);
  if (r.kind == SolveRequest::Kind::inverse) {
    return from_array ? inverse_activations(r.activations, r.damping)
                      : inverse(r.matrix, r.damping);
  }
  return from_array ? solve_activations(r.activations, r.rhs, r.damping)
                    : solve(r.matrix, r.rhs, r.damping);
}

Solution LinearSolver::merge_segments(const SolveRequest& whole, const std::vector<Solution>&) {
  throw std::logic_error(
      fmt::format("{}: '{}' cannot be merged from segments by this backend", name(), whole.label));
}

RunProgress::Scope::Scope(RunProgress& p, long runs_total) : p_(p) {
  if (p_.depth_++ > 0) return;
  p_.done_ = 0;
  p_.total_ = runs_total;
  if (p_.total_ > 0) p_.report(0.0);
}

RunProgress::Scope::~Scope() { --p_.depth_; }

void RunProgress::run_done() {
  ++done_;
  report(0.0);
}

void RunProgress::set_done(long done, double fraction) {
  done_ = done;
  report(std::clamp(fraction, 0.0, 0.999));
}

void RunProgress::run_under_way(double fraction) { report(std::clamp(fraction, 0.0, 0.999)); }

void RunProgress::report(double fraction) const {
  if (callback_) callback_({done_, std::max(total_, done_), fraction});
}

std::vector<Solution> LinearSolver::solve_all(const std::vector<SolveRequest>& requests) {
  std::vector<SolveShape> shapes;
  shapes.reserve(requests.size());
  for (const SolveRequest& r : requests) shapes.push_back(shape_of(r));
  const RunProgress::Scope scope(progress(), cost_all(shapes).circuit_runs);
  std::vector<Solution> out;
  out.reserve(requests.size());
  for (const SolveRequest& r : requests) {
    try {
      out.push_back(solve_request(r));
    } catch (const InputError& e) {
      // Which of a step's many systems was bad is the first thing a reader needs.
      if (r.label.empty()) throw;
      throw InputError(fmt::format("{}: {}", r.label, e.what()));
    }
  }
  return out;
}

}  // namespace tkfac::solver
