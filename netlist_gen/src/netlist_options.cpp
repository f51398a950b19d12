// The description of NetlistOptions (one line per field) and its validation.
#include <fmt/format.h>

#include <cmath>

#include "tkfac/core/error.hpp"
#include "tkfac/netlist_gen/encoding.hpp"

namespace tkfac::netlist_gen {
namespace {
// 0 (ideal) or 2..24 whole bits.
options::Check bits_check(std::string expected) {
  return {[](double v) { return v == 0.0 || (v >= 2.0 && v <= 24.0 && v == std::floor(v)); },
          std::move(expected)};
}
}  // namespace

const options::OptionTable<NetlistOptions>& netlist_option_table() {
  using namespace tkfac::options;
  using O = NetlistOptions;
  static const OptionTable<O> table = {
      enum_field(
          "encoding", "--encoding", &O::encoding, parse_encoding,
          [](Encoding e) { return to_string(e); }, {"behavioral", "integrator", "activation"},
          "circuit encoding: behavioral | integrator | activation (built from an activation "
          "array: tkfac netlist --activations or --model)"),
      field("resistance", "--resistance", &O::resistance, "R in ohms (unit conductance g0 = 1/R)",
            positive("a finite resistance > 0 ohms")),
      field("capacitance", "--capacitance", &O::capacitance, "C in farads (tau0 = R C)",
            positive("a finite capacitance > 0 farads")),
      field("opamp_gain", "--opamp-gain", &O::opamp_gain, "open-loop gain of the ideal op-amps",
            positive("a finite op-amp gain > 0")),
      field("gain_compensation", "--gain-compensation", &O::gain_compensation,
            "integrator: trim the resistors for the finite op-amp gain (true | false)"),
      enum_field(
          "scaling", "--scaling", &O::scaling, parse_scaling,
          [](Scaling s) { return to_string(s); }, {"max_entry", "none"},
          "matrix/input scaling: max_entry | none"),
      field("input_full_scale", "--input-full-scale", &O::input_full_scale,
            "largest input (DAC volts) after scaling", positive("a finite full scale > 0")),
      // No flag: `netlist` and `solve` take --damping per system, K-FAC per factor.
      field("damping", "", &O::damping, "lambda added to the diagonal of M",
            non_negative("a finite damping >= 0")),
      field("sim_time", "--sim-time", &O::sim_time,
            "simulated analog seconds (0: tau * ln(1/target-error) plus margin)",
            non_negative(
                "a finite time >= 0 seconds (0: derived from the relaxation time)")),
      field("target_rel_error", "--target-error", &O::target_rel_error,
            "relative error the default simulated time aims at",
            open_unit_interval("a relative error strictly between 0 and 1")),
      // Noise (thermodynamic solves): one held Gaussian noise current per unknown.
      field("noise_variance", "--noise-variance", &O::noise_variance,
            "beta^-1: x ~ N(M^-1 b, beta^-1 M^-1) at equilibrium (0: noiseless)",
            non_negative("a finite variance >= 0 (0: no noise)")),
      field("noise_sample_time", "--noise-sample-time", &O::noise_sample_time,
            "seconds between noise samples NT (0: automatic, see --noise-follows)",
            non_negative("a finite time >= 0 seconds (0: automatic)")),
      choice_field("noise_follows", "--noise-follows", &O::noise_follows, {"slowest", "fastest"},
                   "automatic NT: slowest = tau / 2 = R C / (2 alpha_min), each mode's held-"
                   "noise factor used by the estimators | fastest = R C / (10 alpha_max), "
                   "nearly white for every mode"),
      field("noise_seed", "--noise-seed", &O::noise_seed,
            "noise seed (.options seed): same seed, same samples"),
      field("max_step", "--max-step", &O::max_step,
            "largest simulator time step, seconds (0: automatic; with noise <= NT)",
            non_negative("a finite time >= 0 seconds (0: automatic)")),
      // Real parts (nonideal.hpp): the defaults are the ideal parts.
      field("conductance_bits", "--conductance-bits", &O::conductance_bits,
            "programmable conductances of B bits, k g0 / (2^B - 1) (0: any value)",
            bits_check("0 (any value) or a whole number of bits from 2 to 24")),
      enum_field(
          "quantizer", "--quantizer", &O::quantizer, parse_quantizer,
          [](Quantizer q) { return to_string(q); }, {"conservative", "nearest"},
          "conductance rounding: conservative (diagonal absorbs the row's rounding error, "
          "never less definite) | nearest (refused if the result is not positive definite)"),
      field("dac_bits", "--dac-bits", &O::dac_bits,
            "DAC inputs of B bits over +-input-full-scale (0: exact)",
            bits_check("0 (exact) or a whole number of bits from 2 to 24")),
      field("adc_bits", "--adc-bits", &O::adc_bits,
            "ADC outputs of B bits over +-adc-full-scale (0: exact)",
            bits_check("0 (exact) or a whole number of bits from 2 to 24")),
      field("adc_full_scale", "--adc-full-scale", &O::adc_full_scale,
            "ADC full scale, volts (0: automatic, max|b_hat| ||M_hat^-1||_inf + 4 noise std)",
            non_negative("a finite full scale >= 0 volts (0: automatic)")),
      field("mismatch", "--mismatch", &O::mismatch,
            "relative Gaussian tolerance of every R, C and coupling (0: nominal values)",
            {[](double v) { return v >= 0.0 && v < 0.5; },
             "a relative tolerance in [0, 0.5) (0: nominal values)"}),
      field("mismatch_seed", "--mismatch-seed", &O::mismatch_seed,
            "seed of the mismatch draws (same seed, same parts)"),
      field("opamp_gbw", "--opamp-gbw", &O::opamp_gbw,
            "op-amp gain-bandwidth product in Hz, single-pole model (0: ideal VCVS)",
            non_negative("a finite gain-bandwidth product >= 0 Hz (0: ideal op-amps)")),
      field("opamp_offset", "--opamp-offset", &O::opamp_offset,
            "op-amp input offset voltage, volts (needs --opamp-gbw)",
            finite("a finite offset in volts")),
  };
  return table;
}

void NetlistOptions::validate() const {
  options::check(netlist_option_table(), *this);
  if (noise_variance > 0.0 && max_step > 0.0 && noise_sample_time > 0.0 &&
      max_step > noise_sample_time) {
    const auto& table = netlist_option_table();
    throw InputError(
        fmt::format("max_step ({}) = {}: larger than the noise sample time {} ({}); "
                    "expected a maximum time step <= the noise sample time",
                    tkfac::options::flag_of(table, "max_step"), max_step, noise_sample_time,
                    tkfac::options::flag_of(table, "noise_sample_time")));
  }
  if (opamp_offset != 0.0 && !(opamp_gbw > 0.0)) {
    const auto& table = netlist_option_table();
    throw InputError(fmt::format(
        "opamp_offset ({}) = {}: the offset belongs to the single-pole op-amp model; expected "
        "{} > 0 as well, or no offset",
        tkfac::options::flag_of(table, "opamp_offset"), opamp_offset,
        tkfac::options::flag_of(table, "opamp_gbw")));
  }
  if (opamp_gbw > 0.0 && initial_state.size() != 0) {
    const auto& table = netlist_option_table();
    throw InputError(fmt::format(
        "opamp_gbw ({}) = {}: a warm start is not supported with the single-pole op-amp model "
        "(its internal poles have no stated start); expected a cold start or ideal op-amps",
        tkfac::options::flag_of(table, "opamp_gbw"), opamp_gbw));
  }
  if (!initial_state.allFinite()) {
    throw InputError("initial_state (the warm start): expected finite numbers");
  }
}

}  // namespace tkfac::netlist_gen
