#pragma once
// Number formatting and rounding rules shared by the netlist builders (internal header).
#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <string>

namespace tkfac::netlist_gen::detail {

// Element values: the shortest text that reads back as the same double (fmt's default), never -0.
inline std::string num(double value) { return fmt::format("{}", value == 0.0 ? 0.0 : value); }

// Rounds `value` > 0 to 3 significant digits, up or down, parsed back from its decimal text
// (see encoding.cpp: keeps golden netlists stable against the last bits of eigenvalues).
inline double round3(double value, bool up) {
  const int exponent = static_cast<int>(std::floor(std::log10(value))) - 2;
  const double mantissa = value / std::pow(10.0, exponent);
  const double digits = up ? std::ceil(mantissa - 1e-9) : std::floor(mantissa + 1e-9);
  const std::string text = fmt::format("{}e{}", static_cast<long long>(digits), exponent);
  double out = 0.0;
  std::from_chars(text.data(), text.data() + text.size(), out);
  return out;
}

// Simulated time beyond tau ln(1/target) and the maximum step per tau: the same constants as
// encoding.cpp (which explains them), so every encoding runs the same analog time.
constexpr double kSimTimeMargin = 2.302585092994046;  // ln(10)
constexpr double kMaxStepPerTau = 0.25;

}  // namespace tkfac::netlist_gen::detail
