#pragma once
// Internal: waiting for MPI without spinning, and the tests' injected failures.
//
// Waiting: Open MPI's blocking calls busy-poll, and a rank
// that has finished its share would take a core from one still working (on a machine with as
// many cores as ranks, that halves the speedup). These test, then sleep 50 us at first, up to
// 2 ms.
#include <mpi.h>

#include <cstdint>
#include <vector>

#include "tkfac/parallel/solution_codec.hpp"

namespace tkfac::parallel {

// Waits for a non-blocking operation.
void wait_idle(MPI_Request& request);
// The next message with `tag` from any rank (probed, not received).
MPI_Status probe_idle(int tag, MPI_Comm comm);

// Every rank's bytes to every rank (one allgather of the sizes, one allgatherv), waited for
// without spinning. Sizes travel as 64-bit counts; MPI's int counts and offsets limit one
// exchange to 2 GiB, which every rank checks alike (SimulationError naming `what`, so all of them
// refuse together rather than wrap).
struct Gathered {
  std::vector<char> bytes;
  std::vector<int> offsets, sizes;  // per rank
  std::int64_t total = 0;
  ByteReader of(int rank) const {
    return {bytes.data() + offsets[static_cast<std::size_t>(rank)],
            static_cast<std::size_t>(sizes[static_cast<std::size_t>(rank)])};
  }
};
Gathered allgather_bytes(const std::vector<char>& mine, MPI_Comm comm, const char* what);

// Tests only: TKFAC_TEST_FAIL_RANK=R[:kind] makes rank R's first solve or task fail (kind
// `simulation`, the default, or `input`) or the rank die (`kill`). Does nothing on other ranks,
// after the first time, or without the variable.
void inject_failure(int rank);

}  // namespace tkfac::parallel
