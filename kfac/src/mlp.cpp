#include "tkfac/kfac/mlp.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <charconv>
#include <cmath>
#include <random>

#include "tkfac/core/error.hpp"
#include "tkfac/core/numbers.hpp"
#include "tkfac/core/text.hpp"

namespace tkfac::kfac {

Activation parse_activation(std::string_view text, std::string_view option) {
  if (text == "tanh") return Activation::tanh;
  if (text == "relu") return Activation::relu;
  throw InputError(
      fmt::format("{}: unknown activation '{}' (expected tanh or relu)", option, text));
}

std::string_view to_string(Activation activation) {
  return activation == Activation::tanh ? "tanh" : "relu";
}

std::vector<int> parse_layer_sizes(std::string_view text, std::string_view option) {
  std::vector<int> sizes;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find(',', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view item = text.substr(pos, end - pos);
    sizes.push_back(parse_integer<int>(
        item, 1, kMaxLayerSize,
        fmt::format("{} '{}': expected comma-separated layer sizes such as 49,32,10; item",
                    option, printable_text(text))));
    pos = end + 1;
  }
  if (sizes.size() < 2) {
    throw InputError(
        fmt::format("{} '{}': need at least an input and an output size", option, text));
  }
  return sizes;
}

namespace {
void check_sizes(const std::vector<int>& sizes) {
  if (sizes.size() < 2) throw InputError("network: need at least an input and an output size");
  for (int s : sizes) {
    if (s <= 0 || s > kMaxLayerSize)
      throw InputError(fmt::format("network: layer sizes must be in [1, {}], got {}",
                                   kMaxLayerSize, fmt::join(sizes, ",")));
  }
}
}  // namespace

Mlp::Mlp(std::vector<int> sizes, Activation activation, std::uint64_t seed)
    : sizes_(std::move(sizes)), activation_(activation) {
  check_sizes(sizes_);
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  for (std::size_t l = 0; l + 1 < sizes_.size(); ++l) {
    const int n_in = sizes_[l], n_out = sizes_[l + 1];
    // Glorot (tanh) keeps activations' variance across layers; He (ReLU) accounts for the half
    // of the units that are off.
    const double stddev =
        activation_ == Activation::tanh ? std::sqrt(2.0 / (n_in + n_out)) : std::sqrt(2.0 / n_in);
    Eigen::MatrixXd w = Eigen::MatrixXd::Zero(n_out, n_in + 1);
    for (int i = 0; i < n_out; ++i)
      for (int j = 0; j < n_in; ++j) w(i, j) = stddev * normal(rng);
    weights_.push_back(std::move(w));
  }
}

Mlp::Mlp(std::vector<int> sizes, Activation activation, std::vector<Eigen::MatrixXd> weights)
    : sizes_(std::move(sizes)), activation_(activation), weights_(std::move(weights)) {
  check_sizes(sizes_);
  if (weights_.size() + 1 != sizes_.size()) {
    throw InputError(fmt::format("network: {} weight matrices for {} layers", weights_.size(),
                                 sizes_.size() - 1));
  }
  for (std::size_t l = 0; l < weights_.size(); ++l) {
    if (weights_[l].rows() != sizes_[l + 1] || weights_[l].cols() != sizes_[l] + 1) {
      throw InputError(fmt::format("network: layer {} parameters are {} x {}, expected {} x {}", l,
                                   weights_[l].rows(), weights_[l].cols(), sizes_[l + 1],
                                   sizes_[l] + 1));
    }
  }
}

long Mlp::num_parameters() const {
  long n = 0;
  for (const auto& w : weights_) n += static_cast<long>(w.size());
  return n;
}

Eigen::MatrixXd Mlp::forward(const Eigen::MatrixXd& x, ForwardCache* cache) const {
  if (x.rows() != input_size()) {
    throw InputError(fmt::format("network: input has {} features, the first layer expects {}",
                                 x.rows(), input_size()));
  }
  if (cache) {
    cache->inputs.resize(weights_.size());
    cache->pre.resize(weights_.size());
  }
  Eigen::MatrixXd a = x;
  for (std::size_t l = 0; l < weights_.size(); ++l) {
    const auto& w = weights_[l];
    const Eigen::Index n_in = w.cols() - 1;
    Eigen::MatrixXd s = w.leftCols(n_in) * a;
    s.colwise() += w.col(n_in);
    if (cache) cache->inputs[l] = a;
    if (l + 1 == weights_.size()) {
      if (cache) cache->pre[l] = s;
      return s;
    }
    if (activation_ == Activation::tanh) {
      a = s.array().tanh().matrix();
    } else {
      a = s.cwiseMax(0.0);
    }
    if (cache) cache->pre[l] = std::move(s);
  }
  return a;  // unreachable: at least one layer
}

Backward Mlp::backward(const ForwardCache& cache, const Eigen::MatrixXd& dlogits,
                       bool param_grads) const {
  const std::size_t n = weights_.size();
  Backward out;
  out.output_grads.resize(n);
  if (param_grads) out.grads.resize(n);
  Eigen::MatrixXd ds = dlogits;
  for (std::size_t l = n; l-- > 0;) {
    const auto& w = weights_[l];
    const Eigen::Index n_in = w.cols() - 1;
    if (param_grads) {
      Eigen::MatrixXd g(w.rows(), w.cols());
      g.leftCols(n_in).noalias() = ds * cache.inputs[l].transpose();
      g.col(n_in) = ds.rowwise().sum();
      out.grads[l] = std::move(g);
    }
    if (l > 0) {
      Eigen::MatrixXd da = w.leftCols(n_in).transpose() * ds;
      const Eigen::MatrixXd& s = cache.pre[l - 1];
      if (activation_ == Activation::tanh) {
        da.array() *= 1.0 - cache.inputs[l].array().square();  // inputs[l] = tanh(s_{l-1})
      } else {
        da.array() *= (s.array() > 0.0).cast<double>();
      }
      out.output_grads[l] = std::move(ds);
      ds = std::move(da);
    } else {
      out.output_grads[l] = std::move(ds);
    }
  }
  return out;
}

namespace {
std::vector<DenseLayer> views(const Mlp& net, std::vector<Eigen::MatrixXd>* mutable_weights,
                              const ForwardCache& cache, const Backward& loss,
                              const Backward& fisher) {
  std::vector<DenseLayer> out;
  for (std::size_t l = 0; l < net.weights().size(); ++l) {
    out.emplace_back(cache.inputs[l], fisher.output_grads[l], loss.grads[l], net.weights()[l],
                     mutable_weights ? &(*mutable_weights)[l] : nullptr);
  }
  return out;
}
}  // namespace

std::vector<DenseLayer> kfac_layers(Mlp& net, const ForwardCache& cache, const Backward& loss,
                                    const Backward& fisher) {
  return views(net, &net.weights(), cache, loss, fisher);
}

std::vector<DenseLayer> kfac_layers(const Mlp& net, const ForwardCache& cache, const Backward& loss,
                                    const Backward& fisher) {
  return views(net, nullptr, cache, loss, fisher);
}

}  // namespace tkfac::kfac
