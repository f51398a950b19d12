#include "tkfac/core/task_runner.hpp"

#include <utility>

namespace tkfac {
namespace {

TaskRunner& installed() {
  static TaskRunner runner;
  return runner;
}

}  // namespace

void set_task_runner(TaskRunner runner) { installed() = std::move(runner); }

std::vector<std::string> run_tasks(const TaskList& tasks) {
  if (installed()) return installed()(tasks);
  std::vector<std::string> out;
  out.reserve(tasks.costs.size());
  for (std::size_t i = 0; i < tasks.costs.size(); ++i) {
    out.push_back(tasks.run(i));
    if (tasks.progress) tasks.progress(static_cast<long>(i + 1));
  }
  return out;
}

}  // namespace tkfac
