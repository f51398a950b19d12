// tkfac train: train a small MLP with SGD, Adam(W) or K-FAC whose factor solves go through any
// LinearSolver backend (cholesky, cg, spice, ...); compare several optimizers from the same
// start; log, plot and checkpoint.
#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <cmath>
#include <iostream>
#include <memory>
#include <optional>

#include "file_options.hpp"
#include "commands.hpp"
#include "interrupt.hpp"
#include "train.hpp"
#include "option_cli.hpp"
#include "plot.hpp"
#include "progress.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/core/output_file.hpp"
#include "tkfac/kfac/checkpoint.hpp"
#include "tkfac/kfac/dataset.hpp"
#include "tkfac/kfac/kfac_optimizer.hpp"
#include "tkfac/kfac/mlp.hpp"
#include "tkfac/kfac/optimizer_factory.hpp"
#include "tkfac/kfac/trainer.hpp"

namespace tkfac::cli {
namespace {

namespace kf = tkfac::kfac;

// The flags of K-FAC's shared table lines (--lr etc. set every optimizer's value, the seed also
// the trainer's), as written in kfac_option_table(): this command adds them itself.
const std::string& shared_flag(const char* field) {
  return options::flag_of(kf::kfac_option_table(), field);
}

// Copies every optimizer option the user gave (`given`) into `c`; the rest keep c's values
// (defaults, or a checkpoint's options under --init).
void apply_optimizer_args(kf::OptimizerConfig& c, const TrainArgs& a,
                          const std::function<bool(const char*)>& given) {
  const auto given_shared = [&](const char* field) { return given(shared_flag(field).c_str()); };
  if (given_shared("learning_rate")) {
    c.sgd.learning_rate = c.adam.learning_rate = c.kfac.learning_rate = a.lr;
  }
  if (given("--sgd-lr")) c.sgd.learning_rate = a.sgd_lr;
  if (given("--adam-lr")) c.adam.learning_rate = a.adam_lr;
  if (given("--kfac-lr")) c.kfac.learning_rate = a.kfac_lr;
  if (given_shared("momentum")) c.sgd.momentum = c.kfac.momentum = a.momentum;
  if (given("--nesterov")) c.sgd.nesterov = a.nesterov;
  if (given_shared("weight_decay")) {
    c.sgd.weight_decay = c.adam.weight_decay = c.kfac.weight_decay = a.weight_decay;
  }
  if (given("--beta1")) c.adam.beta1 = a.beta1;
  if (given("--beta2")) c.adam.beta2 = a.beta2;
  if (given("--epsilon")) c.adam.epsilon = a.epsilon;
  auto& k = c.kfac;
  if (given_shared("seed")) k.seed = a.seed;
  if (given("--solver")) k.solver.backend = a.kfac.solver.backend;
  // Every table option the user gave, and only those.
  const auto pick = given_fields(given);
  options::copy_fields(kf::kfac_option_table(), a.kfac, k, pick);
  options::copy_fields(solver::solver_option_table(), a.kfac.solver, k.solver, pick);
  options::copy_fields(netlist_gen::netlist_option_table(), a.kfac.solver.netlist,
                       k.solver.netlist, pick);
  options::copy_fields(solver::thermo_option_table(), a.kfac.solver.thermo, k.solver.thermo, pick);
}

double mean_of_last(const std::vector<kf::StepRecord>& r, std::size_t n) {
  if (r.empty()) return std::nan("");
  const std::size_t k = std::min(n, r.size());
  double s = 0;
  for (std::size_t i = r.size() - k; i < r.size(); ++i) s += r[i].train_loss;
  return s / static_cast<double>(k);
}

// Moving average of the (noisy) per-batch training loss, for plots.
std::vector<double> smoothed_loss(const std::vector<kf::StepRecord>& r) {
  const std::size_t w = std::max<std::size_t>(1, r.size() / 50);
  std::vector<double> out(r.size());
  double sum = 0;
  for (std::size_t i = 0; i < r.size(); ++i) {
    sum += r[i].train_loss;
    if (i >= w) sum -= r[i - w].train_loss;
    out[i] = sum / static_cast<double>(std::min(i + 1, w));
  }
  return out;
}

std::vector<PlotPanel> history_panels(const std::vector<kf::History>& hs) {
  struct Quantity {
    const char* title;
    const char* ylabel;
    int which;  // 0 train loss (smoothed), 1 test loss, 2 test accuracy
  };
  const Quantity qs[] = {{"training loss (moving average)", "loss", 0},
                         {"test loss", "loss", 1},
                         {"test accuracy", "accuracy", 2}};
  // Rows: against step, wall time and, when a run used a circuit, simulated analog time (the
  // time thermodynamic hardware would take; digital runs have none and are left out there).
  enum class Axis { step, wall, analog };
  bool any_analog = false;
  for (const auto& h : hs) any_analog = any_analog || h.analog_seconds > 0.0;
  std::vector<PlotPanel> panels;
  for (const Axis axis : {Axis::step, Axis::wall, Axis::analog}) {
    if (axis == Axis::analog && !any_analog) continue;
    for (const auto& q : qs) {
      PlotPanel p;
      p.title = fmt::format("{} vs {}", q.title,
                            axis == Axis::step   ? "step"
                            : axis == Axis::wall ? "wall time"
                                                 : "analog time");
      p.xlabel = axis == Axis::step   ? "step"
                 : axis == Axis::wall ? "training wall time (s, log scale)"
                                      : "simulated analog time of the solves (s, log scale)";
      p.ylabel = q.ylabel;
      p.log_y = q.which != 2;
      p.log_x = axis != Axis::step;
      if (q.which == 2) p.key = "bottom right";  // digital and circuit solves differ by orders of magnitude
      for (std::size_t run = 0; run < hs.size(); ++run) {
        const auto& h = hs[run];
        if (axis == Axis::analog && !(h.analog_seconds > 0.0)) continue;
        PlotSeries s;
        s.label = h.label;
        // One colour per run in every panel, also where the digital runs are left out. Runs
        // that agree (kfac:cholesky and kfac:spice) draw on top of each other, so the earlier a
        // run is drawn the wider its line, and each has its own dash pattern: all stay visible.
        const double width = 1.0 + 1.5 * static_cast<double>(hs.size() - 1 - run);
        s.style = fmt::format("lines lt {} lw {:.1f} dt {}", run + 1, width, run + 1);
        const auto sm = smoothed_loss(h.records);
        for (std::size_t i = 0; i < h.records.size(); ++i) {
          const auto& r = h.records[i];
          const double x = axis == Axis::step   ? static_cast<double>(r.step)
                           : axis == Axis::wall ? r.wall_seconds
                                                : r.analog_seconds_total;
          if (axis == Axis::analog && !(x > 0.0)) continue;  // log axis
          s.x.push_back(x);
          s.y.push_back(q.which == 0 ? sm[i] : q.which == 1 ? r.test_loss : r.test_accuracy);
        }
        p.series.push_back(std::move(s));
      }
      panels.push_back(std::move(p));
    }
  }
  return panels;
}

void print_summary(const std::vector<kf::History>& hs) {
  std::size_t width = 18;  // the run column fits the longest label (per-run settings are long)
  for (const auto& h : hs) width = std::max(width, h.label.size());
  std::cout << fmt::format("{:<{}} {:>7} {:>11} {:>10} {:>9} {:>10} {:>11}\n", "run", width,
                           "steps", "train loss", "test loss", "test acc", "wall s", "analog s");
  for (const auto& h : hs) {
    std::cout << fmt::format("{:<{}} {:>7} {:>11.4f} {:>10.4f} {:>8.2f}% {:>10.3f} {:>11.4g}\n",
                             h.label, width, h.records.empty() ? 0 : h.records.back().step,
                             mean_of_last(h.records, 50), h.final_test_loss,
                             100 * h.final_test_accuracy, h.wall_seconds, h.analog_seconds);
  }
  std::cout << "(train loss: mean batch loss over the last 50 steps; wall time excludes "
               "evaluation; analog s: simulated circuit time of the solves)\n";
}

// Circuit work of a K-FAC run on an ngspice backend, so that a slow start is not taken for a
// hang: the factor sizes and the circuit runs they take, as the backend states them
// (LinearSolver::cost_all of the systems kfac_solve_shapes lists: per inverse refresh, or per
// Method 2 step). The time estimate comes after the first step (RunWatch): run time per
// circuit depends on the factor's spectrum and size, so it is measured, not predicted.
struct CircuitWork {
  std::string line;     // for the header
  std::string warning;  // non-empty when a factor is large
};

CircuitWork circuit_work(const std::string& label, const kf::Mlp& net, const kf::KfacOptions& k) {
  CircuitWork out;
  const std::vector<solver::SolveShape> shapes = kf::kfac_solve_shapes(net.weights(), k);
  const solver::SolveCost cost = solver::LinearSolver::create(k.solver)->cost_all(shapes);
  if (!cost.ngspice) return out;
  // The factor sizes: A and G of each layer, from the inverse refresh's systems (A, G per layer).
  kf::KfacOptions refresh = k;
  refresh.method = kf::KfacMethod::inverse;
  const std::vector<solver::SolveShape> factors = kf::kfac_solve_shapes(net.weights(), refresh);
  std::vector<long> a_dims, g_dims;
  long largest = 0;
  std::string largest_name;
  for (std::size_t i = 0; i < factors.size(); ++i) {
    const long n = factors[i].n;
    (i % 2 == 0 ? a_dims : g_dims).push_back(n);
    if (n > largest) {
      largest = n;
      largest_name = fmt::format("{} of layer {}", i % 2 == 0 ? 'A' : 'G', i / 2);
    }
  }
  const std::string sizes = fmt::format("factor sizes A {} and G {} (per layer)",
                                        fmt::join(a_dims, ","), fmt::join(g_dims, ","));
  if (k.method == kf::KfacMethod::inverse) {
    out.line = fmt::format(
        "circuit    {}: {}; {} circuit runs per inverse refresh ({}), a refresh every {} "
        "step{}, the first before step 1\n",
        label, sizes, cost.circuit_runs,
        cost.one_run_per_system ? std::string("one noisy run per factor")
        : cost.segments > 1
            ? fmt::format("{} independent noisy runs per factor, pooled", cost.segments)
            : std::string("one per factor column"),
        k.inverse_update_interval, k.inverse_update_interval == 1 ? "" : "s");
  } else {
    out.line = fmt::format(
        "circuit    {}: {}; {} circuit runs every step (Method 2: one per right-hand side)\n",
        label, sizes, cost.circuit_runs);
  }
  if (largest > 100) {
    out.warning = fmt::format(
        "tkfac: warning: {}: factor {} is {} x {}; each circuit run costs roughly n^3 (every "
        "node is coupled to every other, so each time step's LU factorization is dense), so "
        "expect a long wait before the first progress update\n",
        label, largest_name, largest, largest);
  }
  return out;
}

std::string duration_text(double s) {
  const long t = std::lround(s);
  if (t >= 3600) return fmt::format("{}h{:02}m{:02}s", t / 3600, (t / 60) % 60, t % 60);
  if (t >= 60) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{:.2g} s", s);
}

// One training run as the user watches it: its bar; for a K-FAC run whose solves make circuit
// runs, where it is in them (the bar's fraction and ETA follow the circuit work, which is
// nearly all of such a run's time) and the estimate of its length after the first step; and
// the records so far, for the log of an interrupted run.
class RunWatch {
 public:
  RunWatch(std::string label, long total, const StopSignals& stop, bool quiet)
      : label_(std::move(label)), total_(total), stop_(stop), quiet_(quiet) {
    partial_.label = label_;
  }

