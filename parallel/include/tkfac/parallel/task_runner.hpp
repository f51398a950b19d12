#pragma once
// tkfac::run_tasks (core/task_runner.hpp) over the ranks of an MPI communicator:
//
//   tkfac::set_task_runner([comm](const tkfac::TaskList& t) {
//     return tkfac::parallel::run_tasks_over_ranks(t, comm);
//   });
//
// Every rank calls it with the same tasks. They are assigned by cost (assign_by_cost: largest
// first, each to the least-loaded rank), each rank runs its own in index order, and one
// allgather gives every rank every result. Rank 0 hears the others' counts as they finish tasks
// (TaskList::progress). A task that throws stops its rank's remaining tasks; every rank then
// throws the lowest failing rank's error, named "rank R, task '<label>'", of the same type
// (InputError, SimulationError, else std::runtime_error), and tasks_failed_together() is true.
#include <mpi.h>

#include <string>
#include <vector>

#include "tkfac/core/task_runner.hpp"

namespace tkfac::parallel {

std::vector<std::string> run_tasks_over_ranks(const TaskList& tasks, MPI_Comm comm);

// Whether the exception leaving the last run_tasks_over_ranks was thrown on every rank.
bool tasks_failed_together();

}  // namespace tkfac::parallel
