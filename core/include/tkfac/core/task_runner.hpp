#pragma once
// Independent tasks (e.g. the cases of a `tkfac relax` sweep), each giving its result as bytes,
// run by the runner the program installed: one after another in this process by default, or
// spread over MPI ranks by cost (tkfac::parallel::run_tasks_over_ranks, which `tkfac` installs
// under mpirun). Every process gets every result, in task order.
//
//   tkfac::TaskList t;
//   t.costs = {8.0, 1.0};                                   // relative, for the assignment
//   t.run = [&](std::size_t i) { return encode(work(i)); };
//   t.label = [&](std::size_t i) { return names[i]; };     // for progress and errors
//   std::vector<std::string> results = tkfac::run_tasks(t);
//
// A task's result must depend only on its index (not on which process runs it), so the results
// are the same for any number of processes.
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace tkfac {

struct TaskList {
  std::vector<double> costs;  // one per task
  std::function<std::string(std::size_t)> run;
  std::function<std::string(std::size_t)> label;
  // Optional: tasks finished so far, of every process (heard where the program prints).
  std::function<void(long done)> progress;
};

using TaskRunner = std::function<std::vector<std::string>(const TaskList&)>;

// Installs the runner (an empty function: in order, in this process). Set once, before use.
void set_task_runner(TaskRunner runner);

// Runs every task with the installed runner. A task's exception leaves here (under MPI: on every
// process, named by rank and task).
std::vector<std::string> run_tasks(const TaskList& tasks);

}  // namespace tkfac
