#pragma once
// A work estimate checked before a long run, against the process's budget (`--max-work`,
// `--max-memory`): a run that would take hours or exhaust memory is refused at once with the
// estimate and how to override, instead of running silently.
//
//   tkfac::check_work({.what = "spice solve, n = 1000", .steps = 31, .cost_per_step = 3e11,
//                      .bytes = 1.1e9, .how = "..."});   // InputError if over the budget
//
// Work is counted in floating-point operations at the speed of the digital kernels (about 1e10
// a second on the 2-core VM); a simulator step counts what it costs there (an ngspice step of a
// dense n x n circuit ~ 200 n^3: its sparse LU runs at ~5e7 n^3 a second).
#include <string>

namespace tkfac {

struct WorkEstimate {
  std::string what;            // e.g. "spice solve (n = 1000, 1 run)"
  double steps = 0.0;          // simulator or training steps
  double cost_per_step = 0.0;  // operations per step
  double bytes = 0.0;          // memory the run holds at once
  std::string how;             // how the steps were estimated, for the message
};

struct WorkBudget {
  double max_work = 1e12;    // operations (~2 minutes); 0: no limit
  double max_memory = 4e9;   // bytes; 0: no limit
};

// The process's budget (the tkfac program sets it from --max-work and --max-memory).
void set_work_budget(const WorkBudget& budget);
const WorkBudget& work_budget();

// Throws InputError naming the estimate, the budget and the option that overrides it.
void check_work(const WorkEstimate& estimate);

}  // namespace tkfac
