#pragma once
// The files a command's options name, declared where the options are added, so that one check
// (main, before any command runs) applies the output-path policy of tkfac/core/output_file.hpp
// to every command: no output may be an input or another output, nor a special file.
//
//   input_file(cmd->add_option("--matrix,-m", a->matrix, "SPD matrix M (CSV)"));
//   output_file(cmd->add_option("--output,-o", a->output, "..."), OutputNames::file, true);
#include <CLI/CLI.hpp>

namespace tkfac::cli {

// The names an output option writes.
enum class OutputNames {
  file,       // the path
  plot,       // the figure and its sources: PATH, PATH.dat, PATH.gp
  prefix,     // PREFIX_matrix.csv, PREFIX_array.csv, PREFIX_rhs.csv (--export)
  directory,  // a directory the command creates (--all)
};

CLI::Option* input_file(CLI::Option* o);
// `dash_is_stdout`: the command writes to stdout for `-` (then no file is involved).
CLI::Option* output_file(CLI::Option* o, OutputNames names = OutputNames::file,
                         bool dash_is_stdout = false);

// The policy over the files of the options given to the subcommand(s) that parsed; throws
// InputError naming the options.
void check_command_files(const CLI::App& app);

}  // namespace tkfac::cli
