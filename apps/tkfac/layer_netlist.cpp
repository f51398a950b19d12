#include "file_options.hpp"
#include "layer_netlist.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <Eigen/Eigenvalues>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "inputs.hpp"
#include "plot.hpp"
#include "tkfac/core/csv.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/core/output_file.hpp"
#include "tkfac/kfac/checkpoint.hpp"
#include "tkfac/kfac/dataset.hpp"
#include "tkfac/kfac/factor_system.hpp"
#include "tkfac/kfac/kfac_options.hpp"
#include "tkfac/netlist_gen/activation.hpp"
#include "tkfac/netlist_gen/encoding.hpp"
#include "tkfac/netlist_gen/netlist.hpp"
#include "tkfac/netlist_gen/report.hpp"

namespace tkfac::cli {
namespace {

namespace fs = std::filesystem;
namespace kf = tkfac::kfac;
namespace ng = tkfac::netlist_gen;

bool is_activation(const ng::NetlistOptions& o) { return o.encoding == ng::Encoding::activation; }

// Everything loaded once: the checkpoint and where its factors come from.
struct Problem {
  explicit Problem(kf::Checkpoint c) : ckpt(std::move(c)) {}
  std::string model;
  kf::Checkpoint ckpt;
  kf::FactorSource source;
  std::string batch_text;
};

Problem load_problem(const LayerArgs& a, kf::Checkpoint ckpt, bool need_batch) {
  Problem p(std::move(ckpt));
  p.model = a.model;
  if (a.from_ema && p.ckpt.optimizer.name != "kfac") {
    throw InputError(fmt::format(
        "--from-ema: the checkpoint --model '{}' was trained with '{}', which keeps no K-FAC "
        "factors (expected a K-FAC checkpoint, or drop --from-ema to use a batch)",
        a.model, p.ckpt.optimizer.name));
  }
  p.source = kf::factor_source(p.ckpt, a.from_ema);
  if (a.from_ema && (p.source.ema.empty() || p.source.ema.front().a.trace() == 0.0)) {
    throw InputError(fmt::format(
        "--from-ema: the checkpoint --model '{}' holds no factor estimates yet (0 steps)",
        a.model));
  }
  if (!need_batch) return p;
  if (a.batch_size < 1) {
    throw InputError(fmt::format("--batch-size: {} is not a positive batch size", a.batch_size));
  }
  kf::DataOptions d;
  d.dataset = a.dataset;
  if (!a.data_dir.empty()) d.directory = a.data_dir;
  d.pool = a.pool;
  d.train_limit = a.train_limit;
  d.seed = a.seed;
  const kf::Data data = kf::load_data(d, false);
  const kf::Dataset& train = data.train;
  const std::string& data_text = data.description;
  const kf::Mlp& net = p.ckpt.net;
  if (train.features() != net.input_size()) {
    throw InputError(fmt::format(
        "--model '{}': the network takes {} inputs, but the data set ({}) has {} features "
        "(expected the data the network was trained on: check --dataset and --pool)",
        a.model, net.input_size(), data_text, train.features()));
  }
  if (train.classes != net.output_size()) {
    throw InputError(fmt::format(
        "--model '{}': the network has {} outputs, but the data set ({}) has {} classes",
        a.model, net.output_size(), data_text, train.classes));
  }
  if (a.batch_size > train.size()) {
    throw InputError(fmt::format("--batch-size: {} is larger than the data set ({}: {} examples)",
                                 a.batch_size, data_text, train.size()));
  }
  kf::add_batch(p.source, net, kf::first_batch(train, a.batch_size, a.seed));
  p.batch_text =
      fmt::format("batch of {} ({}; the first batch of `tkfac train {} {}`)", a.batch_size,
                  data_text, tkfac::options::flag_of(kf::kfac_option_table(), "seed"), a.seed);
  return p;
}

// One factor of one layer, ready for netlist_gen.
struct FactorProblem {
  int layer = 0;
  char factor = 'A';
  kf::FactorSystem system;
  Eigen::VectorXd rhs;                  // empty: none
  std::vector<std::string> provenance;  // header lines
};

FactorProblem factor_problem(const Problem& p, int layer, kf::Factor factor, long rhs_column,
                             bool from_ema) {
  const kf::Mlp& net = p.ckpt.net;
  const auto l = static_cast<std::size_t>(layer);
  const kf::KfacOptions& kfac = p.source.options;
  FactorProblem f;
  f.layer = layer;
  f.factor = kf::factor_letter(factor);
  f.system = kf::factor_system(p.source, layer, factor, rhs_column >= 0);
  const kf::FactorSystem& s = f.system;
  const int n_in = net.sizes()[l], n_out = net.sizes()[l + 1];
  const bool folded = kfac.bias == kf::BiasMode::folded;
  auto& h = f.provenance;
  h.push_back(fmt::format("Source: checkpoint {}, layer {} ({} -> {}, {}), factor {}", p.model,
                          layer, n_in, n_out, kf::to_string(net.activation()), f.factor));
  if (factor == kf::Factor::a) {
    h.push_back(fmt::format("  A = E[a a^T] over the layer's inputs a{} ({} x {})",
                            folded ? " with the ones entry (bias folded)" : " (bias separate)",
                            s.matrix.rows(), s.matrix.cols()));
  } else {
    h.push_back(fmt::format("  G = E[g g^T], g = b dL/ds per example ({} Fisher, {} x {})",
                            kf::to_string(kfac.fisher), s.matrix.rows(), s.matrix.cols()));
  }
  h.push_back(from_ema
                  ? fmt::format("  from the optimizer's EMA state in the checkpoint (beta = {})",
                                kfac.ema_decay)
                  : "  from one " + p.batch_text);
  h.push_back(fmt::format("Damping as the optimizer damps it: {} scheme, lambda = {:.6g}:",
                          kf::to_string(kfac.damping_scheme), kfac.damping));
  h.push_back(fmt::format("  lambda_A = {:.17g}, lambda_G = {:.17g}; this netlist uses lambda_{}",
                          s.lambda_a, s.lambda_g, f.factor));
  if (rhs_column < 0) {
    h.push_back("Right-hand side: none (inputs at zero; set --rhs-column)");
    return f;
  }
  if (rhs_column >= s.rhs.cols()) {
    throw InputError(
        factor == kf::Factor::g
            ? fmt::format("--rhs-column: {} is out of range for factor G of layer {}: expected "
                          "0..{} (a column of the gradient dW_bar, n_in + 1 = {} columns)",
                          rhs_column, layer, s.rhs.cols() - 1, s.rhs.cols())
            : fmt::format("--rhs-column: {} is out of range for factor A of layer {}: expected "
                          "0..{} (a row of X = (G + lambda_G I)^-1 dW_bar, n_out = {} rows)",
                          rhs_column, layer, s.rhs.cols() - 1, s.rhs.cols()));
  }
  f.rhs = s.rhs.col(rhs_column);
  if (factor == kf::Factor::g) {
    h.push_back(fmt::format(
        "Right-hand side: column {} of dW_bar (Method 2's first solve (G + lambda_G I) X = dW_bar)",
        rhs_column));
  } else {
    h.push_back(fmt::format(
        "Right-hand side: row {} of X = (G + lambda_G I)^-1 dW_bar (Cholesky), Method 2's second",
        rhs_column));
    h.push_back("  solve (A + lambda_A I) U^T = X^T: the solution is row " +
                std::to_string(rhs_column) + " of the preconditioned update U");
  }
  return f;
}

ng::Netlist build(const FactorProblem& p, const ng::NetlistOptions& c) {
  ng::NetlistOptions o = c;
  o.damping = p.system.damping;
  ng::Netlist nl = is_activation(o) ? ng::make_activation_netlist(p.system.array, p.rhs, o)
                                    : ng::make_netlist(p.system.matrix, p.rhs, o);
  // Where the matrix came from, after the first header line.
  std::vector<std::string> lines = p.provenance;
  lines.push_back("");
  nl.header.insert(nl.header.begin() + 2, lines.begin(), lines.end());
  return nl;
}

std::string factor_file_name(int layer, char factor, const std::string& encoding) {
  return fmt::format("layer{}_{}_{}.cir", layer, factor, encoding);
}

// The plot: signed conductances g0 m_hat_ij (or, for the activation encoding, the first array's
// g0 F_ik) beside the eigenvalues of M_hat.
void write_factor_plot(const std::string& path, const FactorProblem& f, const ng::Netlist& nl,
                       bool activation) {
  const double g0 = 1.0 / nl.summary.resistance;
  const double s_m = nl.summary.matrix_scale;
  PlotPanel heat;
  Eigen::MatrixXd shown;
  if (activation) {
    shown = g0 * f.system.array / std::sqrt(static_cast<double>(f.system.array.cols()) * s_m);
    heat.title = fmt::format("layer {} factor {}: first array g0 F_ik (S), N x b", f.layer, f.factor);
    heat.xlabel = "example k";
    heat.ylabel = "unknown i";
  } else {
    shown = f.system.matrix;
    shown.diagonal().array() += f.system.damping;
    shown *= g0 / s_m;
    heat.title = fmt::format("layer {} factor {}: conductances g0 m_hat_ij (S)", f.layer, f.factor);
    heat.xlabel = "column j";
    heat.ylabel = "row i";
  }
  heat.heatmap_rows = static_cast<int>(shown.rows());
  heat.heatmap_cols = static_cast<int>(shown.cols());
  for (Eigen::Index i = 0; i < shown.rows(); ++i)
    for (Eigen::Index j = 0; j < shown.cols(); ++j) heat.heatmap.push_back(shown(i, j));
  Eigen::MatrixXd damped = f.system.matrix;
  damped.diagonal().array() += f.system.damping;
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(damped / s_m, Eigen::EigenvaluesOnly);
  PlotPanel spectrum;
  spectrum.title =
      fmt::format("eigenvalues alpha_k of M_hat (kappa = {:.3g})", nl.summary.condition_number);
  spectrum.xlabel = "k";
  spectrum.ylabel = "alpha_k";
  spectrum.log_y = true;
  spectrum.key = "bottom right";
  PlotSeries s;
  s.label = "alpha_k";
  for (Eigen::Index k = 0; k < eig.eigenvalues().size(); ++k) {
    s.x.push_back(static_cast<double>(k));
    s.y.push_back(eig.eigenvalues()(k));
  }
  spectrum.series.push_back(s);
  PlotOptions po;
  po.title = fmt::format("{} encoding, n = {}, tau = {:.3g} s", nl.encoding, nl.summary.size,
                         nl.summary.predicted_tau);
  po.columns = 2;
  write_plot(path, {heat, spectrum}, po, "--plot");
}

nlohmann::json index_entry(int layer, char factor, const ng::Netlist& nl, const std::string& file) {
  const ng::HardwareReport r = ng::hardware_report(nl);
  return {{"layer", layer},
          {"factor", std::string(1, factor)},
          {"size", nl.summary.size},
          {"encoding", nl.encoding},
          {"resistors", r.counts.resistors},
          {"capacitors", r.counts.capacitors},
          {"amplifiers", r.counts.amplifiers},
          {"controlled_sources", r.counts.controlled_sources},
          {"sources", r.counts.sources},
          {"elements", r.elements},
          {"min_resistance", r.min_resistance},
          {"max_resistance", r.max_resistance},
          {"dynamic_range_bits", r.dynamic_range_bits},
          {"damping", nl.summary.damping},
          {"condition_number", nl.summary.condition_number},
          {"predicted_tau", nl.summary.predicted_tau},
          {"sim_time", nl.summary.sim_time},
          {"file", file}};
}

void write_all(const LayerArgs& a, const Problem& p, const ng::NetlistOptions& c) {
  const fs::path dir(a.all_dir);
  // Another process (MPI rank 0) writes and checks them: it may have written them already.
  if (!file_output()) return;
  std::error_code ec;
  if (fs::exists(dir, ec) && !(fs::is_directory(dir, ec) && fs::is_empty(dir, ec))) {
    throw InputError(fmt::format(
        "--all '{}': exists and is not an empty directory (expected a new or empty directory)",
        a.all_dir));
  }
  const fs::path parent = fs::absolute(dir).parent_path();
  // A stop (Ctrl-C) waits until the directory is in place or removed: none is left half-made.
  const HoldStopSignals hold;
  std::random_device rd;
  const fs::path tmp = parent / fmt::format(".{}.tmp-{:08x}", dir.filename().string(), rd());
  if (!fs::create_directory(tmp, ec) || ec) {
    throw InputError(fmt::format("--all '{}': cannot create a directory in '{}': {}", a.all_dir,
                                 parent.string(), ec ? ec.message() : "it exists"));
  }
  try {
    nlohmann::json index = nlohmann::json::array();
    std::string csv =
        "layer,factor,size,encoding,resistors,capacitors,amplifiers,controlled_sources,sources,"
        "elements,min_resistance,max_resistance,dynamic_range_bits,damping,condition_number,"
        "predicted_tau,sim_time,file\n";
    for (int l = 0; l < p.ckpt.net.num_layers(); ++l) {
      for (const kf::Factor kind : {kf::Factor::a, kf::Factor::g}) {
        const char factor = kf::factor_letter(kind);
        const FactorProblem f = factor_problem(p, l, kind, -1, a.from_ema);
        const ng::Netlist nl = build(f, c);
        const std::string file =
            factor_file_name(l, factor, std::string(ng::to_string(c.encoding)));
        write_file_atomically((tmp / file).string(), "--all",
                              [&](std::ostream& os) { os << ng::to_spice(nl); });
        const nlohmann::json e = index_entry(l, factor, nl, file);
        index.push_back(e);
        csv += fmt::format("{},{},{},{},{},{},{},{},{},{},{:.17g},{:.17g},{:.6g},{:.17g},{:.6g},{:.6g},{:.6g},{}\n",
                           l, factor, nl.summary.size, nl.encoding, e["resistors"].get<int>(),
                           e["capacitors"].get<int>(), e["amplifiers"].get<int>(),
                           e["controlled_sources"].get<int>(), e["sources"].get<int>(),
                           e["elements"].get<int>(), e["min_resistance"].get<double>(),
                           e["max_resistance"].get<double>(),
                           e["dynamic_range_bits"].get<double>(), nl.summary.damping,
                           nl.summary.condition_number, nl.summary.predicted_tau,
                           nl.summary.sim_time, file);
      }
    }
    write_file_atomically((tmp / "index.csv").string(), "--all",
                          [&](std::ostream& os) { os << csv; });
    const nlohmann::json doc = {{"model", a.model},
                                {"source", a.from_ema ? std::string("ema") : p.batch_text},
                                {"netlists", index}};
    write_file_atomically((tmp / "index.json").string(), "--all",
                          [&](std::ostream& os) { os << doc.dump(2) << "\n"; });
    if (fs::exists(dir, ec)) fs::remove(dir, ec);  // empty (checked above)
    fs::rename(tmp, dir, ec);
    if (ec) {
      throw InputError(
          fmt::format("--all '{}': cannot move the finished directory in place: {}", a.all_dir,
                      ec.message()));
    }
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  std::cout << fmt::format("wrote {} netlists, index.csv and index.json to {}\n",
                           2 * p.ckpt.net.num_layers(), a.all_dir);
}

}  // namespace

void add_layer_options(CLI::App* cmd, LayerArgs* a) {
  const std::string g = "Layer of a network (instead of --matrix)";
  input_file(cmd->add_option("--model", a->model, "checkpoint written by `tkfac train --save`"))
      ->group(g);
  cmd->add_option("--layer", a->layer, "layer index K (0 = first)")->group(g);
  cmd->add_option("--factor", a->factor, "Kronecker factor: A (inputs) or G (output gradients)")
      ->group(g);
  cmd->add_flag("--from-ema", a->from_ema,
                "use the EMA factors stored in the checkpoint instead of one batch")
      ->group(g);
  cmd->add_option("--rhs-column", a->rhs_column,
                  "right-hand side from the layer's gradient: G: column J of dW_bar; A: row J of "
                  "(G + lambda_G I)^-1 dW_bar (default: none)")
      ->group(g);
  output_file(cmd->add_option("--all", a->all_dir,
                  "write every factor of every layer into this new directory, with index.csv "
                  "and index.json"),
              OutputNames::directory)
      ->group(g);
  cmd->add_flag("--report", a->report,
                "print the hardware report (components, resistance range, tau, analog time)")
      ->group(g);
  output_file(cmd->add_option("--plot", a->plot,
                  "figure (.svg or .png): signed conductance heatmap and eigenvalue spectrum"),
              OutputNames::plot)
      ->group(g);
  output_file(cmd->add_option("--export", a->export_prefix,
                  "also write PREFIX_matrix.csv (undamped factor), PREFIX_array.csv and "
                  "PREFIX_rhs.csv (for tkfac solve; the damping is in the netlist header)"),
              OutputNames::prefix)
      ->group(g);
  cmd->add_option("--batch-size", a->batch_size, "examples in the batch")
      ->capture_default_str()
      ->group(g);
  cmd->add_option("--dataset", a->dataset, "fashion-mnist | synthetic")
      ->capture_default_str()
      ->group(g);
  cmd->add_option("--data-dir", a->data_dir,
                  "Fashion-MNIST directory (default: the dataset-fashion-mnist package's)")
      ->group(g);
  cmd->add_option("--pool", a->pool, "Fashion-MNIST average pooling 1, 2 or 4")
      ->capture_default_str()
      ->group(g);
  cmd->add_option("--train-limit", a->train_limit, "use only the first N training examples")
      ->group(g);
}

void run_layer_netlist(const LayerArgs& a, const CircuitArgs& circuit, const std::string& output) {
  // Cheap checks first: nothing is read or written before the options make sense.
  const ng::NetlistOptions c = circuit.resolve();
  const bool all = !a.all_dir.empty();
  if (all && (a.layer >= 0 || !a.factor.empty())) {
    throw InputError("--all: writes every layer and factor; drop --layer and --factor");
  }
  if (all && !output.empty()) throw InputError("--all: writes a directory; drop --output");
  if (all && a.rhs_column >= 0) {
    throw InputError("--rhs-column: not available with --all (each factor has its own size)");
  }
  if (all && !a.plot.empty()) throw InputError("--plot: not available with --all");
  if (is_activation(c) && a.from_ema) {
    throw InputError(fmt::format(
        "{} activation: not available with --from-ema (an EMA of factors has no "
        "activation arrays); expected a single batch (drop --from-ema) or another encoding",
        tkfac::options::flag_of(netlist_gen::netlist_option_table(), "encoding")));
  }
  kf::Factor kind = kf::Factor::a;
  if (!all) {
    if (a.layer < 0) throw InputError("--layer: required with --model (or use --all DIR)");
    if (a.factor.empty()) throw InputError("--factor: required with --model (A or G)");
    kind = kf::parse_factor(a.factor);
  }
  if (a.rhs_column < -1) {
    throw InputError(fmt::format("--rhs-column: {} is negative (expected a column index)",
                                 a.rhs_column));
  }
  if (!output.empty()) check_writable(output, "--output");
  if (!a.plot.empty()) check_plot_path(a.plot, "--plot");
  if (!a.export_prefix.empty()) {
    if (all) throw InputError("--export: not available with --all");
    check_writable(a.export_prefix + "_matrix.csv", "--export");
  }
  if (all) {
    const fs::path parent = fs::absolute(fs::path(a.all_dir)).parent_path();
    std::error_code ec;
    if (!fs::is_directory(parent, ec)) {
      throw InputError(fmt::format("--all '{}': the parent directory '{}' does not exist",
                                   a.all_dir, parent.string()));
    }
  }

  const bool need_batch = !a.from_ema || a.rhs_column >= 0;
  // Layer range before the data is read.
  kf::Checkpoint ckpt = kf::load_checkpoint(a.model, "--model");
  if (!all && a.layer >= ckpt.net.num_layers()) {
    throw InputError(fmt::format(
        "--layer: {} is out of range: the network in '{}' has {} layers (expected 0..{})",
        a.layer, a.model, ckpt.net.num_layers(), ckpt.net.num_layers() - 1));
  }
  const Problem p = load_problem(a, std::move(ckpt), need_batch);
  if (all) {
    write_all(a, p, c);
    return;
  }
  const char factor = kf::factor_letter(kind);
  const FactorProblem f = factor_problem(p, a.layer, kind, a.rhs_column, a.from_ema);
  const ng::Netlist nl = build(f, c);
  const std::string text = ng::to_spice(nl);
  if (!a.plot.empty()) write_factor_plot(a.plot, f, nl, is_activation(c));
  if (!a.export_prefix.empty()) {
    const auto csv = [&](const std::string& suffix, const Eigen::MatrixXd& m) {
      write_file_atomically(a.export_prefix + suffix, "--export",
                            [&](std::ostream& os) { write_csv_matrix(os, m); });
    };
    csv("_matrix.csv", f.system.matrix);
    if (f.system.array.size() != 0) csv("_array.csv", f.system.array);
    if (f.rhs.size() != 0) csv("_rhs.csv", f.rhs);
    std::cerr << fmt::format("exported {}_matrix.csv{}{} (damping lambda_{} = {:.17g})\n",
                             a.export_prefix, f.system.array.size() ? ", _array.csv" : "",
                             f.rhs.size() ? ", _rhs.csv" : "", factor, f.system.damping);
  }
  if (!output.empty()) {
    write_file_atomically(output, "--output", [&](std::ostream& os) { os << text; });
  } else if (!a.report) {
    std::cout << text;
  }
  if (a.report) {
    std::cout << fmt::format("Hardware report: layer {} factor {} of {}\n", a.layer, factor,
                             a.model);
    for (const std::string& line : ng::report_lines(ng::hardware_report(nl))) {
      std::cout << line << "\n";
    }
    std::cout << fmt::format("  damping {:.6g}, condition number {:.6g}\n", nl.summary.damping,
                             nl.summary.condition_number);
  }
}

std::string activation_file_netlist(const std::string& activations_path,
                                    const std::string& rhs_path, double damping,
                                    const CircuitArgs& circuit, const ng::RenderOptions& render) {
  ng::NetlistOptions o = circuit.resolve();
  const Eigen::MatrixXd a = read_csv_matrix(activations_path);
  ng::validate_activations(a, damping, activations_path);
  Eigen::VectorXd b;
  if (!rhs_path.empty()) {
    const Eigen::MatrixXd bm = read_rhs(rhs_path, a.rows(), activations_path);
    if (bm.cols() != 1) {
      throw InputError(fmt::format(
          "{}: has {} columns; a netlist takes one right-hand side (one value per line)",
          rhs_path, bm.cols()));
    }
    b = bm.col(0);
  }
  o.damping = damping;
  if (is_activation(o)) return ng::to_spice(ng::make_activation_netlist(a, b, o), render);
  // Other encodings need the matrix itself.
  return ng::to_spice(ng::make_netlist(ng::activation_matrix(a), b, o), render);
}

}  // namespace tkfac::cli
