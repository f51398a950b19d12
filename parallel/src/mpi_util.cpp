#include "mpi_util.hpp"

#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <limits>
#include <string>
#include <thread>

#include "tkfac/core/error.hpp"

namespace tkfac::parallel {

void wait_idle(MPI_Request& request) {
  int done = 0;
  long pause_us = 50;
  while (MPI_Test(&request, &done, MPI_STATUS_IGNORE), !done) {
    std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
    pause_us = std::min(2000L, 2 * pause_us);
  }
}

MPI_Status probe_idle(int tag, MPI_Comm comm) {
  int flag = 0;
  long pause_us = 50;
  MPI_Status st;
  while (MPI_Iprobe(MPI_ANY_SOURCE, tag, comm, &flag, &st), !flag) {
    std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
    pause_us = std::min(2000L, 2 * pause_us);
  }
  return st;
}

Gathered allgather_bytes(const std::vector<char>& mine, MPI_Comm comm, const char* what) {
  int size = 1;
  MPI_Comm_size(comm, &size);
  const auto my_size = static_cast<std::int64_t>(mine.size());
  std::vector<std::int64_t> sizes64(static_cast<std::size_t>(size));
  MPI_Request request;
  MPI_Iallgather(&my_size, 1, MPI_INT64_T, sizes64.data(), 1, MPI_INT64_T, comm, &request);
  wait_idle(request);
  Gathered g;
  for (const std::int64_t s : sizes64) g.total += s;
  if (g.total > std::numeric_limits<int>::max()) {
    throw SimulationError(
        fmt::format("{} ({} bytes) exceed MPI's 2 GiB exchange limit; run "
                    "without mpirun or with smaller work",
                    what, g.total));
  }
  g.sizes.resize(static_cast<std::size_t>(size));
  g.offsets.resize(static_cast<std::size_t>(size));
  for (int r = 0, at = 0; r < size; ++r) {
    g.sizes[static_cast<std::size_t>(r)] = static_cast<int>(sizes64[static_cast<std::size_t>(r)]);
    g.offsets[static_cast<std::size_t>(r)] = at;
    at += g.sizes[static_cast<std::size_t>(r)];
  }
  g.bytes.resize(static_cast<std::size_t>(g.total));
  MPI_Iallgatherv(mine.data(), static_cast<int>(my_size), MPI_BYTE, g.bytes.data(), g.sizes.data(),
                  g.offsets.data(), MPI_BYTE, comm, &request);
  wait_idle(request);
  return g;
}

void inject_failure(int rank) {
  static bool done = false;
  const char* spec = std::getenv("TKFAC_TEST_FAIL_RANK");
  if (done || spec == nullptr) return;
  const std::string s = spec;
  const auto colon = s.find(':');
  if (std::atoi(s.substr(0, colon).c_str()) != rank) return;
  done = true;
  const std::string kind = colon == std::string::npos ? "simulation" : s.substr(colon + 1);
  if (kind == "kill") ::raise(SIGKILL);
  if (kind == "input") throw InputError("injected failure (TKFAC_TEST_FAIL_RANK)");
  throw SimulationError("injected failure (TKFAC_TEST_FAIL_RANK)");
}

}  // namespace tkfac::parallel
