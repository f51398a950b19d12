// bench/scaling: K-FAC's circuit solves spread over MPI ranks (tkfac::parallel::DistributedSolver).
//
// 1. Measured per-solve costs: the reference network (49-32-10 tanh, Fashion-MNIST pooled to
//    7x7, batch 64), K-FAC Method 1 with an inverse refresh every step through the spice
//    backend, noiseless (unit right-hand sides: one run per factor column) and noisy (beta^-1 =
//    1e-3: each factor's covariance in --noisy-runs S independent runs, default 4, pooled),
//    each factor inverse timed in this process, and the share of its simulated time that is
//    burn-in (each run has its own).
// 2. Measured speedup: `mpiexec -n K tkfac train` of the same run for K = 1 and 2, the training
//    wall time its summary prints (the whole command's, with MPI start-up, data loading and
//    evaluation, is printed beside it); speedup T1 / T2 and parallel efficiency speedup / K.
//    The plain, -n 1 and -n 2 commands and one process bound to core 1 (taskset) run in turn
//    --repeats R times (default 3): this VM's speed drifts between runs, so the fastest of each
//    (and the median) is reported. -n 1 runs on core 0 (mpiexec binds rank r to core r); the
//    two cores' speeds are compared, since the 2-rank run waits for the slower one; and two
//    independent one-process runs at once, one per core, give what both cores busy can do.
//    The load balance (max / mean rank time per step): the split and assignment of the measured
//    per-solve times (what DistributedSolver uses from its second call on), and tkfac's own
//    closing `mpi` line from the 2-rank run.
// 3. Predicted strong scaling to 16-1024 ranks for the wide network 784-512-512-10: per-request
//    time t(n) = a n^p fitted to the measured costs of part 1, the same splitting (noiseless
//    inverses in column pieces, down to one column) and assignment, and the communication
//    volume per step (every rank receives every solution: sum of n^2 doubles). Noisy: with the
//    measured S, and with S = K runs per factor (the window's time t_w(n) and one burn-in's
//    t_b(n) fitted apart: t = t_w + S t_b; the S = K speedup is against one run per factor on
//    one process, so it pays for the extra burn-ins).
//
// Writes <out>.csv and <out>.png (gnuplot).
// Usage: scaling [--steps N] [--noisy-runs S] [--repeats R] [--out PREFIX]
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tkfac/core/option_table.hpp"
#include "tkfac/cosim/backends.hpp"
#include "tkfac/kfac/dataset.hpp"
#include "tkfac/kfac/kfac_options.hpp"
#include "tkfac/kfac/mlp.hpp"
#include "tkfac/kfac/optimizer_factory.hpp"
#include "tkfac/netlist_gen/encoding.hpp"
#include "tkfac/parallel/assignment.hpp"
#include "tkfac/solver/registry.hpp"

namespace kf = tkfac::kfac;
namespace par = tkfac::parallel;
using tkfac::solver::LinearSolver;
using tkfac::solver::Solution;
using tkfac::solver::SolveRequest;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Times every request of every solve_all call (one process, in order).
class Recording final : public LinearSolver {
 public:
  explicit Recording(std::unique_ptr<LinearSolver> inner) : inner_(std::move(inner)) {}
  std::string_view name() const override { return inner_->name(); }
  Solution solve(const Eigen::MatrixXd& m, const Eigen::MatrixXd& b, double d) override {
    return inner_->solve(m, b, d);
  }
  tkfac::solver::SolveCost cost(const tkfac::solver::SolveShape& s) const override {
    return inner_->cost(s);
  }
  std::vector<Solution> solve_all(const std::vector<SolveRequest>& requests) override {
    std::vector<Solution> out;
    std::vector<double> seconds;
    for (const SolveRequest& r : requests) {
      const auto start = std::chrono::steady_clock::now();
      out.push_back(inner_->solve_request(r));
      seconds.push_back(seconds_since(start));
      if (calls.empty()) {
        sizes.push_back(tkfac::solver::shape_of(r).n), labels.push_back(r.label);
        // The share of the simulated time that is burn-in (covariance runs; 0 otherwise).
        const auto& rep = out.back().report;
        const double burn = rep.burn_in_seconds * rep.iterations;
        const double window = rep.sample_interval * static_cast<double>(rep.samples);
        burn_share.push_back(
            rep.estimator == "covariance" && burn + window > 0 ? burn / (burn + window) : 0.0);
      }
    }
    calls.push_back(seconds);
    return out;
  }
  static inline std::vector<std::vector<double>> calls;  // per call, per request
  static inline std::vector<long> sizes;
  static inline std::vector<std::string> labels;
  static inline std::vector<double> burn_share;

