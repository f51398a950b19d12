#include "tkfac/solver/thermo_options.hpp"

#include <fmt/format.h>

#include <cmath>

#include "tkfac/core/error.hpp"

namespace tkfac::solver {

void ThermoOptions::validate() const {
  if (!std::isfinite(burn_in)) {
    throw InputError(
        fmt::format("--burn-in: {} is not a finite time (seconds; < 0: automatic)", burn_in));
  }
  if (!(std::isfinite(window) && window >= 0.0)) {
    throw InputError(
        fmt::format("--window: {} is not a finite time >= 0 seconds (0: automatic)", window));
  }
  if (!(std::isfinite(target_standard_error) && target_standard_error >= 0.0)) {
    throw InputError(
        fmt::format("--target-standard-error: {} is not a finite number >= 0 (0: unused)",
                    target_standard_error));
  }
  if (!(std::isfinite(analog_time) && analog_time >= 0.0)) {
    throw InputError(fmt::format(
        "--analog-time: {} is not a finite time >= 0 in units of R C (0: off)", analog_time));
  }
  if (start != "cold" && start != "warm") {
    throw InputError(fmt::format("--start: '{}' is not cold or warm", start));
  }
  if (start == "warm" && warm_start.size() == 0) {
    throw InputError("--start: warm needs a start vector (--warm-start FILE)");
  }
  if (!warm_start.allFinite()) throw InputError("--warm-start: contains NaN or Inf");
  if (inverse_method != "covariance" && inverse_method != "unit_rhs" && inverse_method != "auto") {
    throw InputError(
        fmt::format("--inverse-method: '{}' is not auto, covariance or unit_rhs", inverse_method));
  }
  if (noise_shape != NoiseShape::white && noise_shape != NoiseShape::held) {
    throw InputError("--noise-shape: expected white or held");
  }
}

NoiseShape parse_noise_shape(const std::string& text, const std::string& option) {
  if (text == "white") return NoiseShape::white;
  if (text == "held") return NoiseShape::held;
  throw InputError(fmt::format("{}: '{}' is not white or held", option, text));
}

}  // namespace tkfac::solver
