#pragma once
// Internal: how make_netlist and make_activation_netlist apply the real parts of NetlistOptions
// (nonideal.hpp): the same rules, header lines and summary fields for every encoding.
#include <Eigen/Dense>
#include <string>
#include <vector>

#include "tkfac/netlist_gen/encoding.hpp"
#include "tkfac/netlist_gen/netlist.hpp"

namespace tkfac::netlist_gen::detail {

// M_hat on the conductance grid: `damped` / s_M quantized with options.quantizer. When the
// conservative diagonal needs a code above 2^B - 1, s_M is raised until every code fits (the
// largest conductance stays g0). Throws InputError for `nearest` when the result is not positive
// definite. Fills `realized` (s_M times the grid matrix) and the header lines to state.
struct GridMatrix {
  Eigen::MatrixXd m_hat;
  double s_m = 1.0;
  Eigen::MatrixXd realized;          // empty without conductance bits
  std::vector<std::string> header;   // empty without conductance bits
};
GridMatrix quantize_scaled(const Eigen::MatrixXd& damped, double s_m,
                           const NetlistOptions& options);

// The DAC: b_hat to its levels over +-input_full_scale; sets summary.dac_clipped.
void apply_dac(const NetlistOptions& options, Eigen::VectorXd& b_hat, Netlist& netlist);

// After an encoding emitted its blocks: the single-pole op-amps, then the mismatch (so the
// op-amps' internal R and C are perturbed too). With either, the realized circuit's slowest
// rate (its dynamics read from the elements, circuit_dynamics.hpp) replaces the ideal tau where
// it is slower, and the transient is planned again for it; an unstable circuit (a rate <= 0) is
// refused. Call after start_netlist and before add_noise_sources. Returns the header lines.
std::vector<std::string> apply_real_parts(const NetlistOptions& options, Netlist& netlist);

// The ADC of the read-out (summary.adc_bits, adc_full_scale) and the header lines of the DAC and
// ADC. Automatic full scale: max|b_hat| ||M_hat^-1||_inf (no equilibrium clips) plus 4 standard
// deviations of the noise of the noisiest node, beta_V^-1 max_i (M_hat^-1)_ii. Call after
// plan_transient (the noise) with the realized M_hat. Returns the header lines to state.
std::vector<std::string> add_converters(const NetlistOptions& options, const Eigen::MatrixXd& m_hat,
                    const Eigen::VectorXd& b_hat, Netlist& netlist);

}  // namespace tkfac::netlist_gen::detail
