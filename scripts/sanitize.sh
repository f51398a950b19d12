#!/usr/bin/env bash
# The sanitizer job: builds tkfac with AddressSanitizer + UndefinedBehaviorSanitizer into
# ./build-asan (TKFAC_SANITIZE=ON) and runs the whole ctest suite under it. Any ASan or UBSan
# report fails its test (halt_on_error); leaks of ngspice, Open MPI and OpenBLAS (third-party
# memory kept until exit) are suppressed by scripts/lsan.supp, nothing of tkfac's.
# Left out: the Python module (an ASan library cannot be loaded into Debian's uninstrumented
# python3 without preloading libasan into the interpreter), and the two tests that configure and
# build separate projects (configure_without_ngspice, install_and_build_examples: they exercise
# CMake, not tkfac's code, and run in the normal job).
#   bash scripts/sanitize.sh [ctest arguments, e.g. -R csv]
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${TKFAC_JOBS:-2}
start=$(date +%s)
# -O1 -g1: a third less compile time than -O2 -g on these 2 cores, line numbers in reports kept.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTKFAC_SANITIZE=ON \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" \
  -DTKFAC_BUILD_PYTHON=OFF -DTKFAC_BUILD_EXAMPLES=OFF -DTKFAC_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j"$jobs"
# Left out of this job, run in the normal one: the four resident-memory tests, which measure the
# process's resident size (ASan's shadow memory and freed-block quarantine make it meaningless).
memory_tests='session: 1000 load/run/remove cycles keep memory flat|spice backend: multi-right-hand-side solves keep resident memory flat|spice: 1000 successive solves grow resident memory by less than 10 MB|train: resident memory of a spice training does not grow with its steps'
builds='configure_without_ngspice|install_and_build_examples'
asan="halt_on_error=1:detect_leaks=1:strict_string_checks=0:detect_stack_use_after_return=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp:print_suppressions=0"
# Everything but the mpiexec tests, with ASan's fast (frame-pointer) unwinder.
status=0
ASAN_OPTIONS="$asan" ctest --test-dir build-asan --output-on-failure -j"$jobs" \
  -E "^($builds|$memory_tests|mpi: .*)\$" "$@" || status=1
# The mpiexec tests with the slow (DWARF) unwinder: Open MPI's plugins are built without frame
# pointers, so the fast unwinder stops at their first frame, an address in a plugin unloaded by
# MPI_Finalize ("<unknown module>"); the full stack reaches libmpi/libopen-pal, which the
# suppression file names.
ASAN_OPTIONS="$asan:fast_unwind_on_malloc=0" ctest --test-dir build-asan --output-on-failure \
  -j"$jobs" -R '^mpi: ' "$@" || status=1
echo "sanitize.sh: build and suite took $(( $(date +%s) - start )) s"
exit "$status"
