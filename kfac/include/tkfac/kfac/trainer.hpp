#pragma once
// The training loop: data order, evaluation, per-step history, callbacks; and comparisons of
// several optimizers from the same initialization and data order.
//
//   tkfac::kfac::Trainer trainer(net, *optimizer, train, &test, {.batch_size = 64, .steps = 500});
//   tkfac::kfac::History h = trainer.run([](const tkfac::kfac::StepRecord& r) {
//     std::cout << r.step << " " << r.train_loss << "\n";
//     return true;                                      // false stops early
//   });
//
// Data order: epoch e visits the training set in a permutation drawn from (seed, e) (identity
// with shuffle off); each step takes the next batch_size examples; an epoch's last partial batch
// is skipped. The position (epoch, offset) is part of the checkpoint.
#include <cmath>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <limits>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "tkfac/kfac/dataset.hpp"
#include "tkfac/kfac/mlp.hpp"
#include "tkfac/kfac/optimizer.hpp"
#include "tkfac/kfac/optimizer_factory.hpp"

namespace tkfac::kfac {

struct TrainOptions {
  int batch_size = 64;
  long steps = 0;       // steps to run; 0: use epochs
  double epochs = 1.0;  // used when steps == 0: round(epochs * steps per epoch)
  bool shuffle = true;
  std::uint64_t seed = 1;  // data order
  long eval_every = 0;     // evaluate on the test set every K steps (0: only after the last)
  long eval_limit = 0;     // > 0: evaluate on the first eval_limit test examples only
  void validate() const;   // throws InputError naming the option
};

struct StepRecord {
  long step = 0;                // 1-based count of steps taken, after this one
  double wall_seconds = 0.0;    // training wall time since the run started (no evaluation)
  double analog_seconds = 0.0;  // simulated circuit time of this step
  double analog_seconds_total = 0.0;
  double train_loss = 0.0;  // batch loss before the update
  double train_accuracy = 0.0;
  double test_loss = std::numeric_limits<double>::quiet_NaN();  // NaN: not evaluated this step
  double test_accuracy = std::numeric_limits<double>::quiet_NaN();
  bool converged = true;
};

struct History {
  std::string label;
  std::vector<StepRecord> records;
  double final_test_loss = std::numeric_limits<double>::quiet_NaN();
  double final_test_accuracy = std::numeric_limits<double>::quiet_NaN();
  double wall_seconds = 0.0;
  double analog_seconds = 0.0;
  bool stopped_early = false;
};

// Per-step CSV: run,step,wall_seconds,analog_seconds,analog_seconds_total,train_loss,
// train_accuracy,test_loss,test_accuracy (empty cells where not evaluated); `run` holds the
// History's label (quoted if it holds a comma), for one history as for several.
void write_history_csv(std::ostream& out, const std::vector<History>& histories);

struct Evaluation {
  double loss = 0.0;
  double accuracy = 0.0;
};
Evaluation evaluate(const Mlp& net, const Dataset& data, long limit = 0);

// Where the trainer is in the data; saved in checkpoints.
struct TrainerState {
  long step = 0;
  long epoch = 0;
  long offset = 0;  // examples of this epoch already used
  std::uint64_t seed = 1;
  bool shuffle = true;
  int batch_size = 64;
};
nlohmann::json to_json(const TrainerState& s);
TrainerState trainer_state_from_json(const nlohmann::json& j);  // InputError if malformed

// Returns false to stop training.
using StepCallback = std::function<bool(const StepRecord&)>;

class Trainer {
 public:
  // Validates options and that net, train and test fit (features, classes): InputError.
  Trainer(Mlp& net, Optimizer& optimizer, const Dataset& train, const Dataset* test,
          TrainOptions options);
  // Runs `steps` more steps (0: options.steps, or the epochs) from the current position.
  History run(const StepCallback& callback = {}, long steps = 0);
  long total_steps() const;  // of one run() call
  long steps_per_epoch() const;

  const TrainerState& state() const { return state_; }
  // Continue from a checkpoint's position (seed, shuffle and batch size come from `s`).
  void set_state(const TrainerState& s);
  // The indices of the next batch (advances the position).
  std::vector<long> next_indices();

 private:
  const std::vector<long>& epoch_order();
  Mlp& net_;
  Optimizer& optimizer_;
  const Dataset& train_;
  const Dataset* test_;
  TrainOptions options_;
  TrainerState state_;
  long order_epoch_ = -1;
  std::vector<long> order_;
};

// The permutation of 0..n-1 used in `epoch` (Fisher-Yates with rng() % (i+1) from a
// std::mt19937_64 seeded from seed and epoch: the same on every platform).
std::vector<long> epoch_permutation(long n, std::uint64_t seed, long epoch);

// Trains a copy of `init` with each run's optimizer, all with the same data order; the callback
// gets the run index (returning false stops that run; the next one starts). `prepare`, when
// given, sees each run's optimizer before its first step (e.g. to hook its solver's progress).
// Returns one History per run, labelled by RunSpec::label.
std::vector<History> compare(
    const Mlp& init, const std::vector<RunSpec>& runs, const Dataset& train, const Dataset* test,
    const TrainOptions& options,
    const std::function<bool(std::size_t, const StepRecord&)>& callback = {},
    const std::function<void(std::size_t, Optimizer&)>& prepare = {});

}  // namespace tkfac::kfac
