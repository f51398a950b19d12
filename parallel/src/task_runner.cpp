#include "tkfac/parallel/task_runner.hpp"

#include <fmt/format.h>

#include <cstdint>
#include <exception>
#include <stdexcept>

#include "mpi_util.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/parallel/assignment.hpp"
#include "tkfac/parallel/solution_codec.hpp"

namespace tkfac::parallel {
namespace {

constexpr int kTaskProgressTag = 7201;  // a rank's finished-task count, to rank 0

struct Count {
  std::int64_t done = 0;
  std::int32_t final = 0;
};

enum class Status : std::int32_t { ok = 0, input = 1, simulation = 2, other = 3 };

bool g_failed_together = false;

}  // namespace

bool tasks_failed_together() { return g_failed_together; }

std::vector<std::string> run_tasks_over_ranks(const TaskList& t, MPI_Comm comm) {
  g_failed_together = false;
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const std::size_t count = t.costs.size();
  const std::vector<int> owner = assign_by_cost(t.costs, size);

  Status status = Status::ok;
  std::string message;
  std::int64_t failed_task = -1;
  std::exception_ptr error;
  const auto record = [&](Status s, const std::string& what, std::int64_t task) {
    status = s;
    message = what;
    failed_task = task;
    error = std::current_exception();
  };
  // Rank 0: every rank's count; told to TaskList::progress (which may throw, e.g. on Ctrl-C).
  std::vector<std::int64_t> done_by(static_cast<std::size_t>(size), 0);
  int finals = 0;
  const auto tell = [&] {
    if (!t.progress || status != Status::ok) return;
    std::int64_t all = 0;
    for (const std::int64_t d : done_by) all += d;
    try {
      t.progress(static_cast<long>(all));
    } catch (const std::exception& e) {
      record(Status::other, e.what(), -1);
    }
  };
  const auto receive = [&](const MPI_Status& st) {
    Count c;
    MPI_Recv(&c, sizeof c, MPI_BYTE, st.MPI_SOURCE, kTaskProgressTag, comm, MPI_STATUS_IGNORE);
    done_by[static_cast<std::size_t>(st.MPI_SOURCE)] = c.done;
    if (c.final) ++finals;
  };

  ByteWriter mine;  // status and results, for every rank (declared before the loop, as in
                    // distributed_solver.cpp: declared later, GCC 12 warns falsely)
  ByteWriter entries;
  std::int64_t solved = 0;
  for (std::size_t i = 0; i < count && status == Status::ok; ++i) {
    if (owner[i] != rank) continue;
    try {
      inject_failure(rank);
      const std::string result = t.run(i);
      entries.put<std::int64_t>(static_cast<std::int64_t>(i));
      entries.put_string(result);
      ++solved;
    } catch (const InputError& e) {
      record(Status::input, e.what(), static_cast<std::int64_t>(i));
    } catch (const SimulationError& e) {
      record(Status::simulation, e.what(), static_cast<std::int64_t>(i));
    } catch (const std::exception& e) {
      record(Status::other, e.what(), static_cast<std::int64_t>(i));
    }
    if (rank != 0) {
      const Count c{solved, 0};
      MPI_Send(&c, sizeof c, MPI_BYTE, 0, kTaskProgressTag, comm);
    } else {
      done_by[0] = solved;
      int flag = 0;
      MPI_Status st;
      while (MPI_Iprobe(MPI_ANY_SOURCE, kTaskProgressTag, comm, &flag, &st), flag) receive(st);
      tell();
    }
  }
  if (rank != 0) {
    const Count c{solved, 1};
    MPI_Send(&c, sizeof c, MPI_BYTE, 0, kTaskProgressTag, comm);
  } else {
    done_by[0] = solved;
    while (finals < size - 1) {
      receive(probe_idle(kTaskProgressTag, comm));
      tell();
    }
  }

  // The exchange: every rank's status and results to every rank.
  mine.put(static_cast<std::int32_t>(status));
  mine.put<std::int64_t>(failed_task);
  mine.put_string(message);
  mine.put(solved);
  std::vector<char>& bytes = mine.bytes();
  bytes.insert(bytes.end(), entries.bytes().begin(), entries.bytes().end());
  const Gathered all = allgather_bytes(bytes, comm, "the results of one set of tasks");

  std::vector<std::string> out(count);
  int first_failed = -1;
  Status failed_status = Status::ok;
  std::string failed_message;
  std::int64_t failed_index = -1;
  for (int r = 0; r < size; ++r) {
    ByteReader in = all.of(r);
    const auto s = static_cast<Status>(in.get<std::int32_t>());
    const auto index = in.get<std::int64_t>();
    std::string what = in.get_string();
    const auto n = in.get<std::int64_t>();
    for (std::int64_t k = 0; k < n; ++k) {
      const auto i = static_cast<std::size_t>(in.get<std::int64_t>());
      out[i] = in.get_string();
    }
    if (s != Status::ok && first_failed < 0) {
      first_failed = r;
      failed_status = s;
      failed_message = std::move(what);
      failed_index = index;
    }
  }
  if (first_failed >= 0) {
    g_failed_together = true;
    // The failing rank keeps its own exception when it is not one of ours (e.g. an interrupt).
    if (first_failed == rank && failed_status == Status::other && error) {
      std::rethrow_exception(error);
    }
    const std::string where =
        failed_index >= 0 ? fmt::format("rank {}, task '{}'", first_failed,
                                        t.label ? t.label(static_cast<std::size_t>(failed_index))
                                                : std::to_string(failed_index))
                          : fmt::format("rank {}", first_failed);
    const std::string text = fmt::format("{}: {}", where, failed_message);
    if (failed_status == Status::input) throw InputError(text);
    if (failed_status == Status::simulation) throw SimulationError(text);
    throw std::runtime_error(text);
  }
  return out;
}

}  // namespace tkfac::parallel
