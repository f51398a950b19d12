#pragma once
// Internal: waiting for MPI without spinning, and the tests' injected failures.
//
// Waiting: Open MPI's blocking calls busy-poll, and a rank
// that has finished its share would take a core from one still working (on a machine with as
// many cores as ranks, that halves the speedup). These test, then sleep 50 us at first, up to
// 2 ms.
#include <mpi.h>

namespace tkfac::parallel {

// Waits for a non-blocking operation.
void wait_idle(MPI_Request& request);
// The next message with `tag` from any rank (probed, not received).
MPI_Status probe_idle(int tag, MPI_Comm comm);

// Tests only: TKFAC_TEST_FAIL_RANK=R[:kind] makes rank R's first solve or task fail (kind
// `simulation`, the default, or `input`) or the rank die (`kill`). Does nothing on other ranks,
// after the first time, or without the variable.
void inject_failure(int rank);

}  // namespace tkfac::parallel
