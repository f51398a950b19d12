// tkfac: co-simulation of thermodynamic (noise-driven analog) hardware for K-FAC.
//
// Under mpirun (built with MPI): every rank runs the same command on the same data, and each
// solver's batch calls (K-FAC's factor solves) are spread over the ranks
// (tkfac::parallel::DistributedSolver). Only rank 0 prints and writes files.
#include <fmt/format.h>
#include <unistd.h>

#include <clocale>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "commands.hpp"
#include "file_options.hpp"
#include "interrupt.hpp"
#include "tkfac/core/dense.hpp"
#include "tkfac/core/work_budget.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/core/numbers.hpp"
#include "tkfac/core/output_file.hpp"
#include "tkfac/core/text.hpp"
#include "tkfac/core/version.hpp"
#include "tkfac/cosim/backends.hpp"
#ifdef TKFAC_WITH_MPI
#include "tkfac/parallel/distributed_solver.hpp"
#include "tkfac/parallel/mpi_world.hpp"
#include "tkfac/parallel/task_runner.hpp"
#include "tkfac/solver/registry.hpp"
#endif

namespace {

// Every integer option is a decimal integer within its type's range: CLI11 2.1 reads integers
// with strtoll/strtoull, which clamp 2^64 to 2^64 - 1, wrap "-1" to 2^64 - 1 and read "010" as
// octal. (A narrower type's range, e.g. int, CLI11 checks itself.)
void check_integer_options(CLI::App& cmd) {
  for (CLI::Option* o : cmd.get_options()) {
    // The type name, without the descriptions validators append (":..."), e.g. "UINT:UINT".
    const std::string full = o->get_type_name();
    const std::string type = full.substr(0, full.find(':'));
    if (type != "INT" && type != "UINT") continue;
    const bool is_unsigned = type == "UINT";
    // A transform: "010" goes on as "10", never to strtoull's octal.
    o->transform(CLI::Validator(
        [is_unsigned](std::string& text) -> std::string {
          try {
            text = is_unsigned
                       ? std::to_string(tkfac::parse_unsigned_in(text, 0, UINT64_MAX, "value"))
                       : std::to_string(tkfac::parse_integer_in(text, INT64_MIN, INT64_MAX, "value"));
          } catch (const tkfac::InputError& e) {
            return std::string(is_unsigned ? "must be a non-negative integer: " : "") +
                   std::string(e.what()).substr(std::string("value: ").size());
          }
          return {};
        },
        "", "decimal integer"));
  }
  for (CLI::App* sub : cmd.get_subcommands([](CLI::App*) { return true; })) {
    check_integer_options(*sub);
  }
}

// Where this process says what went wrong: stderr on rank 0 (or without MPI); on the other
// ranks, whose output is discarded, the original stderr, and only for errors rank 0 may not have
// had (bad input is the same on every rank; a failure shared by the solver's exchange is
// reported by rank 0, naming the rank and solve).
struct ErrorSink {
  int rank = 0;
  FILE* err = stderr;
  bool failed_together = false;
  void say(bool input_error, const std::string& text) const {
    // Messages quote file contents and names: control characters and bytes that are not UTF-8
    // are escaped, never sent to the terminal raw.
    const std::string shown = tkfac::printable_text(text, true);
    if (rank == 0) {
      std::fprintf(err, "tkfac: %s\n", shown.c_str());
    } else if (!failed_together) {
      // Bad input is bad on every rank: give rank 0 a moment to say it and end the job; a rank
      // still here after that failed alone.
      if (input_error) ::sleep(5);
      std::fprintf(err, "tkfac: rank %d: %s\n", rank, shown.c_str());
    }
    std::fflush(err);
  }
};

int run(int argc, char** argv, ErrorSink& sink, const std::function<bool()>& failed_together) {
  CLI::App app{
      "tkfac: thermodynamic K-FAC co-simulation with ngspice.\n"
      "Netlists for Kronecker factors, circuit solves, and K-FAC training with pluggable solvers."};
  app.set_version_flag("--version", std::string("tkfac ") + tkfac::version);
  app.require_subcommand(1);
  // --threads may come before or after the subcommand (the one option every command shares).
  app.fallthrough(true);
  // The default does not depend on the number of MPI ranks (results may depend on the thread
  // count); under mpirun give --threads (cores / ranks per machine) to avoid oversubscription.
  int threads = tkfac::dense::machine_cores();
  app.add_option("--threads", threads,
                 "threads of the digital linear algebra (OpenBLAS); default: this machine's cores")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  // The work budget every command's long runs are checked against (core/work_budget.hpp).
  tkfac::WorkBudget budget;
  app.add_option("--max-work", budget.max_work,
                 "refuse runs estimated to need more operations than this (simulator steps x cost "
                 "per step; 1e10 is about a second); 0: no limit")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--max-memory", budget.max_memory,
                 "refuse runs estimated to need more bytes of memory than this; 0: no limit")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  // Set once parsing is complete, before any command's callback runs.
  // Also the output-path policy over the files the command's options name (file_options.hpp).
  app.parse_complete_callback([&threads, &budget, &app] {
    tkfac::dense::set_threads(threads);
    tkfac::set_work_budget(budget);
    tkfac::cli::check_command_files(app);
  });
  tkfac::cli::register_demo(app);
  tkfac::cli::register_netlist(app);
  tkfac::cli::register_solve(app);
  tkfac::cli::register_train(app);
  tkfac::cli::register_relax(app);
  tkfac::cli::register_sample(app);
  tkfac::cli::register_profile(app);
  tkfac::cli::register_robustness(app);
  check_integer_options(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    // The parse error with the option's name, as CLI11 words it, but through printable_text:
    // it quotes the user's argument, whose control characters must not reach the terminal.
    sink.say(true, fmt::format("{}\nRun with --help for more information.", e.what()));
    return 2;
  } catch (const tkfac::InputError& e) {
    sink.failed_together = failed_together();
    sink.say(true, fmt::format("error: {}", e.what()));
    return 2;
  } catch (const tkfac::SimulationError& e) {
    sink.failed_together = failed_together();
    sink.say(false, fmt::format("simulation failed: {}", e.what()));
    return 3;
  } catch (const tkfac::cli::TrainingDiverged& e) {
    sink.failed_together = failed_together();
    sink.say(false, fmt::format("training diverged: {}", e.what()));
    return 4;
  } catch (const tkfac::cli::Interrupted& e) {
    sink.failed_together = failed_together();
    return 128 + e.signal();  // the command has said what it completed
  } catch (const std::exception& e) {
    sink.failed_together = failed_together();
    sink.say(false, fmt::format("internal error: {}", e.what()));
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::setlocale(LC_ALL, "C");
  tkfac::dense::keep_freed_memory();
  tkfac::cosim::register_backends();  // spice and ou, for every command that solves
  ErrorSink sink;
  std::function<bool()> failed_together = [] { return false; };
#ifdef TKFAC_WITH_MPI
  std::optional<tkfac::parallel::MpiWorld> world;
  if (tkfac::parallel::MpiWorld::launched()) world.emplace(argc, argv);
  if (world && world->size() > 1) {
    const MPI_Comm comm = world->comm();
    tkfac::solver::set_solver_decorator([comm](std::unique_ptr<tkfac::solver::LinearSolver> s) {
      return std::make_unique<tkfac::parallel::DistributedSolver>(std::move(s), comm);
    });
    tkfac::set_task_runner([comm](const tkfac::TaskList& t) {
      return tkfac::parallel::run_tasks_over_ranks(t, comm);
    });
    failed_together = [] {
      return tkfac::parallel::DistributedSolver::failed_together() ||
             tkfac::parallel::tasks_failed_together();
    };
    sink.rank = world->rank();
    if (sink.rank != 0) {
      // Rank 0 prints and writes; the others keep their stderr for errors of their own.
      const int saved = ::dup(STDERR_FILENO);
      if (saved >= 0) sink.err = ::fdopen(saved, "w");
      if (std::freopen("/dev/null", "w", stdout) == nullptr ||
          std::freopen("/dev/null", "w", stderr) == nullptr) {
        sink.err = stderr;
      }
      tkfac::set_file_output(false);
    }
  }
  const int code = run(argc, argv, sink, failed_together);
  if (code == 0 && world && world->size() > 1 && world->rank() == 0) {
    const auto t = tkfac::parallel::DistributedSolver::totals();
    if (t.calls > 0) {
      // The load balance of the solves as run: 1 is a perfect split.
      std::cout << fmt::format(
          "mpi        {} ranks, {} distributed solve calls: slowest rank {:.3f} s, mean rank "
          "{:.3f} s of solves (max/mean {:.2f}); {:.3g} MB of results exchanged\n",
          world->size(), t.calls, t.max_rank_seconds, t.mean_rank_seconds,
          t.mean_rank_seconds > 0 ? t.max_rank_seconds / t.mean_rank_seconds : 1.0, t.bytes / 1e6);
    }
  }
  if (code != 0 && world && world->size() > 1 && !sink.failed_together) {
    // This rank alone failed: end now, without MPI_Finalize (which would wait for the others);
    // mpirun sees the exit code and stops every rank.
    std::cout.flush();
    std::fflush(nullptr);
    std::_Exit(code);
  }
  return code;  // ~MpiWorld: MPI_Finalize with the others (they failed or finished alike)
#else
  return run(argc, argv, sink, failed_together);
#endif
}