  // Before the run's first step: the bar starts, and a circuit K-FAC's solver reports to it.
  void begin(kf::Optimizer& optimizer) {
    bar_ = std::make_unique<ProgressBar>("train " + label_, total_);
    auto* kfac = dynamic_cast<kf::Kfac*>(&optimizer);
    if (kfac == nullptr) return;
    const kf::KfacOptions& k = kfac->options();
    // The solver calls this run makes: an inverse refresh at every optimizer step k with
    // k % interval == 0 (Method 1), two calls every step (Method 2).
    if (k.method == kf::KfacMethod::inverse) {
      const long s0 = kfac->steps(), interval = k.inverse_update_interval;
      const long first = (s0 + interval - 1) / interval;  // ceil(s0 / interval)
      const long last = (s0 + total_ - 1) / interval;     // floor((s0 + total - 1) / interval)
      calls_total_ = std::max(0L, last - first + 1);
      call_name_ = "refresh";
      calls_name_ = "refreshes";
    } else {
      calls_total_ = 2 * total_;
      call_name_ = "solve call";
      calls_name_ = "solve calls";
    }
    kfac->set_solve_progress([this](const solver::SolveProgress& p) { on_solve(p); });
  }

  // After each step (Trainer's callback). Throws Interrupted when a stop was asked for.
  void on_step(const kf::StepRecord& r) {
    partial_.records.push_back(r);
    last_loss_ = r.train_loss;
    if (!std::isnan(r.test_accuracy)) {
      test_acc_ = r.test_accuracy;
      test_step_ = r.step;
    }
    if (partial_.records.size() == 1) print_estimate(r);
    if (!std::isfinite(r.train_loss)) {
      throw TrainingDiverged(fmt::format(
          "{}: the training loss of step {} is {} (the weights overflowed; try a smaller "
          "learning rate)",
          label_, r.step, std::isnan(r.train_loss) ? "NaN" : "infinite"));
    }
    if (stop_.requested()) {
      stopped_in_step_ = false;
      throw Interrupted(stop_.requested());
    }
    if (r.step - first_step() + 1 >= total_) {
      bar_->finish(status());
    } else {
      bar_->update(steps_done(), status(), circuit_fraction());
    }
  }