 private:
  std::unique_ptr<LinearSolver> inner_;
};

kf::OptimizerConfig spice_config(double noise, int runs) {
  kf::OptimizerConfig cfg;
  cfg.name = "kfac";
  cfg.kfac.solver.backend = "spice";
  cfg.kfac.solver.netlist.noise_variance = noise;
  cfg.kfac.solver.thermo.covariance_runs = runs;
  cfg.kfac.inverse_update_interval = 1;
  return cfg;
}

// Per request: the median over the steps after the first (which starts the library).
std::vector<double> measure(double noise, int runs, const kf::Dataset& train, int steps) {
  Recording::calls.clear();
  Recording::sizes.clear();
  Recording::labels.clear();
  Recording::burn_share.clear();
  tkfac::solver::set_solver_decorator(
      [](std::unique_ptr<LinearSolver> s) { return std::make_unique<Recording>(std::move(s)); });
  kf::Mlp net({49, 32, 10}, kf::Activation::tanh, 1);
  auto opt = kf::make_optimizer(spice_config(noise, runs));
  for (int s = 0; s <= steps; ++s) opt->step(net, train.slice(64L * s, 64));
  tkfac::solver::set_solver_decorator({});
  std::vector<double> med(Recording::sizes.size());
  for (std::size_t i = 0; i < med.size(); ++i) {
    std::vector<double> v;
    for (std::size_t c = 1; c < Recording::calls.size(); ++c) v.push_back(Recording::calls[c][i]);
    std::sort(v.begin(), v.end());
    med[i] = v[v.size() / 2];
  }
  return med;
}

struct Run {
  double seconds = 0;        // the whole command: start-up, data, training, evaluation
  double train_seconds = 0;  // the summary's wall time of the training steps
  std::string mpi_line;      // tkfac's "mpi ... (max/mean x)" summary under mpiexec -n > 1
  double max_over_mean = 1.0;
};

Run run_tkfac(const std::string& command) {
  Run r;
  const auto start = std::chrono::steady_clock::now();
  FILE* pipe = ::popen((command + " 2>/dev/null").c_str(), "r");
  char line[1024];
  while (pipe != nullptr && std::fgets(line, sizeof line, pipe) != nullptr) {
    const std::string l = line;
    if (l.rfind("kfac:spice ", 0) == 0) {
      // run, steps, train loss, test loss, test acc, wall s, analog s
      std::istringstream in(l);
      std::string word;
      for (int i = 0; i < 6 && in >> word; ++i) {
      }
      // Several runs at once (the concurrent pair below): the slowest.
      r.train_seconds = std::max(r.train_seconds, std::atof(word.c_str()));
    }
    if (l.rfind("mpi ", 0) == 0) {
      r.mpi_line = l.substr(0, l.size() - 1);
      const auto at = l.find("max/mean ");
      if (at != std::string::npos) r.max_over_mean = std::atof(l.c_str() + at + 9);
    }
  }
  const int rc = pipe != nullptr ? ::pclose(pipe) : -1;
  if (rc != 0) std::fprintf(stderr, "scaling: failed (%d): %s\n", rc, command.c_str());
  r.seconds = seconds_since(start);
  return r;
}

