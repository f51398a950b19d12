#include "tkfac/kfac/optimizer_factory.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <variant>
#include <nlohmann/json.hpp>

#include "json_util.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/core/option_json.hpp"

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
// Sets the field whose flag is `--key` in `table` from `text`, through the table's JSON reader
// (so enums and choices parse as everywhere else). False if no field of the table has that flag.
template <class S>
bool set_by_flag(const options::OptionTable<S>& table, const std::string& key,
                 const std::string& text, S& target, const std::string& what) {
  for (const options::Field<S>& f : table) {
    if (f.flag != "--" + key) continue;
    nlohmann::json value;
    const bool textual = f.is_enum() || std::holds_alternative<std::string S::*>(f.member);
    if (textual) {
      value = text;
    } else if (std::holds_alternative<bool S::*>(f.member)) {
      if (text != "true" && text != "false") {
        throw InputError(fmt::format("{}: '{}' is not true or false", what, text));
      }
      value = text == "true";
    } else {
      // Numbers: the whole text must be one (std::stod would accept "1e-3abc").
      std::size_t used = 0;
      double v = 0.0;
      try {
        v = std::stod(text, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != text.size() || text.empty()) {
        throw InputError(fmt::format("{}: '{}' is not a number", what, text));
      }
      if (std::holds_alternative<double S::*>(f.member)) {
        value = v;
      } else {
        if (v != std::floor(v) || v < 0.0 || v > 4e9) {
          throw InputError(fmt::format("{}: '{}' is not a whole number >= 0", what, text));
        }
        value = static_cast<std::uint64_t>(v);
      }
    }
    options::read_json(table, nlohmann::json{{f.name, value}}, target, what);
    return true;
  }
  return false;
}

// "key=value" overrides of one --compare item (after the backend, separated by '/'): K-FAC's,
// the circuit's and the thermodynamic options, by their flags without the dashes.
void apply_overrides(const std::string& item, const std::vector<std::string>& settings,
                     std::string_view option, KfacOptions& k) {
  for (const std::string& s : settings) {
    const std::size_t eq = s.find('=');
    const std::string key = s.substr(0, eq);
    if (eq == std::string::npos || key.empty()) {
      throw InputError(fmt::format("{} '{}': '{}' is not key=value (e.g. noise-variance=1e-3)",
                                   option, item, s));
    }
    const std::string value = s.substr(eq + 1);
    const std::string what = fmt::format("{} '{}': {}", option, item, key);
    if (set_by_flag(kfac_option_table(), key, value, k, what)) continue;
    if (set_by_flag(netlist_gen::netlist_option_table(), key, value, k.solver.netlist, what)) {
      continue;
    }
    if (set_by_flag(solver::thermo_option_table(), key, value, k.solver.thermo, what)) continue;
    if (set_by_flag(solver::solver_option_table(), key, value, k.solver, what)) continue;
    throw InputError(fmt::format(
        "{} '{}': unknown setting '{}' (expected a K-FAC, circuit or thermodynamic option "
        "without its dashes, e.g. noise-variance=1e-3)",
        option, item, key));
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
    // name[:backend][/key=value]...
    std::vector<std::string> settings;
    std::string head = item;
    if (const std::size_t slash = item.find('/'); slash != std::string::npos) {
      head = item.substr(0, slash);
      std::size_t p = slash + 1;
      while (true) {
        const std::size_t next = item.find('/', p);
        settings.push_back(item.substr(p, next == std::string::npos ? std::string::npos
                                                                    : next - p));
        if (next == std::string::npos) break;
        p = next + 1;
      }
    }
    const std::size_t colon = head.find(':');
    run.optimizer.name = head.substr(0, colon);
    check_name(run.optimizer.name, option);
    if (!settings.empty() && run.optimizer.name != "kfac") {
      throw InputError(fmt::format("{} '{}': only kfac takes settings after '/'", option, item));
    }
    if (colon != std::string::npos) {
      const std::string backend = head.substr(colon + 1);
      if (run.optimizer.name != "kfac") {
        throw InputError(fmt::format("{} '{}': only kfac takes a solver backend", option, item));
      }
      if (std::find(backends.begin(), backends.end(), backend) == backends.end()) {
        throw InputError(fmt::format("{} '{}': unknown solver backend '{}' (expected one of: {})",
                                     option, item, backend, fmt::join(backends, ", ")));
      }
      run.optimizer.kfac.solver.backend = backend;
    }
    apply_overrides(item, settings, option, run.optimizer.kfac);
    runs.push_back(std::move(run));
  }
  return runs;
}

}  // namespace tkfac::kfac
