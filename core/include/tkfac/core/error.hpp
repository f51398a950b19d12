#pragma once
// The error types every tkfac part throws.
//
//   try { auto m = tkfac::read_csv_matrix("M.csv"); }
//   catch (const tkfac::InputError& e) { std::cerr << e.what(); return 2; }
//
// InputError: bad input or configuration (a file, a line, an option and what was expected).
// SimulationError: the simulator refused or failed a run; carries the simulator's own text.
// Numerical non-convergence is not an exception: it is reported in a solver's Summary.
#include <stdexcept>
#include <string>

namespace tkfac {

class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class SimulationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace tkfac
