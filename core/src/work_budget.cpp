#include "tkfac/core/work_budget.hpp"

#include <fmt/format.h>

#include <cmath>

#include "tkfac/core/error.hpp"

namespace tkfac {
namespace {

WorkBudget& budget() {
  static WorkBudget b;
  return b;
}

}  // namespace

void set_work_budget(const WorkBudget& b) {
  if (!(b.max_work >= 0.0) || !(b.max_memory >= 0.0))
    throw InputError(fmt::format("--max-work {} / --max-memory {}: expected numbers >= 0 (0: no "
                                 "limit)",
                                 b.max_work, b.max_memory));
  budget() = b;
}

const WorkBudget& work_budget() { return budget(); }

void check_work(const WorkEstimate& e) {
  const WorkBudget& b = budget();
  const double work = e.steps * e.cost_per_step;
  const std::string how = e.how.empty() ? "" : fmt::format(" ({})", e.how);
  if (b.max_work > 0.0 && !(work <= b.max_work)) {
    throw InputError(fmt::format(
        "{}: estimated work {:.3g} steps x {:.3g} operations per step = {:.3g} operations{}, "
        "over the budget --max-work {:.3g} (about {:.0f} s at 1e10 a second); give {} to run "
        "it anyway",
        e.what, e.steps, e.cost_per_step, work, how, b.max_work, b.max_work / 1e10,
        std::isfinite(work) ? fmt::format("--max-work {:.2g} (or 0 for no limit)", work * 1.01)
                            : std::string("--max-work 0 (no limit)")));
  }
  if (b.max_memory > 0.0 && !(e.bytes <= b.max_memory)) {
    throw InputError(fmt::format(
        "{}: estimated memory {:.3g} bytes{}, over the budget --max-memory {:.3g}; give {} to "
        "run it anyway",
        e.what, e.bytes, how, b.max_memory,
        std::isfinite(e.bytes) ? fmt::format("--max-memory {:.2g} (or 0 for no limit)", e.bytes * 1.01)
                               : std::string("--max-memory 0 (no limit)")));
  }
}

}  // namespace tkfac