  // After an interrupt: the History of the steps this run completed (all of them, or those
  // before the stop, whose bar then says so).
  kf::History history(const char* why = "interrupted") {
    if (bar_ && steps_done() < total_) {
      bar_->finish(fmt::format("{} ({})", status(), why), steps_done());
    }
    return partial();
  }
  // The History so far, the bar left running (periodic saves).
  kf::History partial() const {
    kf::History h = partial_;
    if (!h.records.empty()) {
      h.wall_seconds = h.records.back().wall_seconds;
      h.analog_seconds = h.records.back().analog_seconds_total;
      for (auto it = h.records.rbegin(); it != h.records.rend(); ++it) {
        if (!std::isnan(it->test_loss)) {
          h.final_test_loss = it->test_loss;
          h.final_test_accuracy = it->test_accuracy;
          break;
        }
      }
    }
    return h;
  }
  bool started() const { return bar_ != nullptr; }
  // A line above the bar (stdout unless --quiet).
  void note(const std::string& text) {
    if (!quiet_ && bar_) bar_->note(text);
  }
  long steps_done() const { return static_cast<long>(partial_.records.size()); }
  // Whether the stop came inside a step (its circuit solves), not between two steps.
  bool stopped_in_step() const { return stopped_in_step_; }
  std::string status() const {
    // Only measured values, each labelled: the last step's batch loss, and the test accuracy
    // with the step it was measured at (none before the first evaluation).
    std::string s;
    if (!std::isnan(last_loss_)) s = fmt::format("batch loss {:.4f}", last_loss_);
    if (!std::isnan(test_acc_)) {
      s += fmt::format("{}test acc {:.1f}% (step {})", s.empty() ? "" : " ", 100 * test_acc_,
                       test_step_);
    }
    if (in_call_) {
      s += fmt::format("{}{} {}/{}: circuit run {}/{}", s.empty() ? "" : " | ", call_name_, calls_done_ + 1,
                       calls_total_, call_.runs_done + 1, call_.runs_total);
      if (call_.run_fraction > 0) s += fmt::format(" {:.0f}%", 100 * call_.run_fraction);
    }
    return s;
  }

