// tkfac relax: validate tau = R C / alpha_min against noiseless transients (docs/DESIGN.md
// section 5).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "file_options.hpp"
#include "commands.hpp"
#include "inputs.hpp"
#include "option_cli.hpp"
#include "plot.hpp"
#include "progress.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/core/output_file.hpp"
#include "tkfac/core/spd.hpp"
#include "tkfac/core/task_runner.hpp"
#include "tkfac/cosim/relaxation.hpp"
#include "tkfac/cosim/session.hpp"

namespace tkfac::cli {
namespace {

struct RelaxArgs {
  std::string matrix;
  std::string rhs;
  double damping = 0.0;
  std::vector<int> sizes{2, 4, 8, 16};
  std::vector<double> kappas{1, 3, 10, 30, 100, 300, 1000};
  std::vector<std::string> spectra{"log", "split"};
  std::string encoding = "both";
  unsigned matrix_seed = 1;
  std::vector<double> eps{1e-3, 1e-6};
  std::string csv;
  std::string plot;
  netlist_gen::NetlistOptions circuit;
};

struct Case {
  std::string label;  // spectrum kind or the file name
  Eigen::MatrixXd m;
};

// Spectra of the sweep: "log" (log-spaced from 1 to kappa), "split" (1, then the rest spread over
// [kappa/2, kappa]: an isolated slow mode, the case tau is about).
Eigen::VectorXd spectrum(const std::string& kind, int n, double kappa) {
  Eigen::VectorXd s(n);
  for (int i = 0; i < n; ++i) {
    const double f = n == 1 ? 0.0 : static_cast<double>(i) / (n - 1);
    s(i) = kind == "log" ? std::pow(kappa, f) : (i == 0 ? 1.0 : kappa * (0.5 + 0.5 * f));
  }
  return s;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t k = v.size();
  return k % 2 ? v[k / 2] : 0.5 * (v[k / 2 - 1] + v[k / 2]);
}

// A measurement as bytes and back (a task's result, tkfac::run_tasks): every field, doubles
// as their bits, so a measurement made on another MPI rank is the one made.
class Bytes {
 public:
  template <class T>
  void put(const T& v) {
    out_.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void put(const std::vector<double>& v) {
    put(static_cast<std::uint64_t>(v.size()));
    for (double x : v) put(x);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class Unbytes {
 public:
  explicit Unbytes(const std::string& in) : in_(in) {}
  template <class T>
  void get(T& v) {
    if (at_ + sizeof v > in_.size()) throw std::runtime_error("relax: a task's result ended early");
    std::memcpy(&v, in_.data() + at_, sizeof v);
    at_ += sizeof v;
  }
  void get(std::vector<double>& v) {
    std::uint64_t n = 0;
    get(n);
    if (n > (in_.size() - at_) / sizeof(double)) {
      throw std::runtime_error("relax: a task's result ended early");
    }
    v.resize(n);
    for (double& x : v) get(x);
  }

 private:
  const std::string& in_;
  std::size_t at_ = 0;
};

// Calls f on every field of a measurement, in one fixed order.
template <class M, class F>
void each_field(M& r, F&& f) {
  f(r.size), f(r.condition_number), f(r.alpha_min), f(r.matrix_scale), f(r.slow_dimension);
  f(r.slow_share), f(r.tau_predicted), f(r.tau_measured), f(r.fit_start), f(r.fit_end);
  f(r.fit_points), f(r.eps_levels), f(r.time_to_eps), f(r.time_bound), f(r.time_refined);
  f(r.analog_seconds), f(r.accepted_points), f(r.wall_seconds), f(r.tau_twin);
}

std::string encode(const cosim::RelaxMeasurement& r) {
  Bytes out;
  each_field(r, [&](const auto& v) { out.put(v); });
  return out.take();
}

cosim::RelaxMeasurement decode(const std::string& bytes) {
  cosim::RelaxMeasurement r;
  Unbytes in(bytes);
  each_field(r, [&](auto& v) { in.get(v); });
  return r;
}

void run_relax(const RelaxArgs& a) {
  netlist_gen::NetlistOptions base = a.circuit;
  base.damping = a.damping;
  base.validate();
  if (base.noise_variance != 0.0) {
    throw InputError(fmt::format(
        "{}: relax measures noiseless transients (expected 0)",
        tkfac::options::flag_of(netlist_gen::netlist_option_table(), "noise_variance")));
  }
  std::vector<netlist_gen::Encoding> encodings;
  if (a.encoding == "both") {
    encodings = {netlist_gen::Encoding::behavioral, netlist_gen::Encoding::integrator};
  } else {
    encodings = {netlist_gen::parse_encoding(a.encoding, "--encoding")};
  }
  for (double e : a.eps) {
    if (!(e > 0.0 && e < 1.0)) throw InputError(fmt::format("--eps: {} is not in (0, 1)", e));
  }
  if (!a.csv.empty()) check_writable(a.csv, "--csv");
  if (!a.plot.empty()) check_plot_path(a.plot, "--plot");

  std::vector<Case> cases;
  Eigen::VectorXd b;
  if (!a.matrix.empty()) {
    cases.push_back({a.matrix, read_spd_matrix(a.matrix, a.damping)});
    if (!a.rhs.empty()) {
      const Eigen::MatrixXd bm = read_rhs(a.rhs, cases[0].m.rows(), a.matrix);
      // One relaxation per run: a second column would be silently dropped.
      if (bm.cols() != 1) {
        throw InputError(fmt::format("--rhs '{}': has {} columns; relax takes one right-hand "
                                     "side (one value per line)",
                                     a.rhs, bm.cols()));
      }
      b = bm.col(0);
    }
  } else {
    std::mt19937_64 rng(a.matrix_seed);
    for (int n : a.sizes) {
      if (n < 1 || n > 256) throw InputError(fmt::format("--sizes: {} is not in 1..256", n));
      for (double kappa : a.kappas) {
        if (!(kappa >= 1.0 && std::isfinite(kappa))) {
          throw InputError(fmt::format("--kappas: {} is not a condition number >= 1", kappa));
        }
        for (const std::string& kind : a.spectra) {
          if (kind != "log" && kind != "split") {
            throw InputError(fmt::format("--spectra: '{}' is not log or split", kind));
          }
          if (kappa == 1.0 && kind != a.spectra.front()) continue;  // one identity is enough
          if (n == 1 && kappa != 1.0) continue;
          cases.push_back({kind, spd_with_spectrum(spectrum(kind, n, kappa), rng)});
        }
      }
    }
  }

  if (cases.empty()) {  // e.g. --sizes 1 --kappas 10: a 1 x 1 matrix has condition number 1
    throw InputError(
        "--sizes, --kappas: no matrix to measure (a 1 x 1 matrix has condition number 1; give "
        "--kappas 1 or sizes of 2 or more)");
  }
  cosim::Session session;
  struct Row {
    std::string encoding;
    std::string label;
    cosim::RelaxMeasurement r;
  };
  std::vector<Row> rows;
  // Every (encoding, case) is a task of its own (tkfac::run_tasks: under mpirun spread over the
  // ranks by cost, n^3 per simulated step times the steps, which grow as ln kappa).
  TaskList tasks;
  for (const auto encoding : encodings) {
    for (const Case& c : cases) {
      rows.push_back({std::string(netlist_gen::to_string(encoding)), c.label, {}});
      const double n = static_cast<double>(c.m.rows());
      const Eigen::VectorXd ev = c.m.selfadjointView<Eigen::Lower>().eigenvalues();
      const double kappa = ev.maxCoeff() / std::max(ev.minCoeff(), 1e-300);
      tasks.costs.push_back(n * n * n * (1.0 + std::log(std::max(kappa, 1.0))));
    }
  }
  const std::size_t per_encoding = cases.size();
  tasks.label = [&](std::size_t i) {
    return fmt::format("{} {}", rows[i].encoding, rows[i].label);
  };
  tasks.run = [&](std::size_t i) {
    netlist_gen::NetlistOptions o = base;
    o.encoding = encodings[i / per_encoding];
    return encode(cosim::measure_relaxation(session, cases[i % per_encoding].m, b, o, a.eps));
  };
  ProgressBar bar("relax", static_cast<long>(rows.size()));
  tasks.progress = [&](long done) { bar.update(done, ""); };
  const std::vector<std::string> results = run_tasks(tasks);
  for (std::size_t i = 0; i < rows.size(); ++i) rows[i].r = decode(results[i]);
  bar.finish();

  // Table.
  std::string head =
      fmt::format("{:<11} {:<6} {:>3} {:>9} {:>9} {:>10} {:>9} {:>11} {:>11} {:>9}", "encoding",
                  "spectr", "n", "kappa", "s_M", "alpha_min", "w_slow", "tau_pred/s", "tau_meas/s",
                  "ratio");
  head += fmt::format(" {:>11} {:>9}", "tau_twin/s", "meas/twin");
  for (double e : a.eps)
    head += fmt::format("  {:>22}", fmt::format("t({:.0e}) meas/bound/ref", e));
  std::cout << head << "\n";
  for (const Row& row : rows) {
    const auto& r = row.r;
    std::string line =
        fmt::format("{:<11} {:<6} {:>3} {:>9.4g} {:>9.4g} {:>10.4g} {:>9.3g} {:>11.4g} {:>11.4g} "
                    "{:>9.6f}",
                    row.encoding, row.label.substr(0, 6), r.size, r.condition_number,
                    r.matrix_scale, r.alpha_min, r.slow_share, r.tau_predicted, r.tau_measured,
                    r.tau_measured / r.tau_predicted);
    line += fmt::format(" {:>11.4g} {:>9.6f}", r.tau_twin, r.tau_measured / r.tau_twin);
    for (std::size_t k = 0; k < a.eps.size(); ++k) {
      const double refined = r.time_refined[k] / r.tau_predicted;
      line += fmt::format("  {:>6.2f} / {:>5.2f} / {:>5}", r.time_to_eps[k] / r.tau_predicted,
                          r.time_bound[k] / r.tau_predicted,
                          std::isnan(refined) ? std::string("-") : fmt::format("{:.2f}", refined));
    }
    std::cout << line << "\n";
  }
  std::cout << "(alpha_min: smallest eigenvalue of M_hat = (M + damping I) / s_M, so tau_pred = "
               "R C / alpha_min, the ideal formula; tau_twin: the realized circuit's slowest "
               "rate from its elements (op-amp poles, mismatch, grid);\n"
               " w_slow: the slowest eigenspace's share of the start error;\n"
               " times to eps in units of the predicted tau: measured / bound tau ln(1/eps) / "
               "refined tau ln(w_slow/eps), - where w_slow <= eps)\n";
  for (const auto encoding : encodings) {
    std::vector<double> ratios;
    for (const Row& row : rows) {
      if (row.encoding == netlist_gen::to_string(encoding)) {
        ratios.push_back(row.r.tau_measured / row.r.tau_predicted);
      }
    }
    std::cout << fmt::format(
        "{}: {} matrices, tau measured / predicted: min {:.6f}, median {:.6f}, max {:.6f}\n",
        netlist_gen::to_string(encoding), ratios.size(),
        *std::min_element(ratios.begin(), ratios.end()), median(ratios),
        *std::max_element(ratios.begin(), ratios.end()));
  }

  if (!a.csv.empty()) {
    write_file_atomically(a.csv, "--csv", [&](std::ostream& os) {
      // One header line, then data: numpy.genfromtxt(names=True) and pandas.read_csv read it.
      os << "encoding,spectrum,n,kappa,matrix_scale,alpha_min,slow_dimension,slow_share,"
            "tau_predicted,tau_measured,ratio,fit_start,fit_end,fit_points,analog_seconds,"
            "accepted_points,wall_seconds,tau_twin,ratio_twin";
      for (double e : a.eps) {
        os << fmt::format(",t_eps_{0:.0e}_measured,t_eps_{0:.0e}_bound,t_eps_{0:.0e}_refined", e);
      }
      os << "\n";
      for (const Row& row : rows) {
        const auto& r = row.r;
        os << fmt::format(
            "{},{},{},{:.17g},{:.17g},{:.17g},{},{:.17g},{:.17g},{:.17g},{:.17g},{:.17g},{:.17g},"
            "{},{:.17g},{},{:.6g}",
            row.encoding, row.label, r.size, r.condition_number, r.matrix_scale, r.alpha_min,
            r.slow_dimension, r.slow_share, r.tau_predicted, r.tau_measured,
            r.tau_measured / r.tau_predicted, r.fit_start, r.fit_end, r.fit_points,
            r.analog_seconds, r.accepted_points, r.wall_seconds);
        os << fmt::format(",{:.17g},{:.17g}", r.tau_twin, r.tau_measured / r.tau_twin);
        for (std::size_t k = 0; k < a.eps.size(); ++k) {
          // Empty cells where not reached (measured) or not predicted (refined, w <= eps).
          const auto cell = [](double v) {
            return std::isnan(v) ? std::string() : fmt::format("{:.17g}", v);
          };
          os << fmt::format(",{},{:.17g},{}", cell(r.time_to_eps[k]), r.time_bound[k],
                            cell(r.time_refined[k]));
        }
        os << "\n";
      }
    });
    std::cout << fmt::format("table written      {}\n", a.csv);
  }
  if (!a.plot.empty()) {
    PlotPanel taus;
    // The ratio itself (not measured against predicted on log-log axes, where a deviation of
    // 1e-3 is invisible).
    taus.title = "relaxation time: measured / predicted";
    taus.xlabel = "condition number kappa";
    taus.ylabel = "tau measured / (R C / alpha_min)";
    taus.log_x = true;
    taus.key = "top left";
    PlotPanel times;
    times.title = "time to reach eps (cold start)";
    times.xlabel = "predicted tau ln(w / eps) (s)";
    times.ylabel = "measured (s)";
    times.log_x = times.log_y = true;
    times.key = "top left";
    double lo = 1e300, hi = 0;
    for (const auto encoding : encodings) {
      PlotSeries s{std::string(netlist_gen::to_string(encoding)),
                   {},
                   {},
                   encoding == netlist_gen::Encoding::behavioral ? "points pt 6 ps 1.5"
                                                                 : "points pt 2 ps 1"};
      for (const Row& row : rows) {
        if (row.encoding != netlist_gen::to_string(encoding)) continue;
        s.x.push_back(row.r.condition_number);
        s.y.push_back(row.r.tau_measured / row.r.tau_predicted);
        lo = std::min(lo, row.r.condition_number);
        hi = std::max(hi, row.r.condition_number);
      }
      taus.series.push_back(s);
      for (std::size_t k = 0; k < a.eps.size(); ++k) {
        PlotSeries t{fmt::format("{} eps {:.0e}", netlist_gen::to_string(encoding), a.eps[k]),
                     {},
                     {},
                     fmt::format("points pt {} ps 1", 6 + 2 * static_cast<int>(k))};
        for (const Row& row : rows) {
          if (row.encoding != netlist_gen::to_string(encoding)) continue;
          if (!std::isfinite(row.r.time_refined[k]) || !std::isfinite(row.r.time_to_eps[k])) {
            continue;
          }
          t.x.push_back(row.r.time_refined[k]);
          t.y.push_back(row.r.time_to_eps[k]);
        }
        times.series.push_back(t);
      }
    }
    taus.series.push_back({"1 (prediction)", {lo / 1.5, hi * 1.5}, {1.0, 1.0}, "lines"});
    double tlo = 1e300, thi = 0;
    for (const auto& s : times.series) {
      for (double x : s.x) {
        if (x > 0) tlo = std::min(tlo, x), thi = std::max(thi, x);
      }
    }
    times.series.push_back({"identity", {tlo / 1.5, thi * 1.5}, {tlo / 1.5, thi * 1.5}, "lines"});
    PlotOptions po;
    po.title = "tkfac relax: measured against predicted";
    write_plot(a.plot, {taus, times}, po, "--plot");
    std::cout << fmt::format("plot written       {}\n", a.plot);
  }
}

}  // namespace

void register_relax(CLI::App& app) {
  auto args = std::make_shared<RelaxArgs>();
  CLI::App* cmd = app.add_subcommand(
      "relax", "Validate tau = R C / alpha_min against noiseless transients (sweep or --matrix)");
  input_file(
      cmd->add_option("--matrix,-m", args->matrix, "SPD matrix M (CSV); default: a built-in sweep"));
  input_file(
      cmd->add_option("--rhs,-b", args->rhs, "right-hand side b (CSV); default: alternating 1..2"));
  cmd->add_option("--damping", args->damping, "lambda added to the diagonal")
      ->capture_default_str();
  cmd->add_option("--sizes", args->sizes, "sweep: matrix sizes")->capture_default_str();
  cmd->add_option("--kappas", args->kappas, "sweep: condition numbers")->capture_default_str();
  cmd->add_option("--spectra", args->spectra,
                  "sweep: log (log-spaced) and/or split (isolated slow mode)")
      ->capture_default_str();
  cmd->add_option("--matrix-seed", args->matrix_seed, "sweep: seed of the random eigenvectors")
      ->capture_default_str();
  cmd->add_option("--encoding", args->encoding, "both | behavioral | integrator")
      ->capture_default_str();
  cmd->add_option("--eps", args->eps, "relative errors whose reaching time is measured")
      ->capture_default_str();
  // The circuit options relax uses, with relax's own meaning of 0 and of the noise variance.
  add_table_options(cmd, netlist_gen::netlist_option_table(), args->circuit, "",
                    {.only = {"resistance", "capacitance", "opamp_gain", "max_step", "sim_time",
                              "noise_variance", "gain_compensation", "conductance_bits",
                              "quantizer", "mismatch", "mismatch_seed", "opamp_gbw",
                              "opamp_offset"},
                     .except = {},
                     .help = {{"max_step", "largest simulator step, seconds (0: tau / 20)"},
                              {"sim_time", "simulated seconds (0: tau (ln(1/min eps) + ln 10))"},
                              {"noise_variance", "must be 0 (noiseless)"}}});
  output_file(cmd->add_option("--csv", args->csv, "table to write (CSV)"));
  output_file(
      cmd->add_option("--plot", args->plot, "figure to write (.png or .svg): measured vs predicted"),
      OutputNames::plot);
  cmd->callback([args] { run_relax(*args); });
}

}  // namespace tkfac::cli
