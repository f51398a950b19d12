#pragma once
// Checkpoints: network, optimizer (options and state, K-FAC factors included) and data position
// in one JSON file, so that loading and continuing reproduces the next step bit for bit.
//
//   tkfac::kfac::save_checkpoint("run.json", net, config, *optimizer, trainer.state());
//   tkfac::kfac::Checkpoint c = tkfac::kfac::load_checkpoint("run.json");
//   auto opt = tkfac::kfac::make_optimizer(c.optimizer);
//   opt->load_state(c.optimizer_state, c.net);
//
// Format (version 1):
//   { "format": "tkfac-checkpoint", "version": 1,
//     "architecture": { "layers": [49, 32, 10], "activation": "tanh" },
//     "parameters": [ <matrix W_bar_l>, ... ],       // n_out x (n_in+1), bias last column
//     "optimizer": { "config": { "name": "kfac", "kfac": {...options...} },
//                    "state": {...} },                // moments / factors / RNG / step count
//     "trainer": { "step", "epoch", "offset", "seed", "shuffle", "batch_size" } }
// A matrix is { "rows": r, "cols": c, "data": [row-major doubles] }. Doubles are written in
// the shortest form that reads back to the same bits; an RNG state is the text of
// `operator<<(std::mt19937_64)`.
#include <nlohmann/json.hpp>
#include <string>

#include "tkfac/kfac/mlp.hpp"
#include "tkfac/kfac/optimizer.hpp"
#include "tkfac/kfac/optimizer_factory.hpp"
#include "tkfac/kfac/trainer.hpp"

namespace tkfac::kfac {

struct Checkpoint {
  Mlp net;
  OptimizerConfig optimizer;
  nlohmann::json optimizer_state;
  TrainerState trainer;
};

nlohmann::json checkpoint_json(const Mlp& net, const OptimizerConfig& config,
                               const Optimizer& optimizer, const TrainerState& trainer);
// Written atomically (no partial file on error); `option` names the path in errors.
void save_checkpoint(const std::string& path, const Mlp& net, const OptimizerConfig& config,
                     const Optimizer& optimizer, const TrainerState& trainer,
                     const std::string& option = "--save");
// Throws InputError naming the file (and `option`) if it is missing, not JSON, or malformed.
Checkpoint load_checkpoint(const std::string& path, const std::string& option = "--init");
Checkpoint checkpoint_from_json(const nlohmann::json& j, const std::string& name);

}  // namespace tkfac::kfac
