#include "tkfac/core/csv.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <istream>
#include <ostream>
#include <sstream>
#include <string_view>
#include <vector>

#include "tkfac/core/error.hpp"
#include "tkfac/core/input_file.hpp"

namespace tkfac {
namespace {

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r");
  return s.substr(first, last - first + 1);
}

double parse_cell(std::string_view cell, const std::string& name, int line, int column) {
  const std::string_view t = trim(cell);
  if (t.empty()) {
    throw InputError(fmt::format("{}:{}: column {} is empty (expected a number)", name, line,
                                 column));
  }
  double value = 0.0;
  // A leading '+' is valid CSV but from_chars refuses it.
  const std::string_view digits = t.front() == '+' ? t.substr(1) : t;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size()) {
    throw InputError(fmt::format("{}:{}: column {} is '{}', expected a number", name, line,
                                 column, t));
  }
  if (!std::isfinite(value)) {
    throw InputError(fmt::format("{}:{}: column {} is '{}', expected a finite number", name,
                                 line, column, t));
  }
  return value;
}

}  // namespace

Eigen::MatrixXd parse_csv_matrix(std::istream& in, const std::string& name) {
  std::vector<double> values;
  Eigen::Index cols = -1;
  int first_row_line = 0;
  Eigen::Index rows = 0;
  std::string text;
  for (int line = 1; std::getline(in, text); ++line) {
    const std::string_view row = trim(text);
    if (row.empty() || row.front() == '#') continue;
    Eigen::Index n = 0;
    std::size_t start = 0;
    while (true) {
      const std::size_t comma = row.find(',', start);
      const std::string_view cell =
          row.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
      values.push_back(parse_cell(cell, name, line, static_cast<int>(n) + 1));
      ++n;
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    if (cols < 0) {
      cols = n;
      first_row_line = line;
    } else if (n != cols) {
      throw InputError(fmt::format("{}:{}: row has {} values, but the row on line {} has {} "
                                   "(rows must all have the same length)",
                                   name, line, n, first_row_line, cols));
    }
    ++rows;
  }
  if (in.bad()) throw InputError(fmt::format("{}: read error", name));
  if (rows == 0) throw InputError(fmt::format("{}: no data (expected rows of comma-separated numbers)", name));
  Eigen::MatrixXd m(rows, cols);
  for (Eigen::Index i = 0; i < rows; ++i)
    for (Eigen::Index j = 0; j < cols; ++j) m(i, j) = values[static_cast<std::size_t>(i * cols + j)];
  return m;
}

Eigen::MatrixXd read_csv_matrix(const std::string& path) {
  // Bounded: a FIFO, /dev/zero or a file over the input limit is refused before it is read.
  std::istringstream in(read_input_file(path));
  return parse_csv_matrix(in, path);
}

void write_csv_matrix(std::ostream& out, const Eigen::MatrixXd& m) {
  for (Eigen::Index i = 0; i < m.rows(); ++i) {
    for (Eigen::Index j = 0; j < m.cols(); ++j) {
      if (j > 0) out << ',';
      out << fmt::format("{:.17g}", m(i, j));
    }
    out << '\n';
  }
}

}  // namespace tkfac
