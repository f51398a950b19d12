#pragma once
// Subcommands of the `tkfac` program. Each `register_*` adds its subcommand to `app` with its
// options and a callback. Callbacks report bad input by throwing tkfac::InputError (main turns
// it into a message and exit code 2) and must not leave partial output files behind (use
// tkfac/core/output_file.hpp).
#include <CLI/CLI.hpp>

namespace tkfac::cli {

void register_netlist(CLI::App& app);
void register_solve(CLI::App& app);
void register_demo(CLI::App& app);
void register_train(CLI::App& app);
void register_relax(CLI::App& app);
void register_sample(CLI::App& app);
void register_profile(CLI::App& app);
void register_robustness(CLI::App& app);

}  // namespace tkfac::cli
