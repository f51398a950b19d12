#pragma once
// `tkfac netlist --model FILE ...`: the netlist of one Kronecker factor of a trained network's
// layer, as K-FAC itself computes it for one batch (or from the EMA state of the checkpoint),
// damped as the optimizer damps it; `--all DIR` writes every factor of every layer with an index.
//
//   tkfac netlist --model run.json --layer 0 --factor A --encoding activation -o a0.cir
//   tkfac netlist --model run.json --layer 1 --factor G --rhs-column 3 --report --plot g1.svg
//   tkfac netlist --model run.json --all netlists/ --encoding integrator
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "netlist_options.hpp"

namespace tkfac::cli {

struct LayerArgs {
  std::string model;  // --model: a `tkfac train --save` checkpoint; empty: not layer mode
  int layer = -1;
  std::string factor;  // A | G
  bool from_ema = false;
  long rhs_column = -1;  // -1: no right-hand side
  std::string all_dir;
  bool report = false;
  std::string plot;
  // --export PREFIX: PREFIX_matrix.csv (the undamped factor), PREFIX_array.csv (its array, one
  // batch only), PREFIX_rhs.csv (with --rhs-column), for `tkfac solve` and other tools
  std::string export_prefix;
  // the batch, as `tkfac train` draws its first batch
  int batch_size = 64;
  std::string dataset = "fashion-mnist";
  std::string data_dir;
  int pool = 4;
  long train_limit = 0;
  std::uint64_t seed = 1;  // set from --seed (shared with the noise seed) when given
};

// Adds --model, --layer, --factor, --from-ema, --rhs-column, --all, --report, --plot,
// --batch-size, --dataset, --data-dir, --pool, --train-limit (group "Layer of a network").
void add_layer_options(CLI::App* cmd, LayerArgs* a);

// Runs layer mode; `output` is -o (empty: stdout). Bad input: InputError naming the option, and
// no output file or directory left behind.
void run_layer_netlist(const LayerArgs& a, const CircuitArgs& circuit, const std::string& output);

// `--activations FILE` (N x b CSV, M = a a^T / b): the netlist of (M + damping I) x = b in any
// encoding; the activation encoding never forms M.
std::string activation_file_netlist(const std::string& activations_path, const std::string& rhs_path,
                                    double damping, const CircuitArgs& circuit,
                                    const netlist_gen::RenderOptions& render = {});

}  // namespace tkfac::cli
