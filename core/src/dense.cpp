#include "tkfac/core/dense.hpp"

#include <fmt/format.h>
#include <lapack.h>
#include <malloc.h>

#include <algorithm>
#include <limits>
#include <thread>

#include "tkfac/core/error.hpp"

// OpenBLAS's thread control (declared here rather than through <cblas.h>, which Debian's
// alternatives may point at another BLAS's header).
extern "C" {
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char* openblas_get_config(void);
char* openblas_get_corename(void);
}

namespace tkfac::dense {
namespace {

lapack_int checked_int(Eigen::Index n, const char* what) {
  if (n > std::numeric_limits<lapack_int>::max()) {
    throw InputError(fmt::format("{}: size {} exceeds LAPACK's index range", what, n));
  }
  return static_cast<lapack_int>(n);
}

}  // namespace

void set_threads(int n) {
  if (n < 1) throw InputError(fmt::format("--threads: {} is not a thread count, expected >= 1", n));
  openblas_set_num_threads(n);
}

int threads() { return openblas_get_num_threads(); }

void keep_freed_memory() {
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, -1);  // never trimmed
}

void mirror_lower(Eigen::MatrixXd& m) {
  constexpr Eigen::Index kTile = 64;
  const Eigen::Index n = m.rows();
  for (Eigen::Index jb = 0; jb < n; jb += kTile) {
    const Eigen::Index je = std::min(n, jb + kTile);
    for (Eigen::Index ib = jb; ib < n; ib += kTile) {
      const Eigen::Index ie = std::min(n, ib + kTile);
      for (Eigen::Index j = jb; j < je; ++j) {
        for (Eigen::Index i = std::max(ib, j + 1); i < ie; ++i) m(j, i) = m(i, j);
      }
    }
  }
}

std::string blas_description() {
  return fmt::format("{} (kernels for {})", openblas_get_config(), openblas_get_corename());
}

int machine_cores() { return std::max(1, static_cast<int>(std::thread::hardware_concurrency())); }

Cholesky::Cholesky(Eigen::MatrixXd m) : l_(std::move(m)) {
  if (l_.rows() != l_.cols()) throw InputError("cholesky: expected a square matrix");
  const lapack_int n = checked_int(l_.rows(), "cholesky");
  if (n == 0) return;
  const char uplo = 'L';
  const lapack_int lda = n;
  LAPACK_dpotrf(&uplo, &n, l_.data(), &lda, &info_);
}

bool Cholesky::positive_definite(double pivot_floor) const {
  if (info_ != 0) return false;
  if (l_.rows() == 0) return true;
  return l_.diagonal().array().square().minCoeff() > pivot_floor;
}

Eigen::MatrixXd Cholesky::solve(const Eigen::MatrixXd& b) const {
  if (info_ != 0) throw InputError("cholesky: solve with a failed factorization");
  if (b.rows() != l_.rows()) throw InputError("cholesky: right-hand side has the wrong size");
  Eigen::MatrixXd x = b;
  const lapack_int n = checked_int(l_.rows(), "cholesky");
  const lapack_int nrhs = checked_int(b.cols(), "cholesky right-hand side");
  if (n == 0 || nrhs == 0) return x;
  const char uplo = 'L';
  lapack_int info = 0;
  LAPACK_dpotrs(&uplo, &n, &nrhs, l_.data(), &n, x.data(), &n, &info);
  if (info != 0) throw InputError(fmt::format("cholesky: dpotrs failed (info {})", info));
  return x;
}

Eigen::MatrixXd Cholesky::inverse() const {
  if (info_ != 0) throw InputError("cholesky: inverse of a failed factorization");
  Eigen::MatrixXd inv = l_;
  const lapack_int n = checked_int(l_.rows(), "cholesky");
  if (n == 0) return inv;
  const char uplo = 'L';
  lapack_int info = 0;
  LAPACK_dpotri(&uplo, &n, inv.data(), &n, &info);
  if (info != 0) throw InputError(fmt::format("cholesky: dpotri failed (info {})", info));
  mirror_lower(inv);
  return inv;
}

}  // namespace tkfac::dense
