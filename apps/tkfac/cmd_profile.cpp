// tkfac profile: the paper's Fig. 2(a) on this machine (per-phase K-FAC step time of a deep MLP
// against its width, Method 1 and Method 2) and, beside it, the thermodynamic hardware's
// predicted step and speedup (docs/DESIGN.md section "Hardware speedup estimate").
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "file_options.hpp"
#include "commands.hpp"
#include "plot.hpp"
#include "progress.hpp"
#include "tkfac/core/dense.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/core/output_file.hpp"
#include "tkfac/kfac/hardware_estimate.hpp"
#include "tkfac/kfac/kfac_factors.hpp"
#include "tkfac/kfac/step_profile.hpp"

namespace tkfac::cli {
namespace {

namespace kf = tkfac::kfac;

struct ProfileArgs {
  int depth = 50;
  std::vector<int> widths{64, 128, 256, 512, 1024};
  int batch_size = 128;
  std::vector<std::string> methods{"inverse", "solve"};
  int steps = 3;
  double budget = 10.0;
  std::string solvers = "1";
  kf::HardwareAssumptions hw;
  std::string csv = "tkfac-profile.csv";
  std::string plot = "tkfac-profile.png";
};

struct Row {
  int width = 0;
  kf::KfacMethod method = kf::KfacMethod::inverse;
  kf::PhaseTimes t;
  kf::PhaseFlops flops;
  double kappa_max = 0.0;  // largest condition number of a damped factor
  kf::AnalogEstimate analog;
  double digital_step = 0.0, thermo_step = 0.0;
};

// Bytes a K-FAC step of `depth` layers of width n holds, about: per layer the weights, A, G, their
// inverses, velocity, direction, gradient, preconditioned gradient and the products' temporaries
// (12 n^2 doubles), plus the activations.
double memory_bytes(int depth, int n, int batch) {
  const double m = n + 1.0;
  return depth * (12.0 * m * m + 4.0 * m * batch) * 8.0;
}

double available_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  double kb = 0;
  while (in >> key >> kb) {
    if (key == "MemAvailable:") return kb * 1024.0;
    in.ignore(1 << 10, '\n');
  }
  return 0.0;  // unknown: no check
}

// Smallest width (interpolated in log width) where the speedup reaches 1, or 0 if none does.
double crossover(const std::vector<Row>& rows, kf::KfacMethod method) {
  const Row* prev = nullptr;
  for (const Row& r : rows) {
    if (r.method != method) continue;
    const double s = r.digital_step / r.thermo_step;
    if (s >= 1.0) {
      if (!prev) return r.width;
      const double s0 = prev->digital_step / prev->thermo_step;
      const double f = (0.0 - std::log(s0)) / (std::log(s) - std::log(s0));
      return std::exp(std::log(prev->width) + f * (std::log(r.width) - std::log(prev->width)));
    }
    prev = &r;
  }
  return 0.0;
}

void run_profile(ProfileArgs a) {
  if (a.depth < 1 || a.depth > 1000) {
    throw InputError(fmt::format("--depth: {}, expected 1 ... 1000", a.depth));
  }
  if (a.widths.empty()) throw InputError("--widths: expected at least one width");
  for (int w : a.widths) {
    if (w < 2 || w > 16384) throw InputError(fmt::format("--widths: {}, expected 2 ... 16384", w));
  }
  std::sort(a.widths.begin(), a.widths.end());
  a.widths.erase(std::unique(a.widths.begin(), a.widths.end()), a.widths.end());
  if (a.batch_size < 1 || a.batch_size > 1000000) {
    throw InputError(fmt::format("--batch-size: {}, expected 1 ... 1000000", a.batch_size));
  }
  if (a.steps < 1 || a.steps > 1000) {
    throw InputError(fmt::format("--steps: {}, expected 1 ... 1000", a.steps));
  }
  if (!(std::isfinite(a.budget) && a.budget > 0)) {
    throw InputError(fmt::format("--budget: {}, expected a finite number of seconds > 0", a.budget));
  }
  std::vector<kf::KfacMethod> methods;
  for (const std::string& m : a.methods) {
    const kf::KfacMethod method = kf::parse_kfac_method(m, "--methods");
    if (std::find(methods.begin(), methods.end(), method) == methods.end()) {
      methods.push_back(method);
    }
  }
  if (methods.empty()) throw InputError("--methods: expected inverse and/or solve");
  if (a.solvers == "per-layer") {
    a.hw.solvers = a.depth;
  } else {
    try {
      std::size_t used = 0;
      a.hw.solvers = std::stoi(a.solvers, &used);
      if (used != a.solvers.size()) throw std::invalid_argument("trailing text");
    } catch (const std::exception&) {
      throw InputError(
          fmt::format("--solvers: '{}', expected a count >= 1 or per-layer", a.solvers));
    }
  }
  a.hw.validate();
  const double avail = available_bytes();
  const double need = memory_bytes(a.depth, a.widths.back(), a.batch_size);
  if (avail > 0 && need > 0.8 * avail) {
    throw InputError(fmt::format(
        "--widths {} with --depth {}: needs about {:.1f} GB, this machine has {:.1f} GB available "
        "(expected at most 80% of it; give a smaller --depth or width)",
        a.widths.back(), a.depth, need / 1e9, avail / 1e9));
  }
  if (!a.csv.empty()) check_writable(a.csv, "--csv");
  if (!a.plot.empty()) check_plot_path(a.plot, "--plot");

  std::cout << fmt::format(
      "K-FAC step of an MLP of {} layers of width n (tanh, batch {}, float64, {} BLAS "
      "thread(s)),\nevery step refreshing its inverses (Method 1) or solving afresh (Method 2); "
      "medians of up to {} steps.\nHardware: R C {:g} s, {} bits per value, link {:g} b/s, {} "
      "analog solver(s), inverse interval {},\nrelaxation to {:g}, inverse precision {:g}.\n\n",
      a.depth, a.batch_size, dense::threads(), a.steps, a.hw.rc_seconds, a.hw.bits,
      a.hw.link_bits_per_second, a.hw.solvers, a.hw.inverse_interval, a.hw.relaxation_error,
      a.hw.inverse_precision);

  ProgressBar bar("profile", static_cast<long>(a.widths.size() * methods.size()));
  std::vector<Row> rows;
  long done = 0;
  for (int n : a.widths) {
    const std::vector<int> sizes(static_cast<std::size_t>(a.depth) + 1, n);
    // The factors the hardware would relax: the first batch's, damped as K-FAC damps them.
    std::vector<kf::AnalogFactor> inverse_factors, solve_factors;
    double kappa_max = 0.0;
    {
      const kf::Mlp net(sizes, kf::Activation::tanh, 1);
      std::mt19937_64 rng(2);
      const kf::Batch batch = kf::random_batch(n, n, a.batch_size, rng);
      kf::KfacOptions ko;
      const kf::BatchFactors bf = kf::batch_factors(net, batch, ko, rng);
      for (std::size_t l = 0; l < bf.layers.size(); ++l) {
        const auto& f = bf.layers[l];
        const auto [la, lg] = kf::damping_pair(ko, f.a, f.g);
        const kf::FactorSpectrum sa = kf::scaled_spectrum(f.a, la);
        const kf::FactorSpectrum sg = kf::scaled_spectrum(f.g, lg);
        kappa_max = std::max({kappa_max, sa.kappa, sg.kappa});
        inverse_factors.push_back({f.a.rows(), sa.alpha_min, 0});
        inverse_factors.push_back({f.g.rows(), sg.alpha_min, 0});
        const long cols = net.weights()[l].cols();
        solve_factors.push_back({f.g.rows(), sg.alpha_min, cols});
        solve_factors.push_back({f.a.rows(), sa.alpha_min, f.g.rows()});
      }
    }
    for (const kf::KfacMethod method : methods) {
      bar.update(done, fmt::format("n = {}, {}", n, kf::to_string(method)));
      kf::OptimizerConfig cfg;
      cfg.name = "kfac";
      cfg.kfac.method = method;
      cfg.kfac.solver.backend = "cholesky";
      Row r;
      r.width = n;
      r.method = method;
      r.kappa_max = kappa_max;
      r.t = kf::profile_steps(sizes, a.batch_size, cfg, a.steps, a.budget);
      r.flops = kf::kfac_phase_flops(sizes, a.batch_size, cfg.kfac);
      r.analog = kf::estimate_analog(
          method == kf::KfacMethod::inverse ? inverse_factors : solve_factors, method, a.hw);
      const kf::DigitalStep d{r.t.gradient, r.t.factors, r.t.inversion, r.t.update};
      r.digital_step = kf::digital_step_seconds(d, method, a.hw);
      r.thermo_step = kf::thermodynamic_step_seconds(d, r.analog, method, a.hw);
      rows.push_back(r);
      bar.update(++done, fmt::format("n = {}, {}", n, kf::to_string(method)));
    }
  }
  bar.finish();

  std::cout << fmt::format("\n{:>6} {:>8} {:>10} {:>10} {:>10} {:>10} {:>10} {:>9} {:>11} {:>11} "
                           "{:>11} {:>8}\n",
                           "n", "method", "step ms", "gradient", "factors", "inversion", "update",
                           "kappa", "analog ms", "transfer ms", "thermo ms", "speedup");
  for (const Row& r : rows) {
    std::cout << fmt::format(
        "{:>6} {:>8} {:>10.2f} {:>10.2f} {:>10.2f} {:>10.2f} {:>10.2f} {:>9.3g} {:>11.4g} "
        "{:>11.4g} {:>11.2f} {:>8.2f}\n",
        r.width, kf::to_string(r.method), 1e3 * r.t.step, 1e3 * r.t.gradient, 1e3 * r.t.factors,
        1e3 * r.t.inversion, 1e3 * r.t.update, r.kappa_max, 1e3 * r.analog.analog_seconds,
        1e3 * r.analog.transfer_seconds, 1e3 * r.thermo_step, r.digital_step / r.thermo_step);
  }
  for (const kf::KfacMethod method : methods) {
    const double c = crossover(rows, method);
    std::cout << fmt::format(
        "{}: {}\n", kf::to_string(method),
        c > 0 ? fmt::format("the hardware is predicted faster from n = {:.0f}", c)
              : std::string("the hardware is not predicted faster at these widths"));
  }
  std::cout << "Times in ms. step: the measured digital step (inverse interval 1); thermo: the "
               "predicted step with\nthe inversion replaced by the analog solvers and the link "
               "(both at the inverse interval);\nspeedup = digital / thermo.\n";

  if (!a.csv.empty()) {
    write_file_atomically(a.csv, "--csv", [&](std::ostream& os) {
      os << "width,depth,batch,method,steps_measured,step_s,gradient_s,factors_s,inversion_s,"
            "update_s,gradient_flops,factors_flops,inversion_flops,update_flops,kappa_max,"
            "largest_tau_s,analog_s,transfer_s,digital_step_s,thermo_step_s,speedup\n";
      for (const Row& r : rows) {
        os << fmt::format(
            "{},{},{},{},{},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},"
            "{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g}\n",
            r.width, a.depth, a.batch_size, kf::to_string(r.method), r.t.steps, r.t.step,
            r.t.gradient, r.t.factors, r.t.inversion, r.t.update, r.flops.gradient,
            r.flops.factors, r.flops.inversion, r.flops.update, r.kappa_max, r.analog.largest_tau,
            r.analog.analog_seconds, r.analog.transfer_seconds, r.digital_step, r.thermo_step,
            r.digital_step / r.thermo_step);
      }
    });
    std::cout << fmt::format("table written  {}\n", a.csv);
  }
  if (!a.plot.empty()) {
    std::vector<PlotPanel> panels;
    for (const kf::KfacMethod method : methods) {
      PlotPanel p;
      p.title = fmt::format("K-FAC step by phase, {} (Method {})", kf::to_string(method),
                            method == kf::KfacMethod::inverse ? 1 : 2);
      p.xlabel = "width n";
      p.ylabel = "share of the step";
      p.log_x = true;
      p.key = "bottom left";
      // Cumulative shares, drawn largest first so each filled band shows.
      const char* names[] = {"update", "inversion", "factors", "gradient"};
      for (int k = 0; k < 4; ++k) {
        PlotSeries s{names[k], {}, {}, "filledcurves x1"};
        for (const Row& r : rows) {
          if (r.method != method) continue;
          const double parts[] = {r.t.gradient, r.t.factors, r.t.inversion, r.t.update};
          const double sum = parts[0] + parts[1] + parts[2] + parts[3];
          double c = 0;
          for (int j = 0; j < 4 - k; ++j) c += parts[j];
          s.x.push_back(r.width);
          s.y.push_back(sum > 0 ? c / sum : 0.0);
        }
        p.series.push_back(std::move(s));
      }
      panels.push_back(std::move(p));
    }
    PlotPanel inv;
    inv.title = "inversion: digital (measured) vs analog (predicted)";
    inv.xlabel = "width n";
    inv.ylabel = "seconds per refresh";
    inv.log_x = inv.log_y = true;
    inv.key = "top left";
    PlotPanel speed;
    speed.title = "predicted speedup over the digital step";
    speed.xlabel = "width n";
    speed.ylabel = "digital / thermodynamic step";
    speed.log_x = speed.log_y = true;
    speed.key = "top left";
    for (const kf::KfacMethod method : methods) {
      const std::string m(kf::to_string(method));
      PlotSeries dig{"digital " + m, {}, {}, "linespoints pt 7"};
      PlotSeries ana{"analog + link " + m, {}, {}, "linespoints pt 5"};
      PlotSeries sp{m, {}, {}, "linespoints pt 7"};
      for (const Row& r : rows) {
        if (r.method != method) continue;
        dig.x.push_back(r.width);
        dig.y.push_back(r.t.inversion);
        ana.x.push_back(r.width);
        ana.y.push_back(r.analog.total_seconds());
        sp.x.push_back(r.width);
        sp.y.push_back(r.digital_step / r.thermo_step);
      }
      inv.series.push_back(std::move(dig));
      inv.series.push_back(std::move(ana));
      speed.series.push_back(std::move(sp));
    }
    // Table 1's scalings through the largest width's Method-1 points: n^3 (digital) and
    // n^2 kappa^2 (analog; kappa = each width's largest factor condition number).
    const Row* last = nullptr;
    for (const Row& r : rows) {
      if (r.method == methods.front()) last = &r;
    }
    if (last) {
      PlotSeries cube{"~ n^3", {}, {}, "lines dt 2"}, square{"~ n^2 kappa^2", {}, {}, "lines dt 3"};
      for (const Row& r : rows) {
        if (r.method != methods.front()) continue;
        cube.x.push_back(r.width);
        cube.y.push_back(last->t.inversion * std::pow(double(r.width) / last->width, 3));
        square.x.push_back(r.width);
        square.y.push_back(last->analog.total_seconds() *
                           std::pow(double(r.width) / last->width, 2) *
                           std::pow(r.kappa_max / last->kappa_max, 2));
      }
      inv.series.push_back(std::move(cube));
      inv.series.push_back(std::move(square));
    }
    PlotSeries one{"1 (break-even)", {}, {}, "lines dt 2"};
    one.x = {static_cast<double>(a.widths.front()), static_cast<double>(a.widths.back())};
    one.y = {1.0, 1.0};
    speed.series.push_back(std::move(one));
    panels.push_back(std::move(inv));
    panels.push_back(std::move(speed));
    PlotOptions po;
    po.title = fmt::format("tkfac profile: {} layers, batch {}", a.depth, a.batch_size);
    po.columns = 2;
    write_plot(a.plot, panels, po, "--plot");
    std::cout << fmt::format("plot written   {}\n", a.plot);
  }
}

}  // namespace

