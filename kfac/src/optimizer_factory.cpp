#include "tkfac/kfac/optimizer_factory.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "json_util.hpp"
#include "tkfac/core/error.hpp"

namespace tkfac::kfac {

std::vector<std::string> optimizer_names() { return {"sgd", "adam", "adamw", "kfac"}; }

namespace {
void check_name(std::string_view name, std::string_view option) {
  const auto names = optimizer_names();
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    throw InputError(fmt::format("{}: unknown optimizer '{}' (expected one of: {})", option, name,
                                 fmt::join(names, ", ")));
  }
}
}  // namespace

void OptimizerConfig::validate() const {
  check_name(name, "--optimizer");
  if (name == "sgd") sgd.validate();
  if (name == "adam" || name == "adamw") adam.validate();
  if (name == "kfac") kfac.validate();
}

nlohmann::json to_json(const OptimizerConfig& c) {
  nlohmann::json j = {{"name", c.name}};
  if (c.name == "sgd") j["sgd"] = to_json(c.sgd);
  if (c.name == "adam" || c.name == "adamw") j["adam"] = to_json(c.adam);
  if (c.name == "kfac") j["kfac"] = to_json(c.kfac);
  return j;
}

OptimizerConfig optimizer_config_from_json(const nlohmann::json& j) {
  const std::string what = "optimizer config";
  OptimizerConfig c;
  c.name = detail::get<std::string>(j, "name", what);
  check_name(c.name, what + ": name");
  if (j.contains("sgd")) c.sgd = sgd_options_from_json(j["sgd"]);
  if (j.contains("adam")) c.adam = adam_options_from_json(j["adam"]);
  if (j.contains("kfac")) c.kfac = kfac_options_from_json(j["kfac"]);
  return c;
}

std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& config) {
  config.validate();
  if (config.name == "sgd") return std::make_unique<Sgd>(config.sgd);
  if (config.name == "adam" || config.name == "adamw") {
    AdamOptions o = config.adam;
    if (config.name == "adamw") o.decoupled = true;
    return std::make_unique<Adam>(o);
  }
  return std::make_unique<Kfac>(config.kfac);
}

std::vector<RunSpec> parse_run_specs(std::string_view text, const OptimizerConfig& base,
                                     std::string_view option) {
  std::vector<RunSpec> runs;
  const auto backends = solver::LinearSolver::backends();
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find(',', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string item(text.substr(pos, end - pos));
    pos = end + 1;
    if (item.empty()) {
      throw InputError(
          fmt::format("{} '{}': empty item (expected e.g. adam,kfac:cholesky)", option, text));
    }
    RunSpec run;
    run.label = item;
    run.optimizer = base;
    const std::size_t colon = item.find(':');
    run.optimizer.name = item.substr(0, colon);
    check_name(run.optimizer.name, option);
    if (colon != std::string::npos) {
      const std::string backend = item.substr(colon + 1);
      if (run.optimizer.name != "kfac") {
        throw InputError(fmt::format("{} '{}': only kfac takes a solver backend", option, item));
      }
      if (std::find(backends.begin(), backends.end(), backend) == backends.end()) {
        throw InputError(fmt::format("{} '{}': unknown solver backend '{}' (expected one of: {})",
                                     option, item, backend, fmt::join(backends, ", ")));
      }
      run.optimizer.kfac.solver.backend = backend;
    }
    runs.push_back(std::move(run));
  }
  return runs;
}

}  // namespace tkfac::kfac
