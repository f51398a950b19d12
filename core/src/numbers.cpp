#include "tkfac/core/numbers.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

#include "tkfac/core/error.hpp"
#include "tkfac/core/text.hpp"

namespace tkfac {
namespace {

[[noreturn]] void bad_integer(std::string_view text, const std::string& range,
                              const std::string& what) {
  throw InputError(fmt::format("{}: '{}' is not an integer in {}", what, printable_text(text),
                               range));
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

std::int64_t parse_integer_in(std::string_view text, std::int64_t min, std::int64_t max,
                              const std::string& what) {
  const std::string range = fmt::format("[{}, {}]", min, max);
  const std::string_view digits = !text.empty() && text[0] == '-' ? text.substr(1) : text;
  if (!all_digits(digits)) bad_integer(text, range, what);
  std::int64_t v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || v < min || v > max) {
    bad_integer(text, range, what);
  }
  return v;
}

std::uint64_t parse_unsigned_in(std::string_view text, std::uint64_t min, std::uint64_t max,
                                const std::string& what) {
  const std::string range = fmt::format("[{}, {}]", min, max);
  if (!all_digits(text)) bad_integer(text, range, what);
  std::uint64_t v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || v < min || v > max) {
    bad_integer(text, range, what);
  }
  return v;
}

long to_count(double x, long max, const std::string& what) {
  if (!std::isfinite(x) || x < 0.0 || std::ceil(x) > static_cast<double>(max)) {
    throw InputError(fmt::format("{}: {:g} is not a count in [0, {}]", what, x, max));
  }
  return static_cast<long>(std::ceil(x));
}

void require_finite_positive(double x, const std::string& what) {
  if (!std::isfinite(x) || !(x > 0.0)) {
    throw InputError(fmt::format("{} = {:g}: expected a finite positive number", what, x));
  }
}

}  // namespace tkfac