// Least squares of log t = log a + p log n.
std::pair<double, double> fit_power(const std::vector<long>& n, const std::vector<double>& t) {
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  const double k = static_cast<double>(n.size());
  for (std::size_t i = 0; i < n.size(); ++i) {
    const double x = std::log(static_cast<double>(n[i])), y = std::log(t[i]);
    sx += x, sy += y, sxx += x * x, sxy += x * y;
  }
  const double p = (k * sxy - sx * sy) / (k * sxx - sx * sx);
  return {std::exp((sy - p * sx) / k), p};
}

// The time of a batch of inverses on `ranks` ranks as DistributedSolver runs it: plan_work
// (noiseless spice inverses are solved in column pieces, noisy ones in their `runs` covariance
// runs, each piece to a rank).
par::Balance plan(const std::vector<double>& t, const std::vector<long>& n, bool split, int ranks,
                  long runs = 0) {
  const par::WorkPlan w = par::plan_work(t, n, std::vector<bool>(t.size(), split), ranks,
                                         std::vector<long>(t.size(), runs));
  std::vector<double> costs;
  for (const par::WorkPiece& p : w.pieces) costs.push_back(p.cost);
  return par::balance(costs, w.owner, ranks);
}

}  // namespace

int main(int argc, char** argv) {
  int steps = 3;
  int runs = 4;
  int repeats = 3;
  std::string out = "scaling";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--steps") steps = std::atoi(argv[i + 1]);
    if (a == "--noisy-runs") runs = std::max(1, std::atoi(argv[i + 1]));
    if (a == "--repeats") repeats = std::max(1, std::atoi(argv[i + 1]));
    if (a == "--out") out = argv[i + 1];
  }
  tkfac::cosim::register_backends();
  kf::FashionMnistOptions fo;
  fo.pool = 4;
  fo.limit = 64L * (steps + 1);
  const kf::Dataset train = kf::load_fashion_mnist(kf::Split::train, fo);

  std::ofstream csv(out + ".csv");
  csv << "kind,network,noise,ranks,seconds,speedup,efficiency,max_over_mean,bytes_per_step\n";
  std::printf("machine: %ld cores online; shared with other work while measured\n",
              sysconf(_SC_NPROCESSORS_ONLN));
  struct Fit {
    double a, p;
  };
  std::map<double, Fit> fits;
  Fit window_fit{0, 0}, burn_fit{0, 0};  // noisy: the window's time and one burn-in's, per factor
  for (const double noise : {0.0, 1e-3}) {
    const std::string what =
        noise > 0 ? fmt::format("noisy (beta^-1 = 1e-3, covariance in {} runs per factor)", runs)
                  : std::string("noiseless");
    const int s_runs = noise > 0 ? runs : 1;
    const std::vector<double> t = measure(noise, s_runs, train, steps);
    std::printf("\n== reference network 49-32-10, spice, %s: one inverse refresh per step\n",
                what.c_str());
    double total = 0;
    for (std::size_t i = 0; i < t.size(); ++i) {
      std::printf("  %-10s n = %3ld  %8.3f s  (burn-in %.0f%% of its simulated time)\n",
                  Recording::labels[i].c_str(), Recording::sizes[i], t[i],
                  100 * Recording::burn_share[i]);
      total += t[i];
    }
    const bool split = noise == 0.0;  // column pieces: the noiseless circuit only
    const long segments = s_runs > 1 ? s_runs : 0;
    const par::Balance b = plan(t, Recording::sizes, split, 2, segments);
    std::printf(
        "  refresh %.3f s in one process; 2 ranks by cost%s: max %.3f s, mean %.3f s, "
        "max/mean %.2f, best speedup of the solves %.2f (the largest factor alone: %.0f%%)\n",
        total,
        split          ? ", large factors in column pieces"
        : segments > 1 ? ", factors in their covariance runs"
                       : ", whole factors",
        b.max, b.mean, b.max / b.mean, total / b.max,
        100 * *std::max_element(t.begin(), t.end()) / total);
    // Fit per-request time against n for the prediction.
    const auto [a, p] = fit_power(Recording::sizes, t);
    fits[noise] = {a, p};
    std::printf("  fit: t(n) = %.3g n^%.2f s per factor inverse\n", a, p);
    if (noise > 0) {
      std::vector<double> tw, tb;
      for (std::size_t i = 0; i < t.size(); ++i) {
        tw.push_back(t[i] * (1.0 - Recording::burn_share[i]));
        tb.push_back(std::max(1e-9, t[i] * Recording::burn_share[i] / s_runs));
      }
      const auto [aw, pw] = fit_power(Recording::sizes, tw);
      const auto [ab, pb] = fit_power(Recording::sizes, tb);
      window_fit = {aw, pw};
      burn_fit = {ab, pb};
      std::printf("  fit: window t_w(n) = %.3g n^%.2f s, one burn-in t_b(n) = %.3g n^%.2f s\n", aw,
                  pw, ab, pb);
    }

    // Measured: mpiexec -n 1 and 2.
    // Noiseless refreshes take half a second: 20 steps, so the first call (assigned by the cost
    // model before any time is measured, and starting ngspice) does not dominate.
    const int train_steps = noise > 0 ? steps + 1 : std::max(steps + 1, 20);
    const std::string train_args = fmt::format(
        "train --quiet --solver spice {} {} {} {} --steps {} {} 1 --eval-every 0",
        tkfac::options::flag_of(tkfac::netlist_gen::netlist_option_table(), "noise_variance"),
        noise, tkfac::options::flag_of(tkfac::solver::thermo_option_table(), "covariance_runs"),
        s_runs, train_steps,
        tkfac::options::flag_of(kf::kfac_option_table(), "inverse_update_interval"));
    // This VM's speed drifts between runs (identical single-process runs took 10.7 to 15.3 s):
    // the three commands are run in turn, `repeats` times, and each one's fastest run (the
    // least disturbed) and median are reported; the speedup is of the fastest runs.
    std::map<int, std::vector<double>> walls, commands;  // rank count (0: plain) -> runs
    std::map<int, double> balance_measured;
    for (int rep = 0; rep < repeats; ++rep) {
      for (int k : {1, 2, 0, -1, -2}) {
        // k = -1: one process bound to core 1 (mpiexec binds rank r to core r; -n 1 is core 0).
        // k = -2: two independent one-process runs at once, one bound to each core (the slower's
        // time): what this VM's two cores give when both are busy.
        const Run r =
            k == 0    ? run_tkfac(fmt::format("{} {}", TKFAC_CLI, train_args))
            : k == -1 ? run_tkfac(fmt::format("taskset -c 1 {} {}", TKFAC_CLI, train_args))
            : k == -2 ? run_tkfac(fmt::format("sh -c 'taskset -c 0 {0} {1} & taskset -c 1 {0} {1}; wait'",
                                              TKFAC_CLI, train_args))
                      : run_tkfac(fmt::format("{} --oversubscribe {} -n {} {} {}",
                                                     TKFAC_MPIEXEC,
                                                     getuid() == 0 ? "--allow-run-as-root" : "",
                                                     k, TKFAC_CLI, train_args));
        walls[k].push_back(r.train_seconds);
        commands[k].push_back(r.seconds);
        if (k > 0 && (rep == 0 || r.train_seconds <= *std::min_element(walls[k].begin(),
                                                                        walls[k].end()))) {
          balance_measured[k] = r.max_over_mean;  // the fastest run's
        }
        if (!r.mpi_line.empty()) std::printf("  -n %d, run %d: %s\n", k, rep + 1, r.mpi_line.c_str());
      }
    }
    const auto fastest = [](std::vector<double> v) { return *std::min_element(v.begin(), v.end()); };
    const auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    std::map<int, double> wall, command;
    for (int k : {-2, -1, 0, 1, 2}) {
      wall[k] = fastest(walls[k]);
      command[k] = fastest(commands[k]);
    }
    std::printf(
        "  tkfac train, %d steps, training wall time, fastest of %d (median): plain %.2f s "
        "(%.2f), mpiexec -n 1 %.2f s (%.2f), -n 2 %.2f s (%.2f): speedup %.2f vs -n 1 (medians "
        "%.2f), %.2f vs plain, efficiency %.2f\n"
        "  (whole commands with start-up, data and evaluation, fastest: %.2f, %.2f, %.2f s: "
        "speedup %.2f)\n",
        train_steps, repeats, wall[0], median(walls[0]), wall[1], median(walls[1]), wall[2],
        median(walls[2]), wall[1] / wall[2], median(walls[1]) / median(walls[2]),
        wall[0] / wall[2], wall[1] / wall[2] / 2, command[0], command[1], command[2],
        command[1] / command[2]);
    // This VM's two cores need not be equally fast (another guest may share one): the 2-rank
    // run's equal shares wait for the slower core, so its best is T_slow / 2.
    const double slow = std::max(wall[1], wall[-1]), fast = std::min(wall[1], wall[-1]);
    std::printf(
        "  one process on core 0 (mpiexec -n 1) %.2f s, on core 1 (taskset -c 1) %.2f s: the "
        "faster core is %.2fx the slower; -n 2 against the slower core %.2f (ideal 2), against "
        "the faster %.2f (ideal with equal shares 2 x fast / slow = %.2f)\n",
        wall[1], wall[-1], slow / fast, slow / wall[2], fast / wall[2], 2 * fast / slow);
    // Two independent runs at once take T_pair each (the slower); the 2-rank run's halves run
    // at the same time on the same cores, so T_pair / 2 is the best it can do here.
    std::printf(
        "  two one-process runs at once, one per core: %.2f s (the slower; median %.2f): both "
        "cores busy run at %.2fx the speed of one; -n 2 reaches %.2f of its best here (T_pair / "
        "2 = %.2f s); the speedup this VM allows against -n 1: %.2f\n",
        wall[-2], median(walls[-2]), wall[1] / wall[-2], wall[-2] / 2 / wall[2], wall[-2] / 2,
        2 * wall[1] / wall[-2]);
    long bytes = 0;
    for (long n : Recording::sizes) bytes += 8 * n * n;
    for (int k : {1, 2}) {
      csv << fmt::format("measured,49-32-10,{},{},{:.3f},{:.3f},{:.3f},{:.3f},{}\n", noise, k,
                         wall[k], wall[1] / wall[k], wall[1] / wall[k] / k, balance_measured[k],
                         bytes);
    }
  }

  // Prediction: the wide network, factor inverses A 785, 513, 513 and G 512, 512, 10.
  const std::vector<long> wide = {785, 512, 513, 512, 513, 10};
  long bytes = 0;
  for (long n : wide) bytes += 8 * n * n;
  std::printf(
      "\n== prediction: wide network 784-512-512-10, per-request time from the fit, the "
      "same assignment\n   communication per step: every rank receives every inverse, "
      "%.1f MB (%ld bytes); at 10 GB/s and 5 us per message stage that is %.2f ms + "
      "log2(K) * 5 us\n",
      bytes / 1e6, bytes, bytes / 1e10 * 1e3);
  const auto power = [](const Fit& f, long n) {
    return f.a * std::pow(static_cast<double>(n), f.p);
  };
  // kind: 0 noiseless; 1 noisy with the measured S runs per factor; 2 noisy with S = K runs.
  for (int kind = 0; kind < 3; ++kind) {
    const double noise = kind == 0 ? 0.0 : 1e-3;
    const bool split = kind == 0;
    // The one-process time of a refresh: with S = K runs per factor the baseline is S = 1 (one
    // run per factor on one process), so the speedup counts the extra burn-ins against it.
    std::vector<double> base;
    for (long n : wide) {
      base.push_back(kind == 0   ? power(fits[noise], n)
                     : kind == 1 ? power(window_fit, n) + runs * power(burn_fit, n)
                                 : power(window_fit, n) + power(burn_fit, n));
    }
    double total = 0;
    for (double x : base) total += x;
    std::printf("  %s: one process %.4g s per refresh (%s)\n",
                kind == 0   ? "noiseless"
                : kind == 1 ? "noisy, measured S"
                            : "noisy, S = K",
                total,
                kind == 0 ? "inverses in column pieces: one run per column at most"
                : kind == 1
                    ? fmt::format("{} covariance runs per factor", runs).c_str()
                    : "K covariance runs per factor, each with its burn-in; baseline one run");
    std::printf("  %6s %12s %9s %9s %9s\n", "ranks", "s/refresh", "speedup", "effic.", "max/mean");
    for (int k = 1; k <= 1024; k *= 2) {
      std::vector<double> t = base;
      long segments = kind == 1 && runs > 1 ? runs : 0;
      if (kind == 2 && k > 1) {
        segments = k;
        for (std::size_t i = 0; i < wide.size(); ++i) {
          t[i] = power(window_fit, wide[i]) + k * power(burn_fit, wide[i]);
        }
      }
      const par::Balance b = plan(t, wide, split, k, segments);
      const double comm = k > 1 ? bytes / 1e10 * (k - 1) / k + std::log2(k) * 5e-6 : 0.0;
      const double s = b.max + comm;
      std::printf("  %6d %12.4g %9.2f %9.3f %9.2f\n", k, s, total / s, total / s / k,
                  b.max / b.mean);
      csv << fmt::format("predicted{},784-512-512-10,{},{},{:.6g},{:.4f},{:.4f},{:.3f},{}\n",
                         kind == 2 ? "_s_eq_k" : "", noise, k, s, total / s, total / s / k,
                         b.max / b.mean, bytes);
    }
  }
  csv.close();
  std::ofstream gp(out + ".gp");
  gp << "set terminal pngcairo size 900,600\nset output '" << out << ".png'\n"
     << "set datafile separator ','\nset logscale xy 2\nset key top left\n"
     << "set xlabel 'MPI ranks'\nset ylabel 'speedup'\n"
     << "set title 'K-FAC circuit solves over MPI ranks (spice)'\n"
     << "plot x title 'ideal' lc rgb 'gray', \\\n"
     << " '" << out
     << ".csv' using (strcol(1) eq 'predicted' && $3 == 0 ? $4 : 1/0):6 with linespoints "
        "title 'wide, noiseless (predicted)', \\\n"
     << " '" << out
     << ".csv' using (strcol(1) eq 'predicted' && $3 > 0 ? $4 : 1/0):6 with linespoints "
        "title 'wide, noisy, S = "
     << runs << " runs per factor (predicted)', \\\n"
     << " '" << out
     << ".csv' using (strcol(1) eq 'predicted_s_eq_k' ? $4 : 1/0):6 with linespoints "
        "title 'wide, noisy, S = K runs per factor (predicted)', \\\n"
     << " '" << out
     << ".csv' using (strcol(1) eq 'measured' && $3 == 0 ? $4 : 1/0):6 with points pt 7 "
        "ps 1.5 title 'reference, noiseless (measured)', \\\n"
     << " '" << out
     << ".csv' using (strcol(1) eq 'measured' && $3 > 0 ? $4 : 1/0):6 with points pt 9 "
        "ps 1.5 title 'reference, noisy (measured)'\n";
  gp.close();
  if (std::system(fmt::format("gnuplot {}.gp", out).c_str()) != 0) {
    std::fprintf(stderr, "scaling: gnuplot failed\n");
  }
  std::printf("\nwritten: %s.csv, %s.png (%s.gp)\n", out.c_str(), out.c_str(), out.c_str());
  return 0;
}
