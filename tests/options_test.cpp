// The option tables (tkfac/core/option_table.hpp): every field of NetlistOptions, ThermoOptions,
// SolverOptions and KfacOptions reaches its struct through the command line, survives the
// checkpoint JSON, and is refused by validate() with its flag named when bad; `tkfac train`
// takes and checkpoints them.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "cli_helpers.hpp"
#include "option_cli.hpp"
#include "test_util.hpp"
#include "tkfac/core/option_json.hpp"
#include "tkfac/kfac/kfac_optimizer.hpp"
#include "tkfac/netlist_gen/encoding.hpp"
#include "tkfac/solver/linear_solver.hpp"

namespace opt = tkfac::options;
namespace ng = tkfac::netlist_gen;
namespace cs = tkfac::solver;
namespace kf = tkfac::kfac;
using tkfac::test::run_tkfac;
using tkfac::test::ScratchDir;

namespace {

// Sets field `f` of `s` from command-line text (what CLI11 would do, for fields without a flag
// of their own).
template <class S>
void set_text(const opt::Field<S>& f, S& s, const std::string& text) {
  if (f.is_enum()) {
    f.enum_parse(s, text, f.label());
    return;
  }
  std::visit(
      [&](auto m) {
        using T = std::remove_cvref_t<decltype(s.*m)>;
        if constexpr (std::is_same_v<T, bool>) {
          s.*m = text == "true";
        } else if constexpr (std::is_same_v<T, double>) {
          s.*m = std::stod(text);
        } else if constexpr (std::is_same_v<T, int>) {
          s.*m = std::stoi(text);
        } else if constexpr (std::is_integral_v<T>) {
          s.*m = static_cast<T>(std::stoull(text));
        } else {
          s.*m = text;
        }
      },
      f.member);
}

// A value other than the field's default, as text.
template <class S>
std::string other_value(const opt::Field<S>& f) {
  const S d{};
  const std::string current = f.text(d);
  for (const auto& c : f.choices) {
    if (c != current) return c;
  }
  return std::visit(
      [&](auto m) -> std::string {
        using T = std::remove_cvref_t<decltype(d.*m)>;
        const T v = d.*m;
        if constexpr (std::is_same_v<T, bool>) {
          return v ? "false" : "true";
        } else if constexpr (std::is_same_v<T, double>) {
          return fmt::format("{}", v == 0.0 ? 0.25 : 0.5 * v);
        } else if constexpr (std::is_integral_v<T>) {
          return fmt::format("{}", v + 3);
        } else {
          return v + "-other";
        }
      },
      f.member);
}

// A struct whose every described field differs from its default.
template <class S>
S all_changed(const opt::OptionTable<S>& table, S s = {}) {
  for (const auto& f : table) set_text(f, s, other_value(f));
  return s;
}

template <class S>
std::set<std::string> names(const opt::OptionTable<S>& table) {
  std::set<std::string> n;
  for (const auto& f : table) n.insert(f.name);
  return n;
}

// Every field of `table` equal in `a` and `b`, and different from its default.
template <class S>
void check_same_changed(const opt::OptionTable<S>& table, const S& a, const S& b) {
  for (const auto& f : table) {
    INFO(f.name);
    CHECK(f.text(a) == f.text(b));
    CHECK(f.text(a) != f.text(S{}));
  }
}

// Parses every flag of the table with a non-default value and checks that each reaches `parsed`.
template <class S>
void check_cli_round_trip(const opt::OptionTable<S>& table) {
  const S changed = all_changed(table);
  CLI::App app;
  S parsed;
  tkfac::cli::add_table_options(&app, table, parsed);
  std::vector<std::string> args;
  long flags = 0;
  for (const auto& f : table) {
    if (f.flag.empty() || f.shared_flag) continue;
    args.push_back(f.flag);
    args.push_back(f.text(changed));
    ++flags;
  }
  CHECK(flags > 0);
  std::reverse(args.begin(), args.end());  // CLI11 takes them last first
  app.parse(args);
  for (const auto& f : table) {
    if (f.flag.empty() || f.shared_flag) continue;
    INFO(f.flag);
    CHECK(app.count(f.flag) == 1);
    CHECK(f.text(parsed) == f.text(changed));
    CHECK(f.text(parsed) != f.text(S{}));
  }
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const tkfac::InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

// For every checked field: a bad value is refused by `validate` naming the flag (or the key of
// a field without a flag), and an unknown enum name by its parse naming the flag.
template <class S>
void check_refused(const opt::OptionTable<S>& table, const S& valid,
                   const std::function<void(const S&)>& validate) {
  CHECK(error_of([&] { validate(valid); }) == "(no InputError)");
  for (const auto& f : table) {
    INFO(f.name);
    const std::string named = f.flag.empty() ? f.name : f.flag;
    S bad = valid;
    if (f.is_enum()) {
      const std::string e = error_of([&] { f.enum_parse(bad, "nonsense", f.flag); });
      CHECK(e.find(named) != std::string::npos);
      CHECK(e.find("nonsense") != std::string::npos);
      continue;
    }
    if (!f.choices.empty()) {
      set_text(f, bad, "nonsense");
    } else if (f.check.ok != nullptr) {
      std::visit(
          [&](auto m) {
            using T = std::remove_cvref_t<decltype(bad.*m)>;
            if constexpr (std::is_same_v<T, double>) {
              bad.*m = std::nan("");
            } else if constexpr (std::is_same_v<T, int>) {
              bad.*m = -1;
            }
          },
          f.member);
    } else {
      continue;  // no check: every value is accepted (seeds, switches, the backend's name)
    }
    const std::string e = error_of([&] { validate(bad); });
    INFO(e);
    CHECK(e.find(named) != std::string::npos);
    CHECK(e.find("expected") != std::string::npos);
  }
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

}  // namespace

TEST_CASE("options: each table describes every field of its struct") {
  // Hand-written lists of the structs' members; the ones after `//` are per-solve vectors that
  // no table describes (set from a file or by the program).
  CHECK(names(ng::netlist_option_table()) ==
        std::set<std::string>{"encoding", "resistance", "capacitance", "opamp_gain",
                              "gain_compensation", "scaling", "input_full_scale", "damping",
                              "sim_time", "target_rel_error", "noise_variance", "noise_sample_time",
                              "noise_follows", "noise_seed", "max_step", "conductance_bits",
                              "quantizer", "dac_bits", "adc_bits", "adc_full_scale", "mismatch",
                              "mismatch_seed", "opamp_gbw", "opamp_offset"});  // initial_state
  CHECK(names(cs::thermo_option_table()) ==
        std::set<std::string>{"burn_in", "window", "target_standard_error", "inverse_precision",
                              "covariance_runs", "analog_time", "start", "inverse_method",
                              "noise_shape"});  // warm_start
  CHECK(names(cs::solver_option_table()) ==
        std::set<std::string>{"backend", "cg_tolerance", "cg_max_iterations"});  // netlist, thermo
  CHECK(names(kf::kfac_option_table()) ==
        std::set<std::string>{"learning_rate", "damping", "damping_scheme", "ema_decay", "ema_init",
                              "factor_update_interval", "inverse_update_interval", "method",
                              "kl_clip", "momentum", "weight_decay", "fisher", "bias", "seed",
                              "solve_start"});  // solver
  // No flag is claimed twice across the tables a command combines (train uses all four).
  std::set<std::string> flags;
  long count = 0;
  const auto collect = [&](const auto& table) {
    for (const auto& f : table) {
      if (f.flag.empty()) continue;
      flags.insert(f.flag);
      ++count;
    }
  };
  collect(ng::netlist_option_table());
  collect(cs::thermo_option_table());
  collect(cs::solver_option_table());
  collect(kf::kfac_option_table());
  CHECK(static_cast<long>(flags.size()) == count);
}

TEST_CASE("options: every flag of every table reaches its struct through the command line") {
  check_cli_round_trip(ng::netlist_option_table());
  check_cli_round_trip(cs::thermo_option_table());
  check_cli_round_trip(cs::solver_option_table());
  check_cli_round_trip(kf::kfac_option_table());
}

TEST_CASE("options: every field survives the checkpoint JSON, and old files load") {
  kf::KfacOptions k = all_changed(kf::kfac_option_table());
  k.solver = all_changed(cs::solver_option_table());
  k.solver.netlist = all_changed(ng::netlist_option_table());
  k.solver.thermo = all_changed(cs::thermo_option_table());
  // Through the text of a file, as a checkpoint goes.
  const nlohmann::json j = nlohmann::json::parse(kf::to_json(k).dump(1));
  const kf::KfacOptions back = kf::kfac_options_from_json(j);
  check_same_changed(kf::kfac_option_table(), back, k);
  check_same_changed(cs::solver_option_table(), back.solver, k.solver);
  check_same_changed(ng::netlist_option_table(), back.solver.netlist, k.solver.netlist);
  check_same_changed(cs::thermo_option_table(), back.solver.thermo, k.solver.thermo);

  // A checkpoint written before the thermodynamic options (and without some circuit keys) loads,
  // the missing ones at their defaults.
  nlohmann::json old = j;
  old["solver"].erase("thermo");
  old["solver"]["netlist"].erase("max_step");
  old.erase("kl_clip");
  old["solver"]["netlist"].erase("noise_follows");
  const kf::KfacOptions o = kf::kfac_options_from_json(old);
  // Except the two whose defaults changed after checkpoints existed: such a file keeps the
  // meaning it was written with (noise following the fastest mode, windows of 100 tau).
  for (const auto& f : cs::thermo_option_table()) {
    if (f.name == "inverse_precision") continue;
    CHECK(f.text(o.solver.thermo) == f.text(cs::ThermoOptions{}));
  }
  CHECK(o.solver.thermo.inverse_precision == 0.0);
  CHECK(o.solver.netlist.noise_follows == "fastest");
  CHECK(o.solver.netlist.max_step == ng::NetlistOptions{}.max_step);
  CHECK(o.kl_clip == kf::KfacOptions{}.kl_clip);
  CHECK(o.solver.netlist.resistance == k.solver.netlist.resistance);

  // A wrong type or an unknown name is an InputError naming the key.
  nlohmann::json wrong = j;
  wrong["solver"]["thermo"]["window"] = "long";
  CHECK(error_of([&] { kf::kfac_options_from_json(wrong); }).find("\"window\"") !=
        std::string::npos);
  wrong = j;
  wrong["solver"]["thermo"]["noise_shape"] = "pink";
  CHECK(error_of([&] { kf::kfac_options_from_json(wrong); }).find("noise_shape") !=
        std::string::npos);
}

TEST_CASE("options: validate() refuses a bad value of every checked field, naming its flag") {
  check_refused<ng::NetlistOptions>(ng::netlist_option_table(), {},
                                    [](const ng::NetlistOptions& o) { o.validate(); });
  check_refused<cs::ThermoOptions>(cs::thermo_option_table(), {},
                                   [](const cs::ThermoOptions& o) { o.validate(); });
  check_refused<cs::SolverOptions>(cs::solver_option_table(), {},
                                   [](const cs::SolverOptions& o) { o.validate(); });
  check_refused<kf::KfacOptions>(kf::kfac_option_table(), {},
                                 [](const kf::KfacOptions& o) { o.validate(); });
  // The checks of nested structs run from the outer validate() too.
  kf::KfacOptions k;
  k.solver.thermo.window = -1;
  CHECK(error_of([&] { k.validate(); }).find("--window") != std::string::npos);
  k = {};
  k.solver.netlist.capacitance = 0;
  CHECK(error_of([&] { k.validate(); }).find("--capacitance") != std::string::npos);
}

TEST_CASE(
    "options: --help of train, demo and solve lists every table flag (train: all but --start)") {
  std::vector<std::string> all, circuit;
  const auto add = [](std::vector<std::string>& to, const auto& table) {
    for (const auto& f : table)
      if (!f.flag.empty()) to.push_back(f.flag);
  };
  add(circuit, ng::netlist_option_table());
  add(circuit, cs::thermo_option_table());
  add(circuit, cs::solver_option_table());
  all = circuit;
  add(all, kf::kfac_option_table());
  for (const char* sub : {"train", "demo"}) {
    const auto r = run_tkfac(fmt::format("{} --help", sub));
    REQUIRE(r.exit_code == 0);
    for (const auto& flag : all) {
      INFO(sub << " " << flag);
      // Training has no start vector per system, so it offers no warm start.
      CHECK((r.output.find(flag + " ") != std::string::npos) == (flag != "--start"));
    }
  }
  const auto r = run_tkfac("solve --help");
  REQUIRE(r.exit_code == 0);
  for (const auto& flag : circuit) {
    INFO("solve " << flag);
    CHECK(r.output.find(flag + " ") != std::string::npos);
  }
  // The default shown is the struct's in-class default.
  CHECK(r.output.find("--target-error FLOAT=1e-06") != std::string::npos);
  CHECK(r.output.find("--burn-in FLOAT=-1") != std::string::npos);
  // relax offers six circuit options with its own meaning of 0 and of the noise variance.
  const auto relax = run_tkfac("relax --help");
  REQUIRE(relax.exit_code == 0);
  CHECK(relax.output.find("(0: tau / 20)") != std::string::npos);
  CHECK(relax.output.find("(0: tau (ln(1/min eps) + ln 10))") != std::string::npos);
  CHECK(relax.output.find("must be 0 (noiseless)") != std::string::npos);
  CHECK(relax.output.find("--target-error") == std::string::npos);
  // train refuses --start as an unknown option (exit 2, naming it).
  const auto start = run_tkfac("train --dataset synthetic --steps 1 --start warm");
  CHECK(start.exit_code == 2);
  CHECK(start.output.find("--start") != std::string::npos);
}

TEST_CASE("train: circuit and thermodynamic options reach the checkpoint, and --init keeps them") {
  ScratchDir dir("options-train");
  const auto r = run_tkfac(fmt::format(
      "train --quiet --dataset synthetic --layers 8,4,3 --batch-size 32 --steps 2 --solver ou "
      "--noise-variance 1e-2 --window 3e-5 --burn-in 2e-6 --inverse-method covariance "
      "--noise-shape held --target-standard-error 0.5 --cg-tolerance 1e-9 --ema-init zero "
      "--lr 0.02 --momentum 0.3 --weight-decay 1e-4 --seed 5 --save {}",
      dir.file("a.json")));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const auto k = read_json(dir.file("a.json"))["optimizer"]["config"]["kfac"];
  CHECK(k["solver"]["netlist"]["noise_variance"].get<double>() == 0.01);
  CHECK(k["solver"]["thermo"]["window"].get<double>() == 3e-5);
  CHECK(k["solver"]["thermo"]["burn_in"].get<double>() == 2e-6);
  CHECK(k["solver"]["thermo"]["inverse_method"] == "covariance");
  CHECK(k["solver"]["thermo"]["noise_shape"] == "held");
  CHECK(k["solver"]["thermo"]["target_standard_error"].get<double>() == 0.5);
  CHECK(k["solver"]["cg_tolerance"].get<double>() == 1e-9);
  CHECK(k["ema_init"] == "zero");
  CHECK(k["learning_rate"].get<double>() == 0.02);
  CHECK(k["momentum"].get<double>() == 0.3);
  CHECK(k["weight_decay"].get<double>() == 1e-4);
  CHECK(k["seed"].get<unsigned>() == 5);

  // Resumed with one thermodynamic option changed: that one changes, the others are kept.
  const auto resumed = run_tkfac(
      fmt::format("train --quiet --dataset synthetic --steps 1 --init {} --window 4e-5 --save {}",
                  dir.file("a.json"), dir.file("b.json")));
  INFO(resumed.output);
  REQUIRE(resumed.exit_code == 0);
  const auto b = read_json(dir.file("b.json"))["optimizer"]["config"]["kfac"];
  CHECK(b["solver"]["thermo"]["window"].get<double>() == 4e-5);
  CHECK(b["solver"]["thermo"]["burn_in"].get<double>() == 2e-6);
  CHECK(b["solver"]["thermo"]["noise_shape"] == "held");
  CHECK(b["solver"]["netlist"]["noise_variance"].get<double>() == 0.01);

  // A bad thermodynamic option is refused by its name, before training.
  const auto bad = run_tkfac("train --dataset synthetic --steps 1 --window -1");
  CHECK(bad.exit_code == 2);
  CHECK(bad.output.find("--window") != std::string::npos);
  const auto bad_shape = run_tkfac("train --dataset synthetic --steps 1 --noise-shape pink");
  CHECK(bad_shape.exit_code == 2);
  CHECK(bad_shape.output.find("--noise-shape") != std::string::npos);
}
