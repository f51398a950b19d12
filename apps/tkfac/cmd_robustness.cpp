// tkfac robustness: the Thermodynamic K-FAC paper's quantization study (section 4.5, Fig. 4) on
// the reference network, through the circuit's real parts (issue 12): test accuracy against
// step for full-precision Adam and for K-FAC whose factor inverses come from a circuit with
// B-bit conductances, B-bit ADC read-outs, component mismatch, or single-pole op-amps, over
// several seeds (network initialization, data order, mismatch draws).
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <iostream>
#include <map>
#include <memory>

#include "commands.hpp"
#include "file_options.hpp"
#include "plot.hpp"
#include "progress.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/core/output_file.hpp"
#include "tkfac/kfac/dataset.hpp"
#include "tkfac/kfac/kfac_options.hpp"
#include "tkfac/netlist_gen/encoding.hpp"
#include "tkfac/kfac/mlp.hpp"
#include "tkfac/kfac/optimizer_factory.hpp"
#include "tkfac/kfac/trainer.hpp"

namespace tkfac::cli {
namespace {

namespace kf = tkfac::kfac;

// The flags this command shares with the option tables (each is written once, in its table).
std::string netlist_flag(const char* field) {
  return options::flag_of(netlist_gen::netlist_option_table(), field);
}
std::string kfac_flag(const char* field) {
  return options::flag_of(kf::kfac_option_table(), field);
}

struct RobustnessArgs {
  std::string data_dir = kf::FashionMnistOptions{}.directory;
  long steps = 100;
  int seeds = 5;
  int batch_size = 64;
  long eval_every = 20;
  long eval_limit = 2000;
  int inverse_interval = 10;
  std::string backend = "ou";
  std::vector<int> conductance_bits{4, 6, 8, 12, 16, 0};
  std::vector<int> adc_bits{4, 6, 8, 12, 16, 0};
  std::vector<double> mismatch{0.0, 0.001, 0.01, 0.05};
  std::vector<double> gbw{0.0, 1e8, 1e7, 1e6};
  std::string csv = "tkfac-robustness.csv";
  std::string plot = "tkfac-robustness.png";
};

// One configuration of the sweep: `sweep` names the panel, `setting` the value.
struct Variant {
  std::string sweep;    // "baseline", "conductance bits", "ADC bits", "mismatch", "op-amp GBW"
  std::string setting;  // "adam", "full", "8", "1%", "10 MHz"
  kf::OptimizerConfig config;
};

std::string bits_text(int b) { return b == 0 ? "full" : fmt::format("{}", b); }

std::vector<Variant> variants(const RobustnessArgs& a) {
  kf::OptimizerConfig base;
  base.name = "kfac";
  base.kfac.solver.backend = a.backend;
  base.kfac.inverse_update_interval = a.inverse_interval;
  std::vector<Variant> v;
  kf::OptimizerConfig adam = base;
  adam.name = "adam";
  v.push_back({"baseline", "adam", adam});
  v.push_back({"baseline", "kfac full", base});  // every sweep's "full" / 0 / ideal point
  for (int b : a.conductance_bits) {
    if (b == 0) continue;
    Variant x{"conductance bits", bits_text(b), base};
    x.config.kfac.solver.netlist.conductance_bits = b;
    v.push_back(x);
  }
  for (int b : a.adc_bits) {
    if (b == 0) continue;
    Variant x{"ADC bits", bits_text(b), base};
    x.config.kfac.solver.netlist.adc_bits = b;
    v.push_back(x);
  }
  for (double s : a.mismatch) {
    if (s == 0.0) continue;
    Variant x{"mismatch", fmt::format("{:g}%", 100 * s), base};
    x.config.kfac.solver.netlist.mismatch = s;
    v.push_back(x);
  }
  for (double g : a.gbw) {
    if (g == 0.0) continue;
    // The op-amps are the integrator encoding's (the behavioral circuit has none).
    Variant x{"op-amp GBW", fmt::format("{:g} Hz", g), base};
    x.config.kfac.solver.netlist.encoding = netlist_gen::Encoding::integrator;
    x.config.kfac.solver.netlist.opamp_gbw = g;
    v.push_back(x);
  }
  for (const Variant& x : v) x.config.validate();
  return v;
}

struct Stats {
  double mean = 0.0, sd = 0.0;
};
Stats stats(const std::vector<double>& xs) {
  Stats s;
  if (xs.empty()) return s;
  for (double x : xs) s.mean += x;
  s.mean /= static_cast<double>(xs.size());
  if (xs.size() > 1) {
    double ss = 0.0;
    for (double x : xs) ss += (x - s.mean) * (x - s.mean);
    s.sd = std::sqrt(ss / static_cast<double>(xs.size() - 1));
  }
  return s;
}

void run_robustness(const RobustnessArgs& a) {
  if (a.backend != "ou" && a.backend != "spice") {
    throw InputError(fmt::format("--backend: '{}' is not ou or spice", a.backend));
  }
  if (a.steps < 1) throw InputError(fmt::format("--steps: {} is not a positive count", a.steps));
  if (a.seeds < 1) throw InputError(fmt::format("--seeds: {} is not a positive count", a.seeds));
  if (a.eval_every < 1) {
    throw InputError(fmt::format("--eval-every: {} is not a positive count", a.eval_every));
  }
  if (a.inverse_interval < 1) {
    throw InputError(fmt::format("{}: {} is not a positive count",
                                 kfac_flag("inverse_update_interval"), a.inverse_interval));
  }
  const auto check_bits = [](const std::vector<int>& bits, const std::string& option) {
    for (int b : bits) {
      if (b != 0 && (b < 2 || b > 24)) {
        throw InputError(fmt::format("{}: {} is not 0 (full precision) or 2..24 bits", option, b));
      }
    }
  };
  check_bits(a.conductance_bits, netlist_flag("conductance_bits"));
  check_bits(a.adc_bits, netlist_flag("adc_bits"));
  for (double s : a.mismatch) {
    if (!(s >= 0.0 && s < 0.5)) {
      throw InputError(fmt::format("{}: {} is not a relative tolerance in [0, 0.5)",
                                   netlist_flag("mismatch"), s));
    }
  }
  for (double g : a.gbw) {
    if (!(g >= 0.0 && std::isfinite(g))) {
      throw InputError(fmt::format("--gbw: {} is not a gain-bandwidth product >= 0 Hz", g));
    }
  }
  if (!a.csv.empty()) check_writable(a.csv, "--csv");
  if (!a.plot.empty()) check_plot_path(a.plot, "--plot");
  const std::vector<Variant> runs = variants(a);

  kf::DataOptions data;
  data.directory = a.data_dir;
  data.pool = 4;
  const kf::Data loaded = kf::load_data(data);
  const std::vector<int> sizes{loaded.train.features(), 32, loaded.train.classes};
  std::cout << fmt::format(
                   "robustness: reference network {}-{}-{} tanh on {}, {} steps of batch {}, "
                   "K-FAC inverses every {} steps by `{}`, test accuracy every {} steps on {} "
                   "test examples;\n            {} configurations x {} seeds = {} runs\n",
                   sizes[0], sizes[1], sizes[2], loaded.description, a.steps, a.batch_size,
                   a.inverse_interval, a.backend, a.eval_every, a.eval_limit, runs.size(), a.seeds,
                   runs.size() * static_cast<std::size_t>(a.seeds))
            << std::flush;

  // acc[variant][seed] = history
  std::vector<std::vector<kf::History>> results(runs.size());
  ProgressBar bar("robustness", static_cast<long>(runs.size()) * a.seeds);
  const auto start = std::chrono::steady_clock::now();
  long done = 0;
  bool estimated = false;
  for (int seed = 1; seed <= a.seeds; ++seed) {
    kf::TrainOptions to;
    to.batch_size = a.batch_size;
    to.steps = a.steps;
    to.seed = static_cast<std::uint64_t>(seed);
    to.eval_every = a.eval_every;
    to.eval_limit = a.eval_limit;
    const kf::Mlp net(sizes, kf::Activation::tanh, static_cast<std::uint64_t>(seed));
    for (std::size_t v = 0; v < runs.size(); ++v) {
      kf::RunSpec spec{runs[v].sweep + " " + runs[v].setting, runs[v].config};
      spec.optimizer.kfac.seed = static_cast<std::uint64_t>(seed);
      spec.optimizer.kfac.solver.netlist.mismatch_seed = static_cast<unsigned>(seed);
      // A circuit the real parts make unstable (large mismatch on a badly conditioned factor)
      // is refused by the netlist: that run counts as failed, with the reason, not as an end.
      try {
        std::vector<kf::History> h = kf::compare(net, {spec}, loaded.train, &loaded.test, to);
        results[v].push_back(std::move(h.front()));
      } catch (const InputError& e) {
        kf::History failed;
        failed.label = spec.label;
        results[v].push_back(std::move(failed));
        bar.note(fmt::format("failed     seed {} {} {}: {}\n", seed, runs[v].sweep,
                             runs[v].setting, e.what()));
      }
      ++done;
      bar.update(done, fmt::format("seed {} {} {}: {:.2f}%", seed, runs[v].sweep, runs[v].setting,
                                   100 * results[v].back().final_test_accuracy));
      // After the first seed's configurations: the time of the whole sweep (the configurations
      // differ in cost: the integrator's twin is larger, spice far slower than ou).
      if (!estimated && v + 1 == runs.size() && a.seeds > 1) {
        estimated = true;
        const double per_run =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() /
            static_cast<double>(done);
        bar.note(fmt::format(
            "estimate   about {:.0f} s in all ({} runs at about {:.1f} s each, from the first {})\n",
            per_run * static_cast<double>(runs.size()) * a.seeds, runs.size() * a.seeds, per_run,
            done));
      }
    }
  }
  bar.finish();
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  // Table: final test accuracy, mean and sample standard deviation over seeds.
  std::cout << fmt::format(
      "{:<17} {:<10} {:>9} {:>8} {:>7} {:>11}  (final test accuracy over the seeds that ran; "
      "analog s: simulated circuit time per run)\n",
      "sweep", "setting", "mean %", "sd %", "runs", "analog s");
  for (std::size_t v = 0; v < runs.size(); ++v) {
    std::vector<double> finals, analog;
    for (const kf::History& h : results[v]) {
      if (std::isfinite(h.final_test_accuracy)) {
        finals.push_back(100 * h.final_test_accuracy);
        analog.push_back(h.analog_seconds);
      }
    }
    const Stats s = stats(finals);
    const std::string ran = fmt::format("{}/{}", finals.size(), a.seeds);
    if (finals.empty()) {
      std::cout << fmt::format("{:<17} {:<10} {:>9} {:>8} {:>7}  (every run refused: unstable)\n",
                               runs[v].sweep, runs[v].setting, "-", "-", ran);
    } else {
      std::cout << fmt::format("{:<17} {:<10} {:>9.2f} {:>8.2f} {:>7} {:>11.4g}\n", runs[v].sweep,
                               runs[v].setting, s.mean, s.sd, ran, stats(analog).mean);
    }
  }
  std::cout << fmt::format("wall time          {:.1f} s\n", wall);

  // Per step: mean and sd of the test accuracy at every evaluation.
  struct Curve {
    std::vector<double> step, mean, sd;
  };
  std::vector<Curve> curves(runs.size());
  for (std::size_t v = 0; v < runs.size(); ++v) {
    std::map<long, std::vector<double>> by_step;
    for (const kf::History& h : results[v]) {
      for (const kf::StepRecord& r : h.records) {
        if (std::isfinite(r.test_accuracy)) by_step[r.step].push_back(r.test_accuracy);
      }
    }
    for (const auto& [step, accs] : by_step) {
      const Stats s = stats(accs);
      curves[v].step.push_back(static_cast<double>(step));
      curves[v].mean.push_back(s.mean);
      curves[v].sd.push_back(s.sd);
    }
  }
  if (!a.csv.empty()) {
    write_file_atomically(a.csv, "--csv", [&](std::ostream& os) {
      os << "sweep,setting,step,test_accuracy_mean,test_accuracy_sd,seeds\n";
      for (std::size_t v = 0; v < runs.size(); ++v) {
        for (std::size_t k = 0; k < curves[v].step.size(); ++k) {
          os << fmt::format("{},{},{},{:.6g},{:.6g},{}\n", runs[v].sweep, runs[v].setting,
                            curves[v].step[k], curves[v].mean[k], curves[v].sd[k], a.seeds);
        }
      }
    });
    std::cout << fmt::format("table written      {}\n", a.csv);
  }
  if (!a.plot.empty()) {
    std::vector<PlotPanel> panels;
    for (const char* sweep : {"conductance bits", "ADC bits", "mismatch", "op-amp GBW"}) {
      PlotPanel p;
      p.title = fmt::format("test accuracy: {} (mean of {} seeds)", sweep, a.seeds);
      p.xlabel = "step";
      p.ylabel = "test accuracy";
      p.key = "bottom right";
      int lt = 1;
      for (std::size_t v = 0; v < runs.size(); ++v) {
        if (runs[v].sweep != sweep && runs[v].sweep != "baseline") continue;
        PlotSeries s{runs[v].sweep == "baseline" ? runs[v].setting
                                                 : fmt::format("{} {}", sweep, runs[v].setting),
                     curves[v].step, curves[v].mean,
                     fmt::format("linespoints lt {} pt {} ps 0.6", lt, lt)};
        ++lt;
        p.series.push_back(std::move(s));
      }
      if (p.series.size() > 2) panels.push_back(std::move(p));
    }
    PlotOptions po;
    po.title = "tkfac robustness: K-FAC through real circuit parts (cf. Fig. 4 of the paper)";
    po.columns = 2;
    write_plot(a.plot, panels, po, "--plot");
    std::cout << fmt::format("plot written       {}\n", a.plot);
  }
}

}  // namespace

void register_robustness(CLI::App& app) {
  auto a = std::make_shared<RobustnessArgs>();
  CLI::App* cmd = app.add_subcommand(
      "robustness",
      "The paper's Fig. 4 on the reference network: test accuracy vs step for Adam and K-FAC "
      "through B-bit conductances, B-bit ADCs, mismatch and op-amp GBW (mean and sd over seeds)");
  cmd->add_option("--data-dir", a->data_dir, "Fashion-MNIST directory")->capture_default_str();
  cmd->add_option("--steps", a->steps, "training steps per run")->capture_default_str();
  cmd->add_option("--seeds", a->seeds, "seeds per configuration (init, data order, mismatch)")
      ->capture_default_str();
  cmd->add_option("--batch-size", a->batch_size, "examples per step")->capture_default_str();
  cmd->add_option("--eval-every", a->eval_every, "steps between test evaluations")
      ->capture_default_str();
  cmd->add_option("--eval-limit", a->eval_limit, "test examples per evaluation (0: all)")
      ->capture_default_str();
  cmd->add_option(kfac_flag("inverse_update_interval"), a->inverse_interval, "steps between K-FAC inverse refreshes")
      ->capture_default_str();
  cmd->add_option("--backend", a->backend,
                  "ou (the exact twin of each circuit) | spice (ngspice; much slower, an "
                  "estimate is printed after the first runs)")
      ->capture_default_str();
  cmd->add_option(netlist_flag("conductance_bits"), a->conductance_bits,
                  "conductance bits to sweep (0: full precision)")
      ->capture_default_str();
  cmd->add_option(netlist_flag("adc_bits"), a->adc_bits, "ADC bits to sweep (0: full precision)")
      ->capture_default_str();
  cmd->add_option(netlist_flag("mismatch"), a->mismatch, "relative mismatch to sweep")->capture_default_str();
  cmd->add_option("--gbw", a->gbw,
                  "op-amp gain-bandwidth products to sweep, Hz (0: ideal; integrator encoding)")
      ->capture_default_str();
  output_file(cmd->add_option("--csv", a->csv, "table to write (CSV; empty: none)"))
      ->capture_default_str();
  output_file(cmd->add_option("--plot", a->plot, "figure to write (.png or .svg; empty: none)"),
              OutputNames::plot)
      ->capture_default_str();
  cmd->callback([a] { run_robustness(*a); });
}

}  // namespace tkfac::cli
