#pragma once
// The options of `tkfac train`, shared with `tkfac demo` (which is train with other defaults).
#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <string>

#include "tkfac/solver/linear_solver.hpp"
#include "tkfac/kfac/adam.hpp"
#include "tkfac/kfac/dataset.hpp"
#include "tkfac/kfac/kfac_optimizer.hpp"
#include "tkfac/solver/linear_solver.hpp"

namespace tkfac::cli {

namespace kf = tkfac::kfac;

struct TrainArgs {
  // what to train
  std::string dataset = "fashion-mnist";
  std::string data_dir = kf::FashionMnistOptions{}.directory;
  int pool = 4;
  long train_limit = 0;
  std::string layers;  // empty: input from the data, 32 hidden, classes out
  std::string activation = "tanh";
  // how
  std::string optimizer = "kfac";
  double lr = 0, sgd_lr = 0, adam_lr = 0, kfac_lr = 0;
  double momentum = 0.0;
  bool nesterov = false;
  double weight_decay = 0.0;
  double beta1 = kf::AdamOptions{}.beta1, beta2 = kf::AdamOptions{}.beta2,
         epsilon = kf::AdamOptions{}.epsilon;
  // K-FAC, its solver, circuit and thermodynamic options, bound through their option tables
  // (the shared --lr, --momentum, --weight-decay and --seed above and below are not).
  kf::KfacOptions kfac;
  // loop
  int batch_size = 64;
  long steps = 0;
  double epochs = 1.0;
  std::uint64_t seed = 1;
  bool no_shuffle = false;
  long eval_every = -1;
  long eval_limit = 0;
  // outputs
  std::string compare, log, plot, save, init;
  long save_every = 0;  // also write the log and checkpoint every N steps (0: only at the end)
  bool quiet = false;
};

// Adds every train option to `cmd`, bound to `a` (whose current values are the defaults).
void add_train_options(CLI::App* cmd, TrainArgs* a);

// Trains as the options say. `given(name)` tells whether an option counts as set by the user
// (options not given keep the optimizer's defaults or, under --init, the checkpoint's values).
void run_train(const TrainArgs& a, const std::function<bool(const char*)>& given);

}  // namespace tkfac::cli
