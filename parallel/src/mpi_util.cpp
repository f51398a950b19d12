#include "mpi_util.hpp"

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
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
