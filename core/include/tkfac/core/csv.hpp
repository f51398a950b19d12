#pragma once
// Reading and writing dense matrices as CSV: numbers separated by commas, one matrix row per
// line, lines starting with '#' (and blank lines) ignored.
//
//   Eigen::MatrixXd m = tkfac::read_csv_matrix("M.csv");      // throws InputError naming file:line
//   tkfac::write_csv_matrix(std::cout, m);
//
// Every cell must be a finite number and every row must have the same number of cells.
#include <Eigen/Dense>
#include <iosfwd>
#include <string>

namespace tkfac {

// `name` is what error messages call the input (usually its path).
Eigen::MatrixXd parse_csv_matrix(std::istream& in, const std::string& name);
// Reads the file through read_input_file (input_file.hpp): a regular file within the input size
// limit, else InputError.
Eigen::MatrixXd read_csv_matrix(const std::string& path);

// Full round-trip precision (17 significant digits).
void write_csv_matrix(std::ostream& out, const Eigen::MatrixXd& m);

}  // namespace tkfac
