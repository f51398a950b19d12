// tkfac netlist: write the relaxation circuit of (M + damping I) x = b as a SPICE netlist.
#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "file_options.hpp"
#include "commands.hpp"
#include "inputs.hpp"
#include "layer_netlist.hpp"
#include "netlist_options.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/core/output_file.hpp"
#include "tkfac/core/text.hpp"
#include "tkfac/netlist_gen/netlist.hpp"

namespace tkfac::cli {
namespace {

struct NetlistArgs {
  std::string matrix;
  std::string rhs;
  double damping = 0.0;
  std::string output;
  std::string form = "flat";  // --form: flat | subckt | library (netlist.hpp, RenderOptions)
  bool control = false;       // --control: a .control block that runs and writes the unknowns
  std::string wrdata = "tkfac-unknowns.txt";
  CircuitArgs circuit;
  std::string activations;  // --activations: M = a a^T / b from an N x b array
  LayerArgs layer;          // --model ...: a factor of a trained network's layer
};

void run_netlist(NetlistArgs a) {
  if (a.output == "-") a.output.clear();  // stdout
  const int sources = !a.matrix.empty() + !a.activations.empty() + !a.layer.model.empty();
  if (sources != 1) {
    throw InputError(
        "--matrix: expected exactly one of --matrix, --activations and --model (the matrix to "
        "encode)");
  }
  netlist_gen::RenderOptions render;
  render.form = netlist_gen::parse_netlist_form(a.form, "--form");
  render.control = a.control;
  render.wrdata_file = a.wrdata;
  // The name is written into the .control block as a word of ngspice's command language.
  check_script_text(a.wrdata, "--wrdata");
  if (a.wrdata.empty() || a.wrdata.find_first_of(" \"';") != std::string::npos) {
    throw InputError(fmt::format("--wrdata '{}': expected a file name without spaces, quotes or ';'",
                                 a.wrdata));
  }
  if (render.control && render.form == netlist_gen::NetlistForm::library) {
    throw InputError("--control: a library (--form library) has no top level to run");
  }
  if ((render.form != netlist_gen::NetlistForm::flat || render.control) &&
      !a.layer.model.empty()) {
    throw InputError("--form, --control: only for a netlist of --matrix or --activations");
  }
  if (!a.layer.model.empty()) {
    run_layer_netlist(a.layer, a.circuit, a.output);
    return;
  }
  if (!a.activations.empty()) {
    if (!a.output.empty()) check_writable(a.output, "--output");
    const std::string text =
        activation_file_netlist(a.activations, a.rhs, a.damping, a.circuit, render);
    if (a.output.empty()) {
      std::cout << text;
    } else {
      write_file_atomically(a.output, "--output", [&](std::ostream& os) { os << text; });
    }
    return;
  }
  netlist_gen::NetlistOptions opt = a.circuit.resolve();
  opt.damping = a.damping;
  if (!a.output.empty()) check_writable(a.output, "--output");
  const Eigen::MatrixXd m = read_spd_matrix(a.matrix, a.damping);
  Eigen::VectorXd b;
  if (!a.rhs.empty()) {
    const Eigen::MatrixXd bm = read_rhs(a.rhs, m.rows(), a.matrix);
    if (bm.cols() != 1) {
      throw InputError(fmt::format("{}: has {} columns; a netlist takes one right-hand side "
                                   "(one value per line)",
                                   a.rhs, bm.cols()));
    }
    b = bm.col(0);
  }
  const std::string text = netlist_gen::to_spice(netlist_gen::make_netlist(m, b, opt), render);
  if (a.output.empty()) {
    std::cout << text;
  } else {
    write_file_atomically(a.output, "--output", [&](std::ostream& os) { os << text; });
  }
}

}  // namespace

void register_netlist(CLI::App& app) {
  auto args = std::make_shared<NetlistArgs>();
  CLI::App* cmd = app.add_subcommand(
      "netlist", "Write the SPICE netlist that solves (M + damping I) x = b by relaxation");
  input_file(cmd->add_option("--matrix,-m", args->matrix, "SPD matrix M (CSV)"));
  cmd->add_option(
      "--activations", args->activations,
      fmt::format("instead of --matrix: N x b array a (CSV), M = a a^T / b; with {} "
                  "activation M is never formed",
                  tkfac::options::flag_of(netlist_gen::netlist_option_table(), "encoding")));
  input_file(
      cmd->add_option("--rhs,-b", args->rhs, "right-hand side b (CSV, one column); default zero"));
  cmd->add_option("--damping", args->damping, "lambda added to the diagonal")->capture_default_str();
  output_file(cmd->add_option("--output,-o", args->output,
                              "netlist file to write (default or -: stdout)"),
              OutputNames::file, true);
  cmd->add_option("--form", args->form,
                  "flat (as run in-process) | subckt (.subckt with res, cap, gain parameters and "
                  "a top level instantiating it) | library (the .subckt alone, to .include)")
      ->capture_default_str();
  cmd->add_flag("--control", args->control,
                "add a .control block that runs the transient and writes t and the unknowns' "
                "voltages with wrdata (ngspice -b)");
  cmd->add_option("--wrdata", args->wrdata, "the file --control's wrdata writes")
      ->capture_default_str();
  args->circuit.add_to(cmd);
  args->circuit.add_seed_alias(cmd);
  add_layer_options(cmd, &args->layer);
  cmd->callback([args, cmd] {
    // --seed seeds everything random here: the batch drawn (as `tkfac train --seed`) and the noise.
    const CLI::Option* seed = cmd->get_option_no_throw("--seed");
    if (seed != nullptr && seed->count() > 0) args->layer.seed = args->circuit.options.noise_seed;
    run_netlist(*args);
  });
}

}  // namespace tkfac::cli
