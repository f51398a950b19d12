#include "tkfac/kfac/checkpoint.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "json_util.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/core/text.hpp"
#include "tkfac/core/input_file.hpp"
#include "tkfac/core/output_file.hpp"

namespace tkfac::kfac {

nlohmann::json checkpoint_json(const Mlp& net, const OptimizerConfig& config,
                               const Optimizer& optimizer, const TrainerState& trainer) {
  nlohmann::json params = nlohmann::json::array();
  for (const auto& w : net.weights()) params.push_back(detail::matrix_to_json(w));
  return {{"format", "tkfac-checkpoint"},
          {"version", 1},
          {"architecture", {{"layers", net.sizes()}, {"activation", to_string(net.activation())}}},
          {"parameters", params},
          {"optimizer", {{"config", to_json(config)}, {"state", optimizer.state()}}},
          {"trainer", to_json(trainer)}};
}

void save_checkpoint(const std::string& path, const Mlp& net, const OptimizerConfig& config,
                     const Optimizer& optimizer, const TrainerState& trainer,
                     const std::string& option) {
  // A diverged network is not a checkpoint: its nulls (JSON has no NaN) would be refused by
  // --init anyway, and it would replace the last good one.
  for (std::size_t l = 0; l < net.weights().size(); ++l) {
    if (!net.weights()[l].allFinite()) {
      throw InputError(fmt::format("{} '{}': not written: the weights of layer {} are not finite "
                                   "(training diverged)",
                                   option, path, l));
    }
  }
  const nlohmann::json j = checkpoint_json(net, config, optimizer, trainer);
  write_file_atomically(path, option, [&](std::ostream& os) { os << j.dump(1) << '\n'; });
}

Checkpoint checkpoint_from_json(const nlohmann::json& j, const std::string& name) {
  using detail::get;
  if (!j.is_object() || !j.contains("format") || j["format"] != "tkfac-checkpoint") {
    throw InputError(
        fmt::format("{}: not a tkfac checkpoint (no \"format\": \"tkfac-checkpoint\")", name));
  }
  const int version = get<int>(j, "version", name);
  if (version != 1) {
    throw InputError(
        fmt::format("{}: checkpoint version {} is not supported (expected 1)", name, version));
  }
  const auto arch = get<nlohmann::json>(j, "architecture", name);
  // Each size an integer in range: nlohmann would turn 49.5 into 49 and 1e10 into garbage.
  const auto layers = get<nlohmann::json>(arch, "layers", name + ": architecture");
  if (!layers.is_array()) {
    throw InputError(fmt::format("{}: architecture.layers: expected an array of layer sizes", name));
  }
  std::vector<int> sizes;
  for (const nlohmann::json& v : layers) {
    const bool integer = v.is_number_integer() || v.is_number_unsigned();
    if (!integer || v.get<double>() < 1 || v.get<double>() > kMaxLayerSize) {
      throw InputError(fmt::format("{}: architecture.layers: {} is not a layer size (an integer in "
                                   "[1, {}])",
                                   name, printable_text(v.dump()), kMaxLayerSize));
    }
    sizes.push_back(v.get<int>());
  }
  const Activation act =
      parse_activation(get<std::string>(arch, "activation", name + ": architecture"),
                       name + ": architecture.activation");
  const auto params = get<nlohmann::json>(j, "parameters", name);
  if (!params.is_array() || params.size() + 1 != sizes.size()) {
    throw InputError(fmt::format("{}: \"parameters\" must hold {} matrices", name,
                                 sizes.empty() ? 0 : sizes.size() - 1));
  }
  std::vector<Eigen::MatrixXd> ws;
  for (std::size_t l = 0; l < params.size(); ++l) {
    if (sizes[l] <= 0 || sizes[l + 1] <= 0)
      throw InputError(name + ": layer sizes must be positive");
    ws.push_back(detail::matrix_from_json(params[l], fmt::format("{}: parameters[{}]", name, l),
                                          sizes[l + 1], sizes[l] + 1));
  }
  Checkpoint c{Mlp(sizes, act, std::move(ws)), {}, {}, {}};
  const auto opt = get<nlohmann::json>(j, "optimizer", name);
  try {
    c.optimizer =
        optimizer_config_from_json(get<nlohmann::json>(opt, "config", name + ": optimizer"));
    c.optimizer.validate();
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: {}", name, e.what()));
  }
  c.optimizer_state = get<nlohmann::json>(opt, "state", name + ": optimizer");
  try {
    c.trainer = trainer_state_from_json(get<nlohmann::json>(j, "trainer", name));
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: {}", name, e.what()));
  }
  return c;
}

Checkpoint load_checkpoint(const std::string& path, const std::string& option) {
  // Bounded: a FIFO, a directory, /dev/zero or a file over the input limit is refused unread.
  const std::string text = read_input_file(path, option);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for 1e400
    throw InputError(
        fmt::format("{} '{}': corrupt checkpoint (not valid JSON: {})", option, path, e.what()));
  }
  return checkpoint_from_json(j, fmt::format("{} '{}'", option, path));
}

}  // namespace tkfac::kfac
