#pragma once
// Dense linear algebra on the machine's tuned libraries: every Eigen matrix product of the project
// runs on OpenBLAS (EIGEN_USE_BLAS, set by the tkfac::core target), and the factorizations K-FAC
// and the digital solvers need run on LAPACK (OpenBLAS's potrf/potrs/potri). Debian's OpenBLAS
// picks its kernels for the CPU at run time, so the build stays portable.
//
//   tkfac::dense::set_threads(1);                    // BLAS threads (default: the machine's cores)
//   tkfac::dense::Cholesky c(m);                     // one factorization ...
//   if (!c.positive_definite()) ...                  // ... validates,
//   Eigen::MatrixXd x = c.solve(b);                  // ... solves
//   Eigen::MatrixXd inv = c.inverse();               // ... and inverts (exactly symmetric)
#include <Eigen/Dense>
#include <string>

namespace tkfac::dense {

// Threads OpenBLAS uses from now on (n >= 1; throws InputError otherwise).
void set_threads(int n);
int threads();
// The machine's cores (std::thread::hardware_concurrency, at least 1): the default thread count.
int machine_cores();
// Makes this process keep the memory it frees for its next allocations (glibc: no mmap'ed
// blocks, the heap never trimmed, so memory stays at its peak). K-FAC allocates and frees
// matrices of megabytes every step; returned to the kernel, each reuse page-faults them in
// again, which on the 2-core VM this was measured on made a 10-layer width-1024 backward pass 5
// times and its factors 8 times slower. For programs' main() (tkfac, the benchmarks), not for a
// library in someone else's process.
void keep_freed_memory();

// Copies the strictly lower triangle of square `m` onto its upper one, tile by tile (a plain
// transpose walk strides through memory at every step): `m` becomes exactly symmetric.
void mirror_lower(Eigen::MatrixXd& m);

// The BLAS in use, e.g. "OpenBLAS 0.3.21 (kernels for SkylakeX)": benchmarks print it.
std::string blas_description();

// The Cholesky factorization L L^T of a symmetric matrix, from its lower triangle (LAPACK dpotrf;
// the upper triangle is never read).
class Cholesky {
 public:
  explicit Cholesky(Eigen::MatrixXd m);
  // The factorization ran to the end and every pivot L_ii^2 exceeds `pivot_floor` (a matrix that
  // is singular up to rounding can leave a tiny positive pivot; callers pass n eps max|m|).
  bool positive_definite(double pivot_floor = 0.0) const;
  // (L L^T)^-1 b (dpotrs). Requires positive_definite().
  Eigen::MatrixXd solve(const Eigen::MatrixXd& b) const;
  // (L L^T)^-1 (dpotri), its upper triangle mirrored from the lower: exactly symmetric.
  Eigen::MatrixXd inverse() const;
  Eigen::Index size() const { return l_.rows(); }

 private:
  Eigen::MatrixXd l_;  // lower triangle: L (upper triangle: the input's, unused)
  int info_ = 0;
};

}  // namespace tkfac::dense
