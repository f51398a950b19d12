#pragma once
// Numbers from outside, range-checked where they are read: sizes, counts and seeds are decimal
// integers within a stated range (never clamped, truncated or read as octal), and quantities
// derived from doubles are finite before they become counts or simulator times.
//
//   int n = tkfac::parse_integer<int>("49", 1, 1'000'000, "--layers");   // InputError otherwise
//   long k = tkfac::to_count(burn / interval, 2'000'000'000, "--burn-in");
//   tkfac::require_finite_positive(tau, "R C / alpha_min");
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace tkfac {

// The decimal integer `text` (an optional '-' for signed types, digits only: no '+', spaces,
// fraction, exponent or base prefix) if it lies in [min, max]; otherwise InputError naming
// `what`, the text and the range.
std::int64_t parse_integer_in(std::string_view text, std::int64_t min, std::int64_t max,
                              const std::string& what);
std::uint64_t parse_unsigned_in(std::string_view text, std::uint64_t min, std::uint64_t max,
                                const std::string& what);

template <class T>
T parse_integer(std::string_view text, T min, T max, const std::string& what) {
  if constexpr (std::is_unsigned_v<T>) {
    return static_cast<T>(parse_unsigned_in(text, min, max, what));
  } else {
    return static_cast<T>(parse_integer_in(text, min, max, what));
  }
}

// ceil(x) as a count in [0, max]; InputError naming `what` if x is not finite, negative or too
// large (a double beyond the integer range must never be converted: undefined behaviour).
long to_count(double x, long max, const std::string& what);

// Throws InputError naming `what` unless x is finite and > 0 (e.g. a simulator time derived
// from options: 1e300 * 1e300 is inf, 1e-300 * 1e-300 is 0).
void require_finite_positive(double x, const std::string& what);

}  // namespace tkfac
