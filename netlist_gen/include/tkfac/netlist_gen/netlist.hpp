#pragma once
// A SPICE netlist as a value: what it encodes, its circuit (typed elements, circuit.hpp), and how
// to read the answer back.
//
//   auto nl = tkfac::netlist_gen::make_netlist(M, b, {.encoding = Encoding::integrator});
//   std::string text = tkfac::netlist_gen::to_spice(nl);   // `ngspice -b` runs it as is
//   auto counts = tkfac::netlist_gen::count_components(nl.circuit);
//   // at equilibrium x[u.index] = u.scale * V(u.node) for every u in nl.unknowns
//
// Rendering is byte-for-byte deterministic: the same inputs give the same text.
#include <Eigen/Dense>
#include <string>
#include <vector>

#include "tkfac/netlist_gen/circuit.hpp"

namespace tkfac::netlist_gen {

// One line `* tkfac-unknown <index> <node> <scale>` per unknown: x[index] = scale * V(node).
struct Unknown {
  int index = 0;
  std::string node;
  double scale = 1.0;
};

// Where the right-hand side enters: the independent source of unknown `index` has the DC value
// `gain * b_hat[index]`, with b_hat = b / rhs_scale. Lets a session change b with `alter`
// instead of re-parsing the circuit.
struct InputSource {
  int index = 0;
  std::string element;  // e.g. "I_b_3" or "V_dac_3"
  double gain = 1.0;
};

// What the circuit encodes, for the header and for reports.
struct MatrixSummary {
  int size = 0;
  double damping = 0.0;
  double condition_number = 0.0;  // of M + damping*I
  double alpha_min = 0.0;         // smallest eigenvalue of the unitless M_hat
  double alpha_max = 0.0;
  double matrix_scale = 1.0;      // s_M: M_hat = (M + damping*I) / s_M
  double rhs_scale = 1.0;         // s_b: b_hat = b / s_b
  double resistance = 1e3;        // R, ohms (g0 = 1/R)
  double capacitance = 1e-9;      // C, farads
  double predicted_tau = 0.0;     // R C / alpha_min, seconds
  double sim_time = 0.0;          // analog time the transient simulates, seconds
  // Integrator encoding without gain compensation only (0 otherwise): estimated bound on the
  // relative error of the equilibrium caused by the finite op-amp gain A, (max_i sum_j |m_hat_ij| + 1) / (A alpha_min).
  // Measured errors are 0.4 to 0.7 of it (n = 64, kappa = 1e3, A = 1e6: 1.7e-3 against 2.7e-3).
  double finite_gain_error = 0.0;
  // Noise (all 0 when noiseless). beta_V^-1 = beta^-1 s_M / s_b^2 is the noise variance of the
  // node voltages (Cov(V) = beta_V^-1 M_hat^-1); each unknown has one held Gaussian current of
  // rms noise_current_rms renewed every noise_sample_time seconds.
  double noise_variance = 0.0;          // beta^-1, units of the unknowns
  double voltage_noise_variance = 0.0;  // beta_V^-1, volts^2
  double noise_sample_time = 0.0;       // NT, seconds
  double noise_current_rms = 0.0;       // NA, amps
  unsigned noise_seed = 0;
  // Real parts (nonideal.hpp; all 0 with the ideal defaults): the ADC every read-out of the
  // unknowns' node voltages goes through (bits 0: exact), and how many DAC inputs of this
  // netlist's right-hand side were clipped to the full scale.
  int adc_bits = 0;
  double adc_full_scale = 0.0;  // volts
  long dac_clipped = 0;
};

struct Netlist {
  std::string title;                   // first line of the file
  std::string encoding;                // "behavioral", "integrator"
  std::vector<std::string> header;     // comment lines, rendered as "* <line>"
  MatrixSummary summary;
  std::vector<Unknown> unknowns;
  std::vector<InputSource> inputs;
  Circuit circuit;                     // the elements, in file order (count: count_components)
  // With conductance bits: (M + damping I) as the quantized conductances realize it, s_M times
  // the grid matrix M_hat (the circuit's ideal op-amps solve exactly this); empty otherwise.
  Eigen::MatrixXd realized_matrix;
  std::vector<std::string> options;    // rendered as ".options <line>"
  double tran_step = 0.0;              // .tran TSTEP TSTOP 0 TMAX uic (cold start)
  double tran_stop = 0.0;
  double tran_max_step = 0.0;          // 0: no limit
};

// The whole file: title, header, tkfac-unknown lines, the circuit's blocks (comment lines, then
// one card per element, below), options, .tran, one
// `.meas tran tkfac_final_<index> FIND v(<node>) AT=<read_out_time>` per unknown (so
// `ngspice -b` prints the final voltages), `.end`.
std::string to_spice(const Netlist& netlist);

// Netlists that compose (`tkfac netlist --form subckt|library`, `--control`). The flat form
// above is what the in-process session loads; these are for people who put the circuit into
// their own netlists:
//   subckt:  the circuit as `.subckt tkfac_<encoding>_<n> <unknown nodes> params: res=R cap=C
//            gain=A`, every R, C, VCCS, current input and op-amp value written in terms of the
//            parameters (so X... res=2k changes R everywhere and keeps V_eq), then a top level
//            that instantiates it on nodes named as the unknowns, with .options, .tran and
//            .meas as in the flat form: `ngspice -b` runs it as is.
//   library: the .subckt alone, starting with a comment line (an `.include`d file has no
//            title line: its first line is read as a card) and without .end.
// `control` adds (subckt and flat forms) a `.control` block that runs the transient and writes
// time and the unknowns' node voltages with `wrdata <wrdata_file>` (ngspice -b runs it; the
// in-process session ignores .control blocks).
enum class NetlistForm { flat, subckt, library };
NetlistForm parse_netlist_form(const std::string& text, const std::string& option);
struct RenderOptions {
  NetlistForm form = NetlistForm::flat;
  bool control = false;
  std::string wrdata_file = "tkfac-unknowns.txt";
};
std::string to_spice(const Netlist& netlist, const RenderOptions& render);
// The subcircuit's name: tkfac_<encoding>_<n>.
std::string subckt_name(const Netlist& netlist);

// The card of one element, the one rendering rule of every kind (circuit.hpp lists the forms).
// Numbers are the shortest text that reads back as the same double (fmt's default), zero as 0,
// never -0: the text is a deterministic function of the values, readable (1e-09, not
// 1.0000000000000001e-09), and parsing a card gives back the element's value exactly.
std::string to_spice(const Element& element);

// When the `.meas` lines read the voltages: tran_stop minus 1e-3 of the maximum step, because
// ngspice may end the run a hair before TSTOP (its last time point can be an ulp short).
double read_out_time(const Netlist& netlist);

// The one read-out rule. The nodes to record, by unknown index (nodes[u.index] = u.node), the
// order read_out and the circuit's dynamics take their voltages in:
std::vector<std::string> unknown_nodes(const Netlist& netlist);
// x[i] = scale_i * voltages[i], voltages by unknown index.
Eigen::VectorXd read_out(const Netlist& netlist, const Eigen::VectorXd& voltages);
// The same with the scales given per unknown index, e.g. those of input_values() for another
// right-hand side on the same circuit.
Eigen::VectorXd read_out(const Netlist& netlist, const Eigen::VectorXd& voltages,
                         const Eigen::VectorXd& scales);

}  // namespace tkfac::netlist_gen
