// tkfac: co-simulation of thermodynamic (noise-driven analog) hardware for K-FAC.
#include <fmt/format.h>

#include <clocale>
#include <cstdio>
#include <exception>
#include <string>

#include "commands.hpp"
#include "interrupt.hpp"
#include "tkfac/core/dense.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/core/version.hpp"
#include "tkfac/cosim/backends.hpp"

int main(int argc, char** argv) {
  std::setlocale(LC_ALL, "C");
  tkfac::dense::keep_freed_memory();
  tkfac::cosim::register_backends();  // spice and ou, for every command that solves
  CLI::App app{
      "tkfac: thermodynamic K-FAC co-simulation with ngspice.\n"
      "Netlists for Kronecker factors, circuit solves, and K-FAC training with pluggable solvers."};
  app.set_version_flag("--version", std::string("tkfac ") + tkfac::version);
  app.require_subcommand(1);
  // --threads may come before or after the subcommand (the one option every command shares).
  app.fallthrough(true);
  int threads = tkfac::dense::machine_cores();
  app.add_option("--threads", threads,
                 "threads of the digital linear algebra (OpenBLAS); default: this machine's cores")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  // Set once parsing is complete, before any command's callback runs.
  app.parse_complete_callback([&threads] { tkfac::dense::set_threads(threads); });
  tkfac::cli::register_demo(app);
  tkfac::cli::register_netlist(app);
  tkfac::cli::register_solve(app);
  tkfac::cli::register_train(app);
  tkfac::cli::register_relax(app);
  tkfac::cli::register_sample(app);
  tkfac::cli::register_profile(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints help, or the parse error with the option's name
    return code == 0 ? 0 : 2;
  } catch (const tkfac::InputError& e) {
    std::fprintf(stderr, "tkfac: error: %s\n", e.what());
    return 2;
  } catch (const tkfac::SimulationError& e) {
    std::fprintf(stderr, "tkfac: simulation failed: %s\n", e.what());
    return 3;
  } catch (const tkfac::cli::Interrupted& e) {
    return 128 + e.signal();  // the command has said what it completed
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tkfac: internal error: %s\n", e.what());
    return 1;
  }
  return 0;
}
