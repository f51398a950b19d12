// The description of ThermoOptions (one line per field) and its validation.
#include "tkfac/solver/thermo_options.hpp"

#include <fmt/format.h>

#include "tkfac/core/error.hpp"

namespace tkfac::solver {

const options::OptionTable<ThermoOptions>& thermo_option_table() {
  using namespace tkfac::options;
  using O = ThermoOptions;
  static const OptionTable<O> table = {
      field("burn_in", "--burn-in", &O::burn_in,
            "analog seconds discarded before averaging (< 0: tau ln(1/target-error))",
            finite("a finite time in seconds (< 0: automatic)")),
      field("window", "--window", &O::window,
            "analog seconds averaged after the burn-in (0: from the target standard error or "
            "inverse precision, else 100 tau; with a simulated time given: the rest of the run)",
            non_negative("a finite time >= 0 seconds (0: automatic)")),
      field("target_standard_error", "--target-standard-error", &O::target_standard_error,
            "standard error of the mean the automatic window aims at (0: unused)",
            non_negative("a finite number >= 0 (0: unused)")),
      field("inverse_precision", "--inverse-precision", &O::inverse_precision,
            "covariance inverse: relative (Frobenius) standard error the automatic window aims "
            "at (0: 100 tau)",
            non_negative("a finite relative error >= 0 (0: a window of 100 tau)")),
      field("covariance_runs", "--covariance-runs", &O::covariance_runs,
            "covariance inverse: independent noisy runs pooled per inverse, each with its own "
            "burn-in and seed (more: parallel under mpirun, a burn-in more each)",
            {[](double v) { return v >= 1.0 && v <= 4096.0; }, "a count from 1 to 4096"}),
      field("analog_time", "--analog-time", &O::analog_time,
            "return the state at this analog time, in units of R C (0: off)",
            non_negative("a finite time >= 0 in units of R C (0: off)")),
      choice_field("start", "--start", &O::start, {"cold", "warm"},
                   "start state: cold (zero) | warm (from the warm start file)"),
      choice_field("inverse_method", "--inverse-method", &O::inverse_method,
                   {"auto", "covariance", "unit_rhs"},
                   "auto | covariance (noisy run, Method 1) | unit_rhs (noiseless unit inputs)"),
      enum_field(
          "noise_shape", "--noise-shape", &O::noise_shape,
          [](const std::string& t, const std::string& o) { return parse_noise_shape(t, o); },
          [](NoiseShape s) { return to_string(s); }, {"white", "held"},
          "ou only: white (ideal SDE) | held (the circuit's noise, exactly)"),
  };
  return table;
}

void ThermoOptions::validate() const {
  options::check(thermo_option_table(), *this);
  if (start == "warm" && warm_start.size() == 0) {
    throw InputError("--start: warm needs a start vector (--warm-start FILE)");
  }
  if (!warm_start.allFinite()) throw InputError("--warm-start: contains NaN or Inf");
}

NoiseShape parse_noise_shape(const std::string& text, const std::string& option) {
  if (text == "white") return NoiseShape::white;
  if (text == "held") return NoiseShape::held;
  const std::string& name =
      option.empty() ? tkfac::options::flag_of(thermo_option_table(), "noise_shape") : option;
  throw InputError(fmt::format("{}: '{}' is not white or held", name, text));
}

std::string_view to_string(NoiseShape shape) {
  return shape == NoiseShape::white ? "white" : shape == NoiseShape::held ? "held" : "?";
}

}  // namespace tkfac::solver
