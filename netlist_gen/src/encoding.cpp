#include "tkfac/netlist_gen/encoding.hpp"

#include <fmt/format.h>

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "circuit_parts.hpp"
#include "nonideal_parts.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/netlist_gen/report.hpp"

namespace tkfac::netlist_gen {
namespace {

using detail::initial_voltage;
using detail::rhs_scale;

// Relative symmetry tolerance of validate_spd.
constexpr double kSymmetryTolerance = 1e-12;

void check_rhs(const Eigen::VectorXd& b, Eigen::Index n, const char* name) {
  if (b.size() != 0 && b.size() != n) {
    throw InputError(
        fmt::format("{}: has {} entries, expected {} (one per row of the matrix) or "
                    "none (zero inputs)",
                    name, b.size(), n));
  }
  for (Eigen::Index i = 0; i < b.size(); ++i) {
    if (!std::isfinite(b(i))) {
      throw InputError(fmt::format("{}: entry {} is {}, expected a finite number", name, i, b(i)));
    }
  }
}

// Gain from b_hat to the DC value of the input source of each encoding.
double input_gain(Encoding encoding, double resistance) {
  // behavioral: a current source of g0 * b_hat. integrator: a DAC voltage of -b_hat through an
  // input resistor R into the summing node, because the integrator inverts (see integrator()).
  return encoding == Encoding::behavioral ? 1.0 / resistance : -1.0;
}

struct Scaled {
  Eigen::MatrixXd m_hat;  // (M + damping I) / s_M
  Eigen::VectorXd b_hat;  // b / s_b, zero if b is empty
  double s_m = 1.0;
  double s_b = 1.0;
  Eigen::VectorXd v0;     // warm start: initial node voltages (empty: cold start, 0 V)
};

void behavioral(const Scaled& s, const NetlistOptions& o, Netlist& nl) {
  const Eigen::Index n = s.m_hat.rows();
  const double g0 = 1.0 / o.resistance;
  Circuit& c = nl.circuit;
  Block& caps =
      c.add_block({"--- capacitors: C_i from node x_i to ground (x_i is V_i; 0 V at t = 0)"});
  for (Eigen::Index i = 0; i < n; ++i) {
    caps.elements.push_back(Element::capacitor(fmt::format("C_{}", i), fmt::format("x_{}", i), "0",
                                               o.capacitance, initial_voltage(s.v0, i, 1.0)));
  }
  Block& couplings = c.add_block(
      {"--- couplings: G_i_j draws g0*m_hat_ij*V(x_j) out of x_i (the -g0 M_hat V term)"});
  for (Eigen::Index i = 0; i < n; ++i) {
    for (Eigen::Index j = 0; j < n; ++j) {
      const double m = s.m_hat(i, j);
      if (m == 0.0) continue;
      couplings.elements.push_back(Element::vccs(fmt::format("G_{}_{}", i, j),
                                                 fmt::format("x_{}", i), "0",
                                                 fmt::format("x_{}", j), "0", g0 * m));
    }
  }
  Block& inputs =
      c.add_block({"--- inputs: I_b_i injects g0*b_hat_i into x_i (the +g0 b_hat term)"});
  const double gain = input_gain(Encoding::behavioral, o.resistance);
  for (Eigen::Index i = 0; i < n; ++i) {
    const std::string name = fmt::format("I_b_{}", i);
    inputs.elements.push_back(
        Element::current_source(name, "0", fmt::format("x_{}", i), gain * s.b_hat(i)));
    nl.inputs.push_back({static_cast<int>(i), name, gain});
  }
  for (Eigen::Index i = 0; i < n; ++i) {
    nl.unknowns.push_back({static_cast<int>(i), fmt::format("x_{}", i), s.s_b / s.s_m});
  }
}

// Sign conventions. The op-amp E_int_i drives o_i = -A V(s_i), so s_i is a virtual ground.
// Kirchhoff at s_i (the op-amp input draws no current): the capacitor current from o_i into s_i
// balances the resistor currents, C dV(o_i)/dt = -sum_k (V_k - V(s_i)) / R_k ~ -sum_k V_k / R_k.
// For C dV/dt = -g0 (M_hat V - b_hat) with V = V(o):
//   m_hat_ij > 0: resistor R/m_hat_ij from +V_j = o_j,
//   m_hat_ij < 0: resistor R/|m_hat_ij| from -V_j = neg_j (inverting amplifier, gain -R/R),
//   b_hat_i:      resistor R from a DAC at -b_hat_i volts.
// With finite gain A the virtual ground sits at -V(o_i)/A, which adds (sum_j |m_hat_ij| + 1)/A
// to the diagonal of M_hat, and the inverters give -V_j / (1 + 2/A); array_conductances trims
// the resistors for it (or, without gain_compensation, the header reports the resulting bound).
//
// Conductances of the resistor array, g0 |m_hat_ij| for ideal op-amps. With gain compensation
// the resistors are trimmed, as one trims a real analog computer to its amplifiers, so that the
// equilibrium of the finite-gain circuit is exactly M_hat V = b_hat. Kirchhoff at s_i at
// equilibrium, with V(s_i) = -V_i / A and V(neg_j) = -rho V_j, rho = A / (A + 2) (inverting
// amplifier with equal resistors):
//   sum_{m_ij>0} G_ij V_j - rho sum_{m_ij<0} G_ij V_j - G_b b_hat_i + (V_i / A) sum_k G_ik' = 0,
// where sum_k G_ik' runs over every resistor into s_i (the input's G_b = g0 included). So
// negative entries get G_ij = g0 |m_hat_ij| / rho, and the diagonal G_ii solves
//   G_ii + (S_i + G_ii + g0) / A = g0 m_hat_ii,  S_i = sum_{j != i} G_ij,
// i.e. G_ii = (g0 m_hat_ii - (S_i + g0) / A) / (1 + 1 / A). The dynamics change by O(1/A) only.
Eigen::MatrixXd array_conductances(const Eigen::MatrixXd& m_hat, const NetlistOptions& o) {
  const double g0 = 1.0 / o.resistance;
  Eigen::MatrixXd g = g0 * m_hat.cwiseAbs();
  // Programmable conductances take grid values: no trim (the finite gain's error is then the
  // circuit's, and its twin's).
  if (!o.gain_compensation || o.conductance_bits > 0) return g;
  const double a = o.opamp_gain;
  const double rho = a / (a + 2.0);
  for (Eigen::Index i = 0; i < m_hat.rows(); ++i) {
    double off_diagonal = 0.0;
    for (Eigen::Index j = 0; j < m_hat.cols(); ++j) {
      if (j == i) continue;
      if (m_hat(i, j) < 0.0) g(i, j) /= rho;
      off_diagonal += g(i, j);
    }
    const double gii = (g0 * m_hat(i, i) - (off_diagonal + g0) / a) / (1.0 + 1.0 / a);
    if (!(gii > 0.0)) {
      throw InputError(fmt::format(
          "opamp_gain = {:g}: too low to trim row {} of the integrator (its diagonal resistor "
          "would need a conductance <= 0); expected a larger gain, or gain_compensation off",
          a, i));
    }
    g(i, i) = gii;
  }
  return g;
}

void integrator(const Scaled& s, const NetlistOptions& o, Netlist& nl) {
  const Eigen::Index n = s.m_hat.rows();
  Circuit& c = nl.circuit;
  std::vector<bool> needs_inverter(static_cast<std::size_t>(n), false);
  for (Eigen::Index j = 0; j < n; ++j) {
    for (Eigen::Index i = 0; i < n; ++i) {
      if (s.m_hat(i, j) < 0.0) needs_inverter[static_cast<std::size_t>(j)] = true;
    }
  }
  Block& integrators = c.add_block(
      {"--- integrators: op-amp E_int_i (o_i = -A V(s_i)) with C_i from summing node s_i",
       "    to output o_i; -C dV(o_i)/dt = current into s_i, and o_i is V_i"});
  for (Eigen::Index i = 0; i < n; ++i) {
    // Warm start: the capacitor holds V(s_i) - V(o_i) = -V0 (1 + A) / A, so that with
    // o_i = -A V(s_i) the output starts at V0.
    integrators.elements.push_back(Element::capacitor(
        fmt::format("C_{}", i), fmt::format("s_{}", i), fmt::format("o_{}", i), o.capacitance,
        initial_voltage(s.v0, i, -(1.0 + o.opamp_gain) / o.opamp_gain)));
    integrators.elements.push_back(Element::opamp(fmt::format("E_int_{}", i),
                                                  fmt::format("o_{}", i), "0",
                                                  fmt::format("s_{}", i), o.opamp_gain));
  }
  if (std::find(needs_inverter.begin(), needs_inverter.end(), true) != needs_inverter.end()) {
    Block& inverters = c.add_block(
        {"--- inverters: neg_j = -V(o_j), op-amp E_inv_j with input and feedback resistors R",
         "    (only for the columns j that hold a negative entry)"});
    for (Eigen::Index j = 0; j < n; ++j) {
      if (!needs_inverter[static_cast<std::size_t>(j)]) continue;
      detail::add_inverter(inverters, "inv", j, "o", "sn", "neg", o.resistance, o.opamp_gain);
    }
  }
  Block& array = c.add_block(
      {"--- resistor array: R_i_j = R/|m_hat_ij| from o_j (m_hat_ij > 0) or neg_j (m_hat_ij < 0)",
       "    into s_i (the -g0 M_hat V term)"});
  const Eigen::MatrixXd g = array_conductances(s.m_hat, o);
  for (Eigen::Index i = 0; i < n; ++i) {
    for (Eigen::Index j = 0; j < n; ++j) {
      const double m = s.m_hat(i, j);
      if (m == 0.0) continue;
      array.elements.push_back(Element::resistor(fmt::format("R_{}_{}", i, j),
                                                 fmt::format("{}_{}", m > 0 ? "o" : "neg", j),
                                                 fmt::format("s_{}", i), 1.0 / g(i, j)));
    }
  }
  Block& inputs =
      c.add_block({"--- inputs: DAC V_dac_i at -b_hat_i volts through R_b_i = R into s_i (the +g0 "
                   "b_hat term)"});
  const double gain = input_gain(Encoding::integrator, o.resistance);
  for (Eigen::Index i = 0; i < n; ++i) {
    const std::string name = fmt::format("V_dac_{}", i);
    inputs.elements.push_back(
        Element::voltage_source(name, fmt::format("dac_{}", i), "0", gain * s.b_hat(i)));
    inputs.elements.push_back(Element::resistor(fmt::format("R_b_{}", i), fmt::format("dac_{}", i),
                                                fmt::format("s_{}", i), o.resistance));
    nl.inputs.push_back({static_cast<int>(i), name, gain});
  }
  for (Eigen::Index i = 0; i < n; ++i) {
    nl.unknowns.push_back({static_cast<int>(i), fmt::format("o_{}", i), s.s_b / s.s_m});
  }
}

// Largest shift of the diagonal of M_hat caused by finite op-amp gain (see integrator()).
double finite_gain_shift(const Eigen::MatrixXd& m_hat, double gain) {
  const Eigen::VectorXd row_sums = m_hat.cwiseAbs().rowwise().sum();
  return (row_sums.maxCoeff() + 1.0) / gain;
}

}  // namespace

Encoding parse_encoding(std::string_view text, std::string_view option) {
  if (option.empty()) option = tkfac::options::flag_of(netlist_option_table(), "encoding");
  if (text == "behavioral") return Encoding::behavioral;
  if (text == "integrator") return Encoding::integrator;
  if (text == "activation") return Encoding::activation;
  throw InputError(fmt::format(
      "{}: unknown encoding '{}' (accepted: behavioral, integrator, activation)", option, text));
}

std::string_view to_string(Encoding encoding) {
  switch (encoding) {
    case Encoding::behavioral:
      return "behavioral";
    case Encoding::integrator:
      return "integrator";
    case Encoding::activation:
      return "activation";
  }
  return "unknown";
}

Scaling parse_scaling(std::string_view text, std::string_view option) {
  if (option.empty()) option = tkfac::options::flag_of(netlist_option_table(), "scaling");
  if (text == "max_entry") return Scaling::max_entry;
  if (text == "none") return Scaling::none;
  throw InputError(
      fmt::format("{}: unknown scaling '{}' (accepted: max_entry, none)", option, text));
}

std::string_view to_string(Scaling scaling) {
  switch (scaling) {
    case Scaling::max_entry:
      return "max_entry";
    case Scaling::none:
      return "none";
  }
  return "unknown";
}

dense::Cholesky validate_spd(const Eigen::MatrixXd& m, double damping,
                             const std::string& name) {
  if (m.rows() != m.cols() || m.rows() == 0) {
    throw InputError(
        fmt::format("{}: is {}x{}, expected a non-empty square matrix", name, m.rows(), m.cols()));
  }
  const Eigen::Index n = m.rows();
  if (!m.allFinite()) {  // the vectorized test first; the search only to name the entry
    for (Eigen::Index j = 0; j < n; ++j) {
      for (Eigen::Index i = 0; i < n; ++i) {
        if (!std::isfinite(m(i, j))) {
          throw InputError(
              fmt::format("{}: entry ({}, {}) (indices from 0) is {}, expected finite numbers",
                          name, i, j, m(i, j)));
        }
      }
    }
  }
  if (!(std::isfinite(damping) && damping >= 0.0)) {
    throw InputError(
        fmt::format("{}: damping is {}, expected a finite damping >= 0", name, damping));
  }
  const double largest = m.cwiseAbs().maxCoeff();
  const double tolerance = kSymmetryTolerance * largest;
  // One pass over tile pairs (m's tile below the diagonal and its mirror, both in cache) checks
  // symmetry and writes the lower triangle of (m + m^T) / 2 + damping I, all that the Cholesky
  // factorization reads. A column-by-row loop would stride through memory at n in the hundreds,
  // where this check once cost as much as the factorization.
  constexpr Eigen::Index kTile = 32;
  Eigen::MatrixXd damped(n, n);  // lower triangle only: potrf never reads the upper
  double worst = 0.0, damped_largest = 0.0;
  for (Eigen::Index jb = 0; jb < n; jb += kTile) {
    const Eigen::Index je = std::min(n, jb + kTile);
    for (Eigen::Index ib = jb; ib < n; ib += kTile) {
      const Eigen::Index ie = std::min(n, ib + kTile);
      for (Eigen::Index j = jb; j < je; ++j) {
        for (Eigen::Index i = std::max(ib, j); i < ie; ++i) {
          worst = std::max(worst, std::abs(m(i, j) - m(j, i)));
          const double v = i == j ? m(i, i) + damping : 0.5 * (m(i, j) + m(j, i));
          damped(i, j) = v;
          damped_largest = std::max(damped_largest, std::abs(v));
        }
      }
    }
  }
  if (worst > tolerance) {  // name the first offending pair in column order
    for (Eigen::Index j = 0; j < n; ++j) {
      for (Eigen::Index i = j + 1; i < n; ++i) {
        const double gap = std::abs(m(i, j) - m(j, i));
        if (gap > tolerance) {
          throw InputError(fmt::format(
              "{}: is not symmetric: |m({},{}) - m({},{})| = {:.3g} exceeds 1e-12 * max|m| = "
              "{:.3g} (expected a symmetric matrix; row and column indices from 0)",
              name, i, j, j, i, gap, tolerance));
        }
      }
    }
  }
  // Positive definite when every Cholesky pivot is positive beyond rounding: a singular matrix
  // such as [[2, 2], [2, 2]] can leave a pivot of +4e-16 instead of 0, so pivots must exceed
  // n * eps * max|m|. The eigensolve, several times the cost, is only for the message. (Every
  // digital solve runs this check and then solves with its factorization.)
  const double pivot_floor =
      static_cast<double>(n) * std::numeric_limits<double>::epsilon() * damped_largest;
  dense::Cholesky cholesky(std::move(damped));
  if (!cholesky.positive_definite(pivot_floor)) {
    Eigen::MatrixXd full = 0.5 * (m + m.transpose());
    full.diagonal().array() += damping;
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(full, Eigen::EigenvaluesOnly);
    const double smallest = eig.eigenvalues()(0);
    throw InputError(fmt::format(
        "{}: is not positive definite after damping {} (smallest eigenvalue {:.6g}); expected "
        "a symmetric positive definite matrix (more damping may help)",
        name, damping, smallest));
  }
  return cholesky;
}

Netlist make_netlist(const Eigen::MatrixXd& m, const Eigen::VectorXd& b,
                     const NetlistOptions& options) {
  options.validate();
  if (options.encoding == Encoding::activation) {
    // Refused here, where every caller passes (tkfac netlist --matrix, tkfac solve, the spice
    // backend, K-FAC), so each gets the same message rather than a circuit of another encoding.
    throw InputError(fmt::format(
        "encoding ({}) = activation: the activation encoding is built from an "
        "activation array a (M = a a^T / b, never formed), not from a matrix M; expected "
        "make_activation_netlist(a, b, options), `tkfac netlist --activations a.csv` or "
        "`tkfac netlist --model ...`, or the behavioral or integrator encoding for a matrix",
        tkfac::options::flag_of(netlist_option_table(), "encoding")));
  }
  validate_spd(m, options.damping, "M");
  const Eigen::Index n = m.rows();
  check_rhs(b, n, "b");
  if (options.initial_state.size() != 0 && options.initial_state.size() != n) {
    throw InputError(fmt::format(
        "initial_state (--warm-start): has {} entries, expected {} (one per unknown) or none "
        "(cold start)",
        options.initial_state.size(), n));
  }

  Scaled s;
  Eigen::MatrixXd damped = m;
  damped.diagonal().array() += options.damping;
  // Conductance bits put M_hat on the grid (and may raise s_M): from here on M_hat is the
  // realized matrix, whose eigenvalues and tau the netlist states.
  detail::GridMatrix grid = detail::quantize_scaled(
      damped, options.scaling == Scaling::max_entry ? damped.cwiseAbs().maxCoeff() : 1.0,
      options);
  s.s_m = grid.s_m;
  s.m_hat = std::move(grid.m_hat);
  s.s_b = rhs_scale(b, options);
  s.b_hat = b.size() == 0 ? Eigen::VectorXd::Zero(n) : Eigen::VectorXd(b / s.s_b);
  if (options.initial_state.size() != 0) s.v0 = options.initial_state * (s.s_m / s.s_b);

  const Eigen::MatrixXd sym = 0.5 * (s.m_hat + s.m_hat.transpose());
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(sym, Eigen::EigenvaluesOnly);
  const double alpha_min = eig.eigenvalues()(0);
  const double alpha_max = eig.eigenvalues()(n - 1);

  Netlist nl =
      detail::start_netlist(options.encoding, options, n, alpha_min, alpha_max, s.s_m, s.s_b);
  MatrixSummary& sum = nl.summary;
  const double tau0 = options.resistance * options.capacitance;
  const bool noisy = options.noise_variance > 0.0;
  nl.realized_matrix = std::move(grid.realized);
  detail::apply_dac(options, s.b_hat, nl);

  if (options.encoding == Encoding::behavioral) {
    behavioral(s, options, nl);
  } else {
    integrator(s, options, nl);
  }
  std::vector<std::string> real_parts = std::move(grid.header);
  for (std::string& line : detail::apply_real_parts(options, nl)) real_parts.push_back(line);
  for (std::string& line : detail::add_converters(options, s.m_hat, s.b_hat, nl)) {
    real_parts.push_back(line);
  }
  detail::add_noise_sources(options, options.encoding == Encoding::behavioral ? "x" : "s", nl);
  // Integration method: Gear-2 (maxord=2 is ngspice's default for gear, stated to be sure: BDF
  // of order > 2 is not A-stable). The trapezoidal rule maps a stiff mode (step >> its time
  // constant) to a factor near -1 per step, so with steps of tau/4 and kappa = 1e3 a leftover fast
  // mode would ring for hundreds of steps; Gear-2 damps it. In the measurements (kappa up to 1e6)
  // ngspice's step control kept trap out of that regime and both gave the same accuracy, so this
  // is a safeguard, not a fix.
  // Tolerances: none set. The final voltage is the fixed point of the discretized linear
  // circuit, reached by an exact LU solve per step; reltol/abstol/vntol only steer the step
  // sizes. Measured: with 2x the default simulated time the behavioral encoding reached 1e-14
  // relative error with ngspice's default tolerances (integrator: 1e-9 at gain 1e12, the
  // finite-gain bias), so they never limit the 1e-6 target.
  nl.options.push_back("method=gear maxord=2");

  nl.title = fmt::format("tkfac {} netlist: solves (M + damping*I) x = b, n = {}", nl.encoding, n);
  auto& h = nl.header;
  h.push_back("Generated by tkfac netlist_gen; rerun it rather than editing this file.");
  h.push_back("");
  if (options.encoding == Encoding::behavioral) {
    h.push_back("Encoding: behavioral. One capacitor C per unknown from node x_i to ground,");
    h.push_back("VCCS couplings g0*m_hat_ij, input currents g0*b_hat_i. Ideal reference circuit.");
  } else {
    h.push_back("Encoding: integrator (analog computer). Per unknown an inverting op-amp");
    h.push_back("integrator (C from summing node s_i to output o_i), an inverting amplifier");
    h.push_back("giving -V_j where needed, a resistor array R/|m_hat_ij| and an input resistor");
    h.push_back("R from a DAC at -b_hat_i volts. Op-amps: VCVS of open-loop gain A.");
  }
  h.push_back(fmt::format("Dynamics: C dV/dt = -g0 (M_hat V - b_hat){}, g0 = 1/R; {} (uic).",
                          noisy ? " + i_noise" : "",
                          s.v0.size() != 0 ? "V(0) = warm start" : "V = 0 at t = 0"));
  h.push_back("");
  h.push_back(fmt::format("Matrix: n = {}, damping = {:.6g}, condition number = {:.6g}", n,
                          options.damping, sum.condition_number));
  h.push_back(fmt::format("Eigenvalues of M_hat: alpha_min = {:.6g}, alpha_max = {:.6g}", alpha_min,
                          alpha_max));
  h.push_back(fmt::format("Scaling ({}): M_hat = (M + damping*I) / s_M, s_M = {:.17g}",
                          to_string(options.scaling), s.s_m));
  h.push_back(fmt::format("             b_hat = b / s_b, s_b = {:.17g} (max|b_hat| = {:.6g})",
                          s.s_b, s.b_hat.size() ? s.b_hat.cwiseAbs().maxCoeff() : 0.0));
  h.push_back(
      fmt::format("Read-out: x_i = scale * V(node_i), scale = s_b / s_M = {:.17g}", s.s_b / s.s_m));
  h.push_back("          (one `tkfac-unknown <index> <node> <scale>` line per unknown below)");
  h.push_back("");
  h.push_back(fmt::format("R = {:.6g} ohm, C = {:.6g} F, tau0 = R C = {:.6g} s", options.resistance,
                          options.capacitance, tau0));
  if (options.encoding == Encoding::integrator) {
    if (options.gain_compensation && options.conductance_bits == 0) {
      h.push_back(fmt::format("Op-amp gain A = {:.6g}: resistors trimmed for it (the array's",
                              options.opamp_gain));
      h.push_back("          values differ from R/|m_hat_ij| by O(1/A)), so the equilibrium");
      h.push_back("          solves M_hat V = b_hat exactly for VCVS op-amps of this gain");
    } else {
      const double shift = finite_gain_shift(s.m_hat, options.opamp_gain);
      sum.finite_gain_error = shift / alpha_min;
      h.push_back(
          fmt::format("Op-amp gain A = {:.6g}: shifts the diagonal of M_hat by at most {:.3g}",
                      options.opamp_gain, shift));
      h.push_back(
          fmt::format("          (relative solution error up to about {:.3g} = shift / "
                      "alpha_min; no gain compensation)",
                      sum.finite_gain_error));
    }
  }
  Eigen::VectorXd inverse_diagonal;
  if (noisy) inverse_diagonal = (s.m_hat * s.s_m).inverse().diagonal();
  detail::add_transient_header(options, inverse_diagonal, nl);
  if (s.v0.size() != 0) {
    h.push_back(fmt::format("Warm start: capacitor IC = the start state / scale (V0 max |{:.6g}| V)",
                            s.v0.cwiseAbs().maxCoeff()));
  }
  for (std::string& line : real_parts) h.push_back(std::move(line));
  const ComponentCounts c = count_components(nl.circuit);
  h.push_back(
      fmt::format("Components: {} capacitors, {} resistors, {} op-amps (VCVS), {} VCCS, {} "
                  "independent sources",
                  c.capacitors, c.resistors, c.amplifiers, c.controlled_sources, c.sources));
  h.push_back("");
  append_hardware_report(nl);
  return nl;
}

InputValues input_values(const Netlist& netlist, const Eigen::VectorXd& b,
                         const NetlistOptions& options) {
  options.validate();
  check_rhs(b, netlist.summary.size, "b");
  const double s_b = rhs_scale(b, options);
  InputValues out;
  const Converter dac{options.dac_bits, options.input_full_scale};  // as make_netlist's inputs
  for (const InputSource& in : netlist.inputs) {
    const double b_hat = dac.convert(b.size() == 0 ? 0.0 : b(in.index) / s_b);
    out.sources.emplace_back(in.element, in.gain * b_hat + 0.0);  // + 0.0: no -0
  }
  out.unknown_scales =
      Eigen::VectorXd::Constant(netlist.summary.size, s_b / netlist.summary.matrix_scale);
  return out;
}

void plan_final_state(const NetlistOptions& options, Netlist& netlist) {
  if (netlist.summary.noise_variance > 0.0 || options.noise_variance > 0.0) {
    throw InputError(
        "plan_final_state: the netlist is noisy; its samples matter, not only the final state "
        "(expected a noiseless netlist)");
  }
  if (options.initial_state.size() != 0) {
    throw InputError(
        "plan_final_state: a warm start (initial_state given); expected a cold start, for which "
        "the simulated time bounds the final error");
  }
  detail::plan_final_state_steps(options, netlist);
}

}  // namespace tkfac::netlist_gen