void register_profile(CLI::App& app) {
  auto args = std::make_shared<ProfileArgs>();
  CLI::App* cmd = app.add_subcommand(
      "profile",
      "K-FAC step time by phase against layer width (the paper's Fig. 2(a)) on this machine,\n"
      "with the thermodynamic hardware's predicted step and speedup beside it");
  cmd->add_option("--depth", args->depth, "layers of the MLP (the paper: 50)")
      ->capture_default_str();
  cmd->add_option("--widths", args->widths, "layer widths n to profile")->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--batch-size", args->batch_size, "examples per step")->capture_default_str();
  cmd->add_option("--methods", args->methods,
                  "inverse (Method 1: damped inverses) and/or solve (Method 2: linear systems)")
      ->delimiter(',')->capture_default_str();
  cmd->add_option("--steps", args->steps, "measured steps per width and method, at most")
      ->capture_default_str();
  cmd->add_option("--budget", args->budget,
                  "seconds per width and method, about (fewer steps when slow)")
      ->capture_default_str();
  cmd->add_option("--rc", args->hw.rc_seconds, "hardware: R C of the analog cells, seconds")
      ->capture_default_str();
  cmd->add_option("--bits", args->hw.bits, "hardware: bits per value on the link")
      ->capture_default_str();
  cmd->add_option("--link", args->hw.link_bits_per_second, "hardware: digital link, bits/s")
      ->capture_default_str();
  cmd->add_option("--solvers", args->solvers,
                  "hardware: analog solvers in parallel (a count, or per-layer: one per layer, "
                  "its A and G in turn)")
      ->capture_default_str();
  cmd->add_option("--inverse-interval", args->hw.inverse_interval,
                  "steps between inverse refreshes (Method 1), for both step predictions")
      ->capture_default_str();
  cmd->add_option("--relaxation-error", args->hw.relaxation_error,
                  "hardware: relaxation to this relative error, t = tau ln(1/eps)")
      ->capture_default_str();
  cmd->add_option("--inverse-precision", args->hw.inverse_precision,
                  "hardware, Method 1: relative standard error of the sampled inverse")
      ->capture_default_str();
  output_file(cmd->add_option("--csv", args->csv, "table to write (CSV; empty: none)"))
      ->capture_default_str();
  output_file(cmd->add_option("--plot", args->plot, "figure to write (.png or .svg; empty: none)"),
              OutputNames::plot)
      ->capture_default_str();
  cmd->callback([args] { run_profile(*args); });
}

}  // namespace tkfac::cli