 private:
  long first_step() const {
    return partial_.records.empty() ? 1 : partial_.records.front().step;
  }
  double circuit_fraction() const {
    if (calls_total_ <= 0) return -1.0;
    double f = static_cast<double>(calls_done_);
    if (in_call_ && call_.runs_total > 0) {
      f += (static_cast<double>(call_.runs_done) + call_.run_fraction) /
           static_cast<double>(call_.runs_total);
    }
    return std::min(1.0, f / static_cast<double>(calls_total_));
  }
  void on_solve(const solver::SolveProgress& p) {
    if (p.runs_done == 0 && p.run_fraction == 0.0) in_call_ = true;
    call_ = p;
    if (p.runs_done >= p.runs_total) {
      in_call_ = false;
      ++calls_done_;
    }
    if (stop_.requested()) {
      stopped_in_step_ = true;
      throw Interrupted(stop_.requested());
    }
    bar_->update(steps_done(), status(), circuit_fraction());
  }
  // Extrapolates the first step, which made the run's first circuit call(s), to the run.
  void print_estimate(const kf::StepRecord& r) {
    if (quiet_ || calls_done_ == 0 || calls_total_ <= calls_done_) return;
    const double per_call = r.wall_seconds / static_cast<double>(calls_done_);
    bar_->note(fmt::format(
        "estimate   {}: about {} in all: {} {} at {} each, what the first step's {} took (the "
        "steps between them are digital and quick)\n",
        label_, duration_text(per_call * static_cast<double>(calls_total_)), calls_total_,
        calls_name_, duration_text(per_call), calls_done_ == 1 ? call_name_ : calls_name_));
  }

