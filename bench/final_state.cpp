// bench/final_state: what the final-state step plan (netlist_gen::plan_final_state, used by the
// spice backend's noiseless cold solves) saves, measured in one run as ratios.
//
// For n = 10, 33, 50 (the reference network's Kronecker factor sizes; kappa = 100), every column
// of the inverse through one loaded circuit with the inputs altered per column, as FinalState
// does it:
//   tau/4     the netlist's own transient (TMAX = tau / 4, TSTEP = tau0 / alpha_max, trtol 7)
//   final     the final-state plan (TMAX = 3/4 tau, TSTEP = TSTOP, trtol 1e3)
//   cholesky  Eigen LLT of the same system, one solve with the identity
// printing ms per column, accepted points per run and the largest relative error against Cholesky.
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <random>

#include "tkfac/core/spd.hpp"
#include "tkfac/cosim/session.hpp"
#include "tkfac/netlist_gen/encoding.hpp"
#include "tkfac/netlist_gen/netlist.hpp"

#include "bench_util.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Result {
  double ms_per_column = 0.0;
  double points_per_run = 0.0;
  double max_rel_error = 0.0;
};

Result inverse_columns(tkfac::cosim::Session& session, const Eigen::MatrixXd& m, bool final_plan) {
  namespace ng = tkfac::netlist_gen;
  const Eigen::Index n = m.rows();
  const Eigen::MatrixXd id = Eigen::MatrixXd::Identity(n, n);
  const Eigen::MatrixXd reference = m.llt().solve(id);
  ng::NetlistOptions opt;
  ng::Netlist nl = ng::make_netlist(m, id.col(0), opt);
  if (final_plan) ng::plan_final_state(opt, nl);
  const auto start = Clock::now();
  session.load(ng::to_spice(nl));
  const tkfac::cosim::CircuitGuard guard(session);
  tkfac::cosim::RunOptions run;
  run.nodes = ng::unknown_nodes(nl);
  Result r;
  long points = 0;
  for (Eigen::Index c = 0; c < n; ++c) {
    const ng::InputValues values = ng::input_values(nl, id.col(c), opt);
    if (c > 0)
      for (const auto& [element, value] : values.sources) session.alter_dc(element, value);
    const tkfac::cosim::RunResult out = session.run(run);
    points += out.accepted_points;
    const Eigen::VectorXd x = ng::read_out(nl, out.final_values, values.unknown_scales);
    r.max_rel_error = std::max(r.max_rel_error,
                               (x - reference.col(c)).norm() / reference.col(c).norm());
  }
  r.ms_per_column =
      1e3 * std::chrono::duration<double>(Clock::now() - start).count() / static_cast<double>(n);
  r.points_per_run = static_cast<double>(points) / static_cast<double>(n);
  return r;
}

}  // namespace

int main() {
  tkfac::cosim::Session session;
  std::mt19937_64 rng(3);
  std::puts("Inverse by unit right-hand sides, behavioral, kappa = 100 (ms per column, whole inverse):");
  std::puts(fmt::format("{:>4} {:>10} {:>10} {:>10} {:>8} {:>8} {:>10} {:>10} {:>12} {:>14}", "n",
                        "tau/4 ms", "final ms", "chol ms", "pts old", "pts new", "err old",
                        "err new", "old/final", "final/chol")
                .c_str());
  for (int n : {10, 33, 50}) {
    const Eigen::MatrixXd m = tkfac::random_spd(n, 100.0, rng);
    // Interleaved repetitions, medians of each: the machine is shared.
    const int reps = 3;
    std::vector<Result> old_runs, new_runs;
    for (int i = 0; i < reps; ++i) {
      old_runs.push_back(inverse_columns(session, m, false));
      new_runs.push_back(inverse_columns(session, m, true));
    }
    auto median = [](std::vector<Result> v) {
      std::sort(v.begin(), v.end(),
                [](const Result& a, const Result& b) { return a.ms_per_column < b.ms_per_column; });
      return v[v.size() / 2];
    };
    const Result o = median(old_runs), f = median(new_runs);
    const Eigen::MatrixXd id = Eigen::MatrixXd::Identity(n, n);
    const double chol = 1e3 * tkfac::bench::median_seconds(101, [&] {
      const Eigen::MatrixXd x = m.llt().solve(id);
      if (!std::isfinite(x(0, 0))) std::puts("not finite");
    }) / n;
    std::puts(fmt::format("{:>4} {:>10.3f} {:>10.3f} {:>10.5f} {:>8.1f} {:>8.1f} {:>10.2e} {:>10.2e} "
                          "{:>12.2f} {:>14.0f}",
                          n, o.ms_per_column, f.ms_per_column, chol, o.points_per_run,
                          f.points_per_run, o.max_rel_error, f.max_rel_error,
                          o.ms_per_column / f.ms_per_column, f.ms_per_column / chol)
                  .c_str());
  }
  return 0;
}
