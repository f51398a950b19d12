#include "inputs.hpp"

#include <fmt/format.h>

#include "tkfac/core/csv.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/netlist_gen/encoding.hpp"

namespace tkfac::cli {

Eigen::MatrixXd read_spd_matrix(const std::string& path, double damping) {
  if (!(damping >= 0.0) || !std::isfinite(damping)) {
    throw InputError(fmt::format("--damping: {} is not a finite number >= 0", damping));
  }
  Eigen::MatrixXd m = read_csv_matrix(path);
  netlist_gen::validate_spd(m, damping, path);
  return m;
}

Eigen::MatrixXd read_rhs(const std::string& path, Eigen::Index rows, const std::string& matrix_path) {
  Eigen::MatrixXd b = read_csv_matrix(path);
  if (b.rows() != rows) {
    throw InputError(fmt::format("{}: has {} rows, expected {} (the size of the matrix in {})",
                                 path, b.rows(), rows, matrix_path));
  }
  return b;
}

}  // namespace tkfac::cli