  std::string label_;
  long total_;
  const StopSignals& stop_;
  bool quiet_;
  std::unique_ptr<ProgressBar> bar_;
  kf::History partial_;
  double last_loss_ = std::nan(""), test_acc_ = std::nan("");
  long test_step_ = 0;
  long calls_total_ = 0, calls_done_ = 0;
  std::string call_name_, calls_name_;  // "refresh", "refreshes"
  bool in_call_ = false;
  solver::SolveProgress call_;
  bool stopped_in_step_ = false;
};

// "log x.csv, checkpoint y.json": the files a periodic save wrote.
std::string written_list(const std::string& log, const std::string& save) {
  std::string out;
  if (!log.empty()) out = "log " + log;
  if (!save.empty()) out += (out.empty() ? "" : ", ") + std::string("checkpoint ") + save;
  return out;
}

}  // namespace

void run_train(const TrainArgs& a, const std::function<bool(const char*)>& given) {
  // Cheap checks first: bad options and unwritable outputs fail before any data is read.
  if (!a.log.empty()) check_writable(a.log, "--log");
  if (!a.save.empty()) check_writable(a.save, "--save");
  if (!a.plot.empty()) check_plot_path(a.plot, "--plot");
  if (!a.compare.empty() && !a.save.empty()) {
    throw InputError("--save: not available with --compare (save one run at a time)");
  }
  if (a.save_every < 0) {
    throw InputError(fmt::format("--save-every: must be >= 0 (0: only at the end), got {}",
                                 a.save_every));
  }
  if (a.save_every > 0 && a.save.empty() && a.log.empty()) {
    throw InputError("--save-every: needs --save or --log (the files it writes)");
  }
  kf::DataOptions data;
  data.dataset = a.dataset;
  data.directory = a.data_dir;
  data.pool = a.pool;
  data.train_limit = a.train_limit;
  data.seed = a.seed;
  data.validate();
  if (given("--steps") && given("--epochs"))
    throw InputError("--steps and --epochs: give only one");
  // TrainOptions reads steps == 0 as "use --epochs" and the header reads a negative eval_every as
  // "default"; given explicitly, those values are mistakes, not requests for the default.
  if (given("--steps") && a.steps <= 0) {
    throw InputError(fmt::format("--steps: must be positive (or give --epochs), got {}", a.steps));
  }
  if (given("--eval-every") && a.eval_every < 0) {
    throw InputError(fmt::format("--eval-every: must be >= 0 (0: only after the last step), got {}",
                                 a.eval_every));
  }
  if (a.train_limit < 0) {
    throw InputError(fmt::format("--train-limit: must be >= 0 (0: all), got {}", a.train_limit));
  }
  const kf::Activation activation = kf::parse_activation(a.activation);

  std::optional<kf::Checkpoint> ckpt;
  if (!a.init.empty()) ckpt = kf::load_checkpoint(a.init, "--init");

  kf::OptimizerConfig cfg = ckpt ? ckpt->optimizer : kf::OptimizerConfig{};
  if (!ckpt || given("--optimizer")) cfg.name = a.optimizer;
  if (!ckpt) cfg.kfac.seed = a.seed;
  apply_optimizer_args(cfg, a, given);
  cfg.validate();
  std::vector<kf::RunSpec> runs;
  if (!a.compare.empty()) {
    runs = kf::parse_run_specs(a.compare, cfg, "--compare");
  } else {
    runs.push_back({cfg.name == "kfac" ? "kfac:" + cfg.kfac.solver.backend : cfg.name, cfg});
  }
  for (const auto& r : runs) r.optimizer.validate();

  kf::TrainOptions to;
  to.batch_size = a.batch_size;
  to.steps = a.steps;
  to.epochs = a.epochs;
  to.seed = a.seed;
  to.shuffle = !a.no_shuffle;
  to.eval_limit = a.eval_limit;
  to.eval_every = std::max(0L, a.eval_every);
  to.validate();

  // Data.
  kf::Data loaded = kf::load_data(data);
  kf::Dataset& train = loaded.train;
  kf::Dataset& test = loaded.test;

  // Network.
  std::vector<int> sizes = a.layers.empty() ? std::vector<int>{train.features(), 32, train.classes}
                                            : kf::parse_layer_sizes(a.layers);
  std::optional<kf::Mlp> net;
  if (ckpt) {
    if (given("--layers") && sizes != ckpt->net.sizes()) {
      throw InputError(fmt::format("--layers {}: the checkpoint --init '{}' has layers {}",
                                   a.layers, a.init, fmt::join(ckpt->net.sizes(), ",")));
    }
    if (given("--activation") && activation != ckpt->net.activation()) {
      throw InputError(fmt::format("--activation {}: the checkpoint --init '{}' uses {}",
                                   a.activation, a.init, kf::to_string(ckpt->net.activation())));
    }
    net = ckpt->net;
  } else {
    net = kf::Mlp(sizes, activation, a.seed);
  }
  if (net->input_size() != train.features() || net->output_size() != train.classes) {
    throw InputError(fmt::format(
        "--layers {}: the data set {} has {} features and {} classes, so the first size must be "
        "{} and the last {}",
        fmt::join(net->sizes(), ","), train.name, train.features(), train.classes, train.features(),
        train.classes));
  }
  if (to.batch_size > train.size()) {
    throw InputError(fmt::format("--batch-size: {} is larger than the training set ({} examples)",
                                 to.batch_size, train.size()));
  }
  const long per_epoch = train.size() / to.batch_size;
  const long total = to.steps > 0
                         ? to.steps
                         : std::max(1L, std::lround(to.epochs * static_cast<double>(per_epoch)));
  if (a.eval_every < 0) to.eval_every = std::max(1L, total / 20);

  if (!a.quiet) {
    std::cout << fmt::format("data       {} ({} examples), test {} ({} examples)\n", train.name,
                             train.size(), test.name, test.size())
              << fmt::format("network    {} {} ({} parameters){}\n", fmt::join(net->sizes(), "-"),
                             kf::to_string(net->activation()), net->num_parameters(),
                             ckpt ? fmt::format(", from {}", a.init) : "")
              << fmt::format(
                     "training   {} steps of batch {} ({:.3g} epochs), test every {} steps\n",
                     total, to.batch_size, static_cast<double>(total) / per_epoch, to.eval_every)
              << std::flush;  // before the progress bars on stderr
  }
  for (const auto& r : runs) {
    if (r.optimizer.name != "kfac") continue;
    const CircuitWork w = circuit_work(r.label, *net, r.optimizer.kfac);
    if (!a.quiet) std::cout << w.line << std::flush;
    std::cerr << w.warning << std::flush;  // even with --quiet: a long silence looks like a hang
  }

  std::vector<kf::History> histories;
  // Ctrl-C / SIGTERM from here on: stop after the step, or the circuit run, under way; write the
  // log and plot of the steps completed; exit 128 + signal (main).
  const StopSignals stop;
  int interrupted = 0;
  bool stopped_in_step = false, saved = false;
  std::string diverged;    // the message, when a run's loss stopped being finite
  long periodic_step = 0;  // the step of the last --save-every checkpoint
  const auto write_log = [&](const std::vector<kf::History>& hs) {
    write_file_atomically(a.log, "--log", [&](std::ostream& os) { kf::write_history_csv(os, hs); });
  };
  if (runs.size() == 1 && a.compare.empty()) {
    auto optimizer = kf::make_optimizer(cfg);
    // The checkpoint's optimizer and trainer state are checked only here, against the network
    // and data; their errors name the file.
    const auto from_checkpoint = [&](const auto& restore) {
      try {
        restore();
      } catch (const InputError& e) {
        throw InputError(fmt::format("--init '{}': {}", a.init, e.what()));
      }
    };
    if (ckpt && ckpt->optimizer.name == cfg.name)
      from_checkpoint([&] { optimizer->load_state(ckpt->optimizer_state, *net); });
    kf::Trainer trainer(*net, *optimizer, train, &test, to);
    if (ckpt) {
      kf::TrainerState s = ckpt->trainer;
      if (given(shared_flag("seed").c_str())) s.seed = to.seed;
      if (given("--no-shuffle")) s.shuffle = to.shuffle;
      if (given("--batch-size")) s.batch_size = to.batch_size;
      from_checkpoint([&] { trainer.set_state(s); });
    }
    RunWatch watch(runs[0].label, total, stop, a.quiet);
    try {
      watch.begin(*optimizer);
      kf::History h = trainer.run([&](const kf::StepRecord& r) {
        watch.on_step(r);
        // The update may overflow before a loss shows it (K-FAC then meets a NaN factor).
        for (const Eigen::MatrixXd& w : net->weights()) {
          if (!w.allFinite()) {
            throw TrainingDiverged(fmt::format(
                "{}: the weights after step {} are not finite (the update overflowed; try a "
                "smaller learning rate)",
                runs[0].label, r.step));
          }
        }
        if (a.save_every > 0 && watch.steps_done() % a.save_every == 0) {
          // Whole steps only, like the final save; the log first, then the checkpoint.
          if (!a.log.empty()) write_log({watch.partial()});
          if (!a.save.empty()) {
            kf::save_checkpoint(a.save, *net, cfg, *optimizer, trainer.state(), "--save");
            periodic_step = r.step;
          }
          watch.note(fmt::format("saved      after step {}: {}\n", r.step,
                                 written_list(a.log, a.save)));
        }
        return true;
      });
      h.label = runs[0].label;
      histories.push_back(std::move(h));
    } catch (const Interrupted& e) {
      interrupted = e.signal();
      histories.push_back(watch.history());
      stopped_in_step = watch.stopped_in_step();
    } catch (const TrainingDiverged& e) {
      diverged = e.what();
      histories.push_back(watch.history("diverged"));
    }
    // A checkpoint holds whole steps only: after an interrupted step's circuit solves the
    // optimizer has half of its update (factors moved, inverses not), so none is written then;
    // nor after a divergence (non-finite weights).
    if (!a.save.empty() && !(interrupted && stopped_in_step) && diverged.empty()) {
      kf::save_checkpoint(a.save, *net, cfg, *optimizer, trainer.state(), "--save");
      saved = true;
    }
  } else {
    std::vector<std::unique_ptr<RunWatch>> watches;
    for (const auto& r : runs)
      watches.push_back(std::make_unique<RunWatch>(r.label, total, stop, a.quiet));
    try {
      histories = kf::compare(
          *net, runs, train, &test, to,
          [&](std::size_t i, const kf::StepRecord& r) {
            watches[i]->on_step(r);
            if (a.save_every > 0 && !a.log.empty() && watches[i]->steps_done() % a.save_every == 0) {
              std::vector<kf::History> so_far;
              for (auto& w : watches) {
                if (w->started()) so_far.push_back(w->partial());
              }
              write_log(so_far);
              watches[i]->note(fmt::format("saved      {} after step {}: {}\n", runs[i].label,
                                           r.step, written_list(a.log, "")));
            }
            return true;
          },
          [&](std::size_t i, kf::Optimizer& o) { watches[i]->begin(o); });
    } catch (const Interrupted& e) {
      interrupted = e.signal();
      // The runs done, the one interrupted; those not started are left out.
      for (auto& w : watches) {
        if (w->started()) histories.push_back(w->history());
      }
    } catch (const TrainingDiverged& e) {
      diverged = e.what();
      for (auto& w : watches) {
        if (w->started()) histories.push_back(w->history("diverged"));
      }
    }
  }

  print_summary(histories);
  if (!a.log.empty()) {
    write_log(histories);
    std::cout << fmt::format("log written        {}\n", a.log);
  }
  if (!a.plot.empty()) {
    PlotOptions po;
    po.title = fmt::format("{} {} on {}", fmt::join(net->sizes(), "-"),
                           kf::to_string(net->activation()), train.name);
    write_plot(a.plot, history_panels(histories), po, "--plot");
    std::cout << fmt::format("plot written       {} (data and gnuplot script: {}.dat, {}.gp)\n",
                             a.plot, a.plot, a.plot);
  }
  if (saved) {
    std::cout << fmt::format("checkpoint written {}{}\n", a.save,
                             interrupted ? fmt::format(" (after step {})", histories[0].records.size())
                                         : "");
  }
  if (!diverged.empty()) {
    throw TrainingDiverged(fmt::format(
        "{}; {}", diverged,
        a.save.empty()         ? std::string("no checkpoint requested")
        : periodic_step > 0    ? fmt::format("--save '{}' holds the last periodic checkpoint, after "
                                             "step {}", a.save, periodic_step)
                               : fmt::format("no checkpoint written to --save '{}'", a.save)));
  }
  if (interrupted) {
    std::string done;
    for (const auto& h : histories) {
      done += fmt::format("{}{} {} of {} steps", done.empty() ? "" : ", ", h.label,
                          h.records.size(), total);
    }
    std::cout << fmt::format(
        "interrupted by {}: completed {}{}\n", interrupted == SIGTERM ? "SIGTERM" : "SIGINT",
        done.empty() ? "no steps" : done,
        !a.save.empty() && !saved
            ? fmt::format("; no checkpoint written at the stop (it came inside a step's circuit "
                          "solves){}",
                          periodic_step > 0
                              ? fmt::format("; --save holds the one after step {}", periodic_step)
                              : "")
            : "");
    throw Interrupted(interrupted);
  }
}

namespace {
// CLI11 2.1 reads "-1" into an unsigned option as 2^64 - 1 (strtoull); refuse the sign instead.
CLI::Validator non_negative_integer() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const auto first = text.find_first_not_of(" \t");
        if (first != std::string::npos && text[first] == '-')
          return "must be a non-negative integer, got " + text;
        return {};
      },
      "UINT");
}
}  // namespace

