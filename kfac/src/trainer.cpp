#include "tkfac/kfac/trainer.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <ostream>

#include "json_util.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/core/work_budget.hpp"
#include "tkfac/kfac/loss.hpp"

namespace tkfac::kfac {

void TrainOptions::validate() const {
  if (batch_size < 1)
    throw InputError(fmt::format("--batch-size: must be positive, got {}", batch_size));
  if (steps < 0) throw InputError(fmt::format("--steps: must be >= 0, got {}", steps));
  if (steps == 0 && !(epochs > 0 && std::isfinite(epochs))) {
    throw InputError(fmt::format("--epochs: must be positive (or give --steps), got {}", epochs));
  }
  if (eval_every < 0)
    throw InputError(fmt::format("--eval-every: must be >= 0, got {}", eval_every));
  if (eval_limit < 0)
    throw InputError(fmt::format("--eval-limit: must be >= 0, got {}", eval_limit));
}

namespace {
std::string cell(double v) {
  return std::isnan(v) ? std::string() : fmt::format("{}", v);
}  // shortest round-trip form

// RFC 4180 quoting for a label that holds a comma, quote or line break.
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + '"';
}
}  // namespace

void write_history_csv(std::ostream& out, const std::vector<History>& histories) {
  out << "run,step,wall_seconds,analog_seconds,analog_seconds_total,train_loss,train_accuracy,"
         "test_loss,test_accuracy\n";
  for (const auto& h : histories) {
    for (const auto& r : h.records) {
      out << csv_field(h.label) << ',';
      out << r.step << ',' << cell(r.wall_seconds) << ',' << cell(r.analog_seconds) << ','
          << cell(r.analog_seconds_total) << ',' << cell(r.train_loss) << ','
          << cell(r.train_accuracy) << ',' << cell(r.test_loss) << ',' << cell(r.test_accuracy)
          << '\n';
    }
  }
}

Evaluation evaluate(const Mlp& net, const Dataset& data, long limit) {
  const long n = limit > 0 ? std::min(limit, data.size()) : data.size();
  Evaluation e;
  if (n == 0) return e;
  const long chunk = 2000;
  double loss = 0.0, acc = 0.0;
  for (long begin = 0; begin < n; begin += chunk) {
    const long count = std::min(chunk, n - begin);
    const Batch b = data.slice(begin, count);
    const Eigen::MatrixXd logits = net.forward(b.x);
    loss += softmax_cross_entropy(logits, b.y) * static_cast<double>(count);
    acc += accuracy(logits, b.y) * static_cast<double>(count);
  }
  e.loss = loss / static_cast<double>(n);
  e.accuracy = acc / static_cast<double>(n);
  return e;
}

nlohmann::json to_json(const TrainerState& s) {
  return {{"step", s.step}, {"epoch", s.epoch},     {"offset", s.offset},
          {"seed", s.seed}, {"shuffle", s.shuffle}, {"batch_size", s.batch_size}};
}

TrainerState trainer_state_from_json(const nlohmann::json& j) {
  const std::string what = "trainer state";
  TrainerState s;
  s.step = detail::get<long>(j, "step", what);
  s.epoch = detail::get<long>(j, "epoch", what);
  s.offset = detail::get<long>(j, "offset", what);
  s.seed = detail::get<std::uint64_t>(j, "seed", what);
  s.shuffle = detail::get<bool>(j, "shuffle", what);
  s.batch_size = detail::get<int>(j, "batch_size", what);
  if (s.step < 0 || s.epoch < 0 || s.offset < 0 || s.batch_size < 1) {
    throw InputError(what + ": negative step/epoch/offset or non-positive batch size");
  }
  return s;
}

std::vector<long> epoch_permutation(long n, std::uint64_t seed, long epoch) {
  std::vector<long> p(static_cast<std::size_t>(n));
  for (long i = 0; i < n; ++i) p[static_cast<std::size_t>(i)] = i;
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ULL + static_cast<std::uint64_t>(epoch) + 1);
  for (long i = n - 1; i > 0; --i) {
    const auto j = static_cast<long>(rng() % static_cast<std::uint64_t>(i + 1));
    std::swap(p[static_cast<std::size_t>(i)], p[static_cast<std::size_t>(j)]);
  }
  return p;
}

Trainer::Trainer(Mlp& net, Optimizer& optimizer, const Dataset& train, const Dataset* test,
                 TrainOptions options)
    : net_(net), optimizer_(optimizer), train_(train), test_(test), options_(options) {
  options_.validate();
  const auto check = [&](const Dataset& d, const char* which) {
    if (d.features() != net.input_size()) {
      throw InputError(fmt::format(
          "--layers: the network's input size {} does not match the {} set's {} features ({})",
          net.input_size(), which, d.features(), d.name));
    }
    if (d.classes != net.output_size()) {
      throw InputError(fmt::format(
          "--layers: the network's output size {} does not match the {} set's {} classes ({})",
          net.output_size(), which, d.classes, d.name));
    }
  };
  check(train, "training");
  if (test) check(*test, "test");
  if (options_.batch_size > train.size()) {
    throw InputError(fmt::format("--batch-size: {} is larger than the training set ({} examples)",
                                 options_.batch_size, train.size()));
  }
  state_.seed = options_.seed;
  state_.shuffle = options_.shuffle;
  state_.batch_size = options_.batch_size;
}

long Trainer::steps_per_epoch() const { return train_.size() / state_.batch_size; }

long Trainer::total_steps() const {
  if (options_.steps > 0) return options_.steps;
  return std::max(1L, std::lround(options_.epochs * static_cast<double>(steps_per_epoch())));
}

