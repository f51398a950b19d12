#pragma once
// Building a netlist that solves (M + damping*I) x = b by relaxation (docs/DESIGN.md section 5).
//
//   tkfac::netlist_gen::NetlistOptions opt;
//   opt.encoding = tkfac::netlist_gen::Encoding::integrator;
//   opt.validate();
//   auto nl = tkfac::netlist_gen::make_netlist(M, b, opt);
//
// Every encoding realizes C dV/dt = -g0 (M_hat V - b_hat): same equilibrium, same tau.
#include <Eigen/Dense>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tkfac/core/dense.hpp"
#include "tkfac/core/option_table.hpp"
#include "tkfac/netlist_gen/netlist.hpp"
#include "tkfac/netlist_gen/nonideal.hpp"

namespace tkfac::netlist_gen {

// behavioral and integrator are built from M by make_netlist; activation from the N x b array
// a of M = a a^T / b by make_activation_netlist (activation.hpp): make_netlist refuses it.
enum class Encoding { behavioral, integrator, activation };

// Throws InputError naming `option` (empty: the option table's flag) and the accepted values.
Encoding parse_encoding(std::string_view text, std::string_view option = {});
std::string_view to_string(Encoding encoding);

enum class Scaling {
  max_entry,  // s_M = max |m_ij| (largest conductance g0), s_b = max |b_i| / input_full_scale
  none,       // s_M = s_b = 1
};
Scaling parse_scaling(std::string_view text, std::string_view option = {});  // as parse_encoding
std::string_view to_string(Scaling scaling);

struct NetlistOptions {
  Encoding encoding = Encoding::behavioral;
  double resistance = 1e3;         // R, ohms; g0 = 1/R is the conductance of a unit entry
  double capacitance = 1e-9;       // C, farads
  double opamp_gain = 1e6;         // open-loop gain of the ideal (VCVS) op-amps (not behavioral)
  // Integrator and activation: trim the resistors for the finite op-amp gain so the equilibrium
  // is exact (off: plain R/|m_hat_ij|, and the header states the finite-gain error bound).
  bool gain_compensation = true;
  Scaling scaling = Scaling::max_entry;
  double input_full_scale = 1.0;   // volts (or g0 * volts): the largest |b_hat|
  double damping = 0.0;            // lambda, added to the diagonal of M
  double sim_time = 0.0;           // seconds of analog time; 0: tau * ln(1/target_rel_error) + margin
  double target_rel_error = 1e-6;  // used when sim_time == 0
  // Noise: beta^-1, the variance per unit of the unknowns, so that x ~ N(M^-1 b, beta^-1 M^-1)
  // at equilibrium (M damped); 0 is noiseless. Adds one TRRANDOM noise current per unknown,
  // renewed every noise_sample_time (see make_netlist for the sizing).
  double noise_variance = 0.0;
  // NT, seconds between noise samples; 0: automatic, by noise_follows, rounded down to 3 digits.
  double noise_sample_time = 0.0;
  // The automatic NT: "slowest" = half the slowest time constant tau = R C / alpha_min (the
  // estimators use the held-noise factor of every mode, docs/DESIGN.md section 5), "fastest" =
  // a tenth of R C / alpha_max (every mode sees nearly white noise; 5 kappa times more noise
  // samples and simulator steps per tau).
  std::string noise_follows = "slowest";
  // `.options seed=<noise_seed>`: the same seed gives the same noise, in `ngspice -b` and in
  // the shared library (measured on 39.3; TRNOISE would not be reproducible).
  unsigned noise_seed = 1;
  // Largest simulator time step (TMAX), seconds; 0: automatic (with noise: NT). With noise it
  // must not exceed NT.
  double max_step = 0.0;
  // Warm start: V(0) = initial_state / scale (units of the unknowns, one entry each); empty:
  // cold start (0 V).
  Eigen::VectorXd initial_state;

  // Real parts (issue 12, nonideal.hpp; docs/DESIGN.md section 6a). Every default is the ideal
  // part and leaves the netlist byte for byte as without these fields.
  // Programmable conductances of B bits (0: any value): the matrix's conductances take the
  // values k g0 / (2^B - 1); `quantizer` says how the matrix is rounded to them.
  int conductance_bits = 0;
  Quantizer quantizer = Quantizer::conservative;
  // DAC inputs of B bits over +-input_full_scale, ADC outputs of B bits over +-adc_full_scale
  // volts (0: automatic, stated in the header); 0 bits: exact. Clipping is counted.
  int dac_bits = 0;
  int adc_bits = 0;
  double adc_full_scale = 0.0;
  // Relative Gaussian tolerance of every resistor, capacitor and coupling, drawn from
  // mismatch_seed; 0: nominal values.
  double mismatch = 0.0;
  unsigned mismatch_seed = 1;
  // Single-pole op-amps (integrator, activation): gain-bandwidth product in Hz (0: ideal VCVS
  // of gain opamp_gain) and input offset voltage (needs a gbw).
  double opamp_gbw = 0.0;
  double opamp_offset = 0.0;

  // Throws InputError naming the flag, the field and what was expected: the table's checks,
  // then the checks across fields.
  void validate() const;
};

// The description of every NetlistOptions field but initial_state (a per-solve vector): its
// JSON key, flag, help and check (src/netlist_options.cpp). CLI, checkpoints and validate() use it.
const options::OptionTable<NetlistOptions>& netlist_option_table();

// Checks that `m` is a usable matrix: square, finite, symmetric to 1e-12 relative, and positive
// definite once `damping` is added. Throws InputError whose message starts with `name`. Returns
// the Cholesky factorization of the damped matrix that the check made, for callers that solve
// with it (one factorization validates and solves).
dense::Cholesky validate_spd(const Eigen::MatrixXd& m, double damping, const std::string& name);

// `b` may be empty (no right-hand side: inputs at zero). Validates M and b. Throws InputError
// for Encoding::activation, whose circuit is built from the activation array
// (make_activation_netlist). The header ends with the hardware report (report.hpp).
Netlist make_netlist(const Eigen::MatrixXd& m, const Eigen::VectorXd& b,
                     const NetlistOptions& options);

// New DC values of the input sources for another right-hand side on the same circuit, and the
// unknown scales that go with them (x[i] = scale[i] * V(node_i)). For a session's `alter`.
struct InputValues {
  std::vector<std::pair<std::string, double>> sources;  // element name, DC value
  Eigen::VectorXd unknown_scales;
};
InputValues input_values(const Netlist& netlist, const Eigen::VectorXd& b,
                         const NetlistOptions& options);

// Re-plans the time steps of a noiseless cold-start netlist whose final state is all that is
// read (a session's cold solves, cosim's FinalState): TMAX = 3/4 of the predicted tau instead of
// 1/4, TSTEP = TSTOP (no breakpoint on the way), and `.options trtol` large enough that the
// truncation-error control never shortens a step; the simulated time stays the same. Why that keeps the accuracy is stated at
// kFinalStateStepPerTau (src/circuit_parts.cpp) and in the header lines it adds. A given
// options.max_step is kept. Throws InputError for a noisy netlist or a warm start (their
// trajectory matters, not only the final state).
//
//   auto nl = make_netlist(M, b, opt);
//   plan_final_state(opt, nl);   // then Session::load(to_spice(nl)), run, read the last point
void plan_final_state(const NetlistOptions& options, Netlist& netlist);

}  // namespace tkfac::netlist_gen