void add_train_options(CLI::App* cmd, TrainArgs* a) {
  cmd->add_option("--dataset", a->dataset, "fashion-mnist | synthetic")
      ->capture_default_str()
      ->group("Data");
  cmd->add_option("--data-dir", a->data_dir,
                  "Fashion-MNIST directory (package dataset-fashion-mnist)")
      ->capture_default_str()
      ->group("Data");
  cmd->add_option("--pool", a->pool,
                  "average-pool 28x28 images by 1, 2 or 4 (28, 14, 7 pixels a side)")
      ->capture_default_str()
      ->group("Data");
  cmd->add_option("--train-limit", a->train_limit,
                  "use only the first N training examples (0: all)")
      ->group("Data");
  cmd->add_option("--layers", a->layers,
                  "layer sizes, e.g. 49,32,10 (default: features,32,classes)")
      ->group("Network");
  cmd->add_option("--activation", a->activation, "tanh | relu")
      ->capture_default_str()
      ->group("Network");

  cmd->add_option("--optimizer", a->optimizer, "sgd | adam | adamw | kfac")
      ->capture_default_str()
      ->group("Optimizer");
  const std::string& lr = shared_flag("learning_rate");
  cmd->add_option(lr, a->lr,
                  "learning rate of every optimizer (defaults: sgd 0.01, adam 0.001, kfac 0.05)")
      ->group("Optimizer");
  cmd->add_option("--sgd-lr", a->sgd_lr, fmt::format("learning rate of sgd (overrides {})", lr))
      ->group("Optimizer");
  cmd->add_option("--adam-lr", a->adam_lr,
                  fmt::format("learning rate of adam/adamw (overrides {})", lr))
      ->group("Optimizer");
  cmd->add_option("--kfac-lr", a->kfac_lr, fmt::format("learning rate of kfac (overrides {})", lr))
      ->group("Optimizer");
  cmd->add_option(shared_flag("momentum"), a->momentum, "sgd and kfac momentum")
      ->capture_default_str()
      ->group("Optimizer");
  cmd->add_flag("--nesterov", a->nesterov, "sgd: Nesterov momentum")->group("Optimizer");
  cmd->add_option(shared_flag("weight_decay"), a->weight_decay,
                  "L2 (sgd, adam, kfac) or decoupled (adamw)")
      ->capture_default_str()
      ->group("Optimizer");
  cmd->add_option("--beta1", a->beta1, "adam")->capture_default_str()->group("Optimizer");
  cmd->add_option("--beta2", a->beta2, "adam")->capture_default_str()->group("Optimizer");
  cmd->add_option("--epsilon", a->epsilon, "adam")->capture_default_str()->group("Optimizer");

  add_table_options(cmd, kf::kfac_option_table(), a->kfac, "K-FAC");
  cmd->add_option("--solver", a->kfac.solver.backend,
                  "kfac: factor solver backend: cholesky | cg | spice ...")
      ->capture_default_str()
      ->group("Solver");
  add_table_options(cmd, solver::solver_option_table(), a->kfac.solver, "Solver");
  add_table_options(cmd, netlist_gen::netlist_option_table(), a->kfac.solver.netlist, "Circuit");
  // No --start: a warm start needs a start vector per system, which training has not.
  add_table_options(cmd, solver::thermo_option_table(), a->kfac.solver.thermo,
                    "Thermodynamic solves", {.only = {}, .except = {"start"}, .help = {}});

  cmd->add_option("--batch-size", a->batch_size, "examples per step")
      ->capture_default_str()
      ->group("Training");
  cmd->add_option("--steps", a->steps, "steps to run (instead of --epochs)")->group("Training");
  cmd->add_option("--epochs", a->epochs, "epochs to run")->capture_default_str()->group("Training");
  cmd->add_option(shared_flag("seed"), a->seed, "initialization, data order and Monte-Carlo labels")
      ->capture_default_str()
      ->check(non_negative_integer())
      ->group("Training");
  cmd->add_flag("--no-shuffle", a->no_shuffle, "visit the training data in file order every epoch")
      ->group("Training");
  cmd->add_option("--eval-every", a->eval_every,
                  "test-set evaluation every K steps (default: 20 times a run)")
      ->group("Training");
  cmd->add_option("--eval-limit", a->eval_limit,
                  "evaluate on the first N test examples only (0: all)")
      ->group("Training");

  cmd->add_option("--compare", a->compare,
                  "train several from the same start, e.g. adam,kfac:cholesky,kfac:spice")
      ->group("Output");
  output_file(cmd->add_option("--log", a->log, "per-step CSV log"))->group("Output");
  output_file(
      cmd->add_option("--plot", a->plot, "loss and accuracy against step and wall time (.png or .svg)"),
      OutputNames::plot)
      ->group("Output");
  output_file(cmd->add_option(
                  "--save", a->save,
                  "write a checkpoint (JSON) at the end, and every --save-every steps"))
      ->group("Output");
  cmd->add_option("--save-every", a->save_every,
                  "also write --log and --save every N steps (whole steps; 0: only at the end)")
      ->group("Output");
  input_file(cmd->add_option("--init", a->init,
                             "start from a checkpoint; optimizer options given here override its "
                             "own"))
      ->group("Output");
  cmd->add_flag("--quiet", a->quiet, "no header lines")->group("Output");
}

void register_train(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand(
      "train",
      "Train an MLP with sgd, adam, adamw or kfac (K-FAC factor solves through a LinearSolver "
      "backend: cholesky, cg, spice, ...); --compare several from the same start");
  add_train_options(cmd, a.get());
  // An option the command does not offer (train's --start) counts as not given.
  cmd->callback([a, cmd] {
    run_train(*a, [cmd](const char* name) {
      const CLI::Option* o = cmd->get_option_no_throw(name);
      return o != nullptr && o->count() > 0;
    });
  });
}

}  // namespace tkfac::cli
