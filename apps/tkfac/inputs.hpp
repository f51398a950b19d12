#pragma once
// Reading the matrix and right-hand-side files of the command line, with errors naming them.
#include <Eigen/Dense>
#include <string>

namespace tkfac::cli {

// Reads M from `path` and checks it: square, finite, symmetric to 1e-12 relative, positive
// definite once `damping` is added. Errors name the file.
Eigen::MatrixXd read_spd_matrix(const std::string& path, double damping);

// Reads B from `path`; it must have `rows` rows (the size of the matrix in `matrix_path`).
Eigen::MatrixXd read_rhs(const std::string& path, Eigen::Index rows, const std::string& matrix_path);

}  // namespace tkfac::cli