void Trainer::set_state(const TrainerState& s) {
  if (s.batch_size < 1 || s.batch_size > train_.size() || s.offset < 0 ||
      s.offset > train_.size() || s.step < 0 || s.epoch < 0) {
    throw InputError(fmt::format(
        "trainer state: position or batch size does not fit the training set (batch size {}, "
        "offset {}, {} examples)",
        s.batch_size, s.offset, train_.size()));
  }
  state_ = s;
  options_.batch_size = s.batch_size;
  order_epoch_ = -1;
}

const std::vector<long>& Trainer::epoch_order() {
  if (order_epoch_ != state_.epoch) {
    if (state_.shuffle) {
      order_ = epoch_permutation(train_.size(), state_.seed, state_.epoch);
    } else {
      order_.resize(static_cast<std::size_t>(train_.size()));
      for (long i = 0; i < train_.size(); ++i) order_[static_cast<std::size_t>(i)] = i;
    }
    order_epoch_ = state_.epoch;
  }
  return order_;
}

std::vector<long> Trainer::next_indices() {
  if (state_.offset + state_.batch_size > train_.size()) {
    ++state_.epoch;
    state_.offset = 0;
  }
  const auto& order = epoch_order();
  std::vector<long> idx(order.begin() + state_.offset,
                        order.begin() + state_.offset + state_.batch_size);
  state_.offset += state_.batch_size;
  return idx;
}

History Trainer::run(const StepCallback& callback, long steps) {
  History h;
  const long total = steps > 0 ? steps : total_steps();
  {
    // Issue 14 (runaway work): the digital work and memory of the run, before it starts. Per
    // step: forward and backward passes (~6 operations per weight and example); K-FAC adds its
    // factors (batch x (in^2 + out^2)) and their Cholesky inverses (~(in^3 + out^3) / 3 x 2), and
    // holds factors, inverses and copies (~4 of each). Factor solves through a circuit backend
    // are checked again per solve.
    const bool kfac = optimizer_.name() == "kfac";
    const double batch = static_cast<double>(options_.batch_size);
    double weights = 0.0, units = 0.0, factor_work = 0.0, factor_bytes = 0.0;
    const auto& sizes = net_.sizes();
    for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
      const double in = sizes[l] + 1.0, out = sizes[l + 1];
      weights += in * out;
      units += in + out;
      factor_work += batch * (in * in + out * out) + (in * in * in + out * out * out);
      factor_bytes += 4.0 * 8.0 * (in * in + out * out);
    }
    const double per_step = 6.0 * batch * weights + 1e4 + (kfac ? factor_work : 0.0);
    const double bytes = 8.0 * (4.0 * weights + 4.0 * batch * units) + (kfac ? factor_bytes : 0.0);
    check_work({fmt::format("train ({} steps of {})", total, optimizer_.name()),
                static_cast<double>(total), per_step, bytes,
                fmt::format("{:.3g} weights, batch {}", weights, options_.batch_size)});
  }
  const long eval_every = options_.eval_every;
  double wall = 0.0, analog = 0.0;
  for (long k = 0; k < total; ++k) {
    const auto t0 = std::chrono::steady_clock::now();
    const Batch batch = train_.batch(next_indices());
    const StepReport rep = optimizer_.step(net_, batch);
    ++state_.step;
    wall += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    analog += rep.analog_seconds;
    StepRecord r;
    r.step = state_.step;
    r.wall_seconds = wall;
    r.analog_seconds = rep.analog_seconds;
    r.analog_seconds_total = analog;
    r.train_loss = rep.loss;
    r.train_accuracy = rep.accuracy;
    r.converged = rep.converged;
    const bool last = k + 1 == total;
    if (test_ && test_->size() > 0 && (last || (eval_every > 0 && r.step % eval_every == 0))) {
      const Evaluation e = evaluate(net_, *test_, options_.eval_limit);
      r.test_loss = e.loss;
      r.test_accuracy = e.accuracy;
    }
    h.records.push_back(r);
    if (callback && !callback(r)) {
      h.stopped_early = !last;
      break;
    }
  }
  h.wall_seconds = wall;
  h.analog_seconds = analog;
  if (test_ && test_->size() > 0) {
    if (!h.records.empty() && !std::isnan(h.records.back().test_loss)) {
      h.final_test_loss = h.records.back().test_loss;
      h.final_test_accuracy = h.records.back().test_accuracy;
    } else {
      const Evaluation e = evaluate(net_, *test_, options_.eval_limit);
      h.final_test_loss = e.loss;
      h.final_test_accuracy = e.accuracy;
    }
  }
  return h;
}

std::vector<History> compare(const Mlp& init, const std::vector<RunSpec>& runs,
                             const Dataset& train, const Dataset* test, const TrainOptions& options,
                             const std::function<bool(std::size_t, const StepRecord&)>& callback,
                             const std::function<void(std::size_t, Optimizer&)>& prepare) {
  // Build every optimizer first so that a bad spec fails before any training.
  std::vector<std::unique_ptr<Optimizer>> optimizers;
  for (const auto& run : runs) optimizers.push_back(make_optimizer(run.optimizer));
  std::vector<History> out;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    Mlp net = init;
    Trainer trainer(net, *optimizers[i], train, test, options);
    if (prepare) prepare(i, *optimizers[i]);
    StepCallback cb;
    if (callback) cb = [&](const StepRecord& r) { return callback(i, r); };
    History h = trainer.run(cb);
    h.label = runs[i].label;
    out.push_back(std::move(h));
  }
  return out;
}

}  // namespace tkfac::kfac
