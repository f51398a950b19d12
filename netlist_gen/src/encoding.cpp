#include "tkfac/netlist_gen/encoding.hpp"

#include <fmt/format.h>

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "tkfac/core/error.hpp"

namespace tkfac::netlist_gen {
namespace {

// Simulated time beyond tau * ln(1/target_rel_error), in units of tau. From a cold start the
// error is V(t) - V_eq = -exp(-M_hat t / RC) V_eq, so ||error|| <= exp(-t / tau) ||V_eq|| and no
// margin is needed in exact arithmetic. Measured without it (n = 16 and 64, kappa 10 to 1e5),
// the relative error landed at 0.2e-6 to 0.95e-6 for a 1e-6 target: on the edge, with nothing
// left for per-component errors, read-back digits or a finite op-amp gain. One extra decade,
// ln(10) (+17% simulated time), puts it at 1e-8 to 1e-7. See circuits/README.md.
constexpr double kSimTimeMargin = 2.302585092994046;  // ln(10)

// Maximum time step as a fraction of tau = RC / alpha_min (the slowest mode). With Gear-2 a mode
// of time constant T decays per step h by the larger root of (3/2 + h/T) z^2 - 2 z + 1/2 = 0:
// for h/T = 1/4, 0.7735 against exp(-1/4) = 0.7788, so the slow mode, which sets the final
// accuracy, is followed to about 3% in rate; every faster mode decays per step by at most
// sqrt(1/2 / (3/2 + h/T)) < 0.78, and no mode rings (Gear-2 is L-stable). Measured: tau/10
// costs twice the time points of tau/4 for the same final error; tau/1 with Gear lost an
// order of magnitude of accuracy (the slow mode decays too slowly at h/T = 1).
constexpr double kMaxStepPerTau = 0.25;

// Default noise sample time NT as a fraction of the fastest time constant R C / alpha_max. The
// circuit sees held noise; at its sample times the variance of a mode of rate a is reduced by
// tanh(a NT / 2) / (a NT / 2) = 1 - (a NT)^2 / 12 + ...: below 1e-3 here for every mode. ngspice
// puts a breakpoint at every NT, so NT also sets the cost (number of time points).
constexpr double kNoiseSamplesPerFastestTau = 0.1;

// Relative symmetry tolerance of validate_spd.
constexpr double kSymmetryTolerance = 1e-12;

// Element values: the shortest text that reads back as the same double (fmt's default for
// doubles), a fixed rule, so the text is a deterministic function of the values and stays
// readable (1e-09, not 1.0000000000000001e-09).
// Zero prints as 0, never -0 (a DAC at -b_hat with b_hat = 0).
std::string num(double value) { return fmt::format("{}", value == 0.0 ? 0.0 : value); }

// Rounds `value` > 0 to 3 significant digits, up or down. The simulated time and step sizes
// come from eigenvalues, whose last bits may vary with the Eigen version or the compiler; rounded,
// they keep golden netlists stable and read better. The result is parsed back from its decimal
// text, so it prints as e.g. 0.00403 rather than 0.004030000000000001.
double round3(double value, bool up) {
  const int exponent = static_cast<int>(std::floor(std::log10(value))) - 2;
  const double mantissa = value / std::pow(10.0, exponent);
  // 1e-9 guards against 123.0000000001 being rounded up to 124.
  const double digits = up ? std::ceil(mantissa - 1e-9) : std::floor(mantissa + 1e-9);
  const std::string text = fmt::format("{}e{}", static_cast<long long>(digits), exponent);
  double out = 0.0;
  std::from_chars(text.data(), text.data() + text.size(), out);
  return out;
}

double rhs_scale(const Eigen::VectorXd& b, const NetlistOptions& options) {
  if (options.scaling == Scaling::none || b.size() == 0) return 1.0;
  const double largest = b.cwiseAbs().maxCoeff();
  return largest > 0 ? largest / options.input_full_scale : 1.0;
}

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

// ` IC=<v>` for capacitor i of a warm start, nothing for a cold one.
std::string initial_condition(const Scaled& s, Eigen::Index i, double factor) {
  if (s.v0.size() == 0) return "";
  return fmt::format(" IC={}", num(factor * s.v0(i)));
}

void behavioral(const Scaled& s, const NetlistOptions& o, Netlist& nl) {
  const Eigen::Index n = s.m_hat.rows();
  const double g0 = 1.0 / o.resistance;
  auto& e = nl.elements;
  e.push_back("*");
  e.push_back("* --- capacitors: C_i from node x_i to ground (x_i is V_i; 0 V at t = 0)");
  for (Eigen::Index i = 0; i < n; ++i) {
    e.push_back(fmt::format("C_{} x_{} 0 {}{}", i, i, num(o.capacitance),
                            initial_condition(s, i, 1.0)));
    ++nl.counts.capacitors;
  }
  e.push_back("*");
  e.push_back("* --- couplings: G_i_j draws g0*m_hat_ij*V(x_j) out of x_i (the -g0 M_hat V term)");
  for (Eigen::Index i = 0; i < n; ++i) {
    for (Eigen::Index j = 0; j < n; ++j) {
      const double m = s.m_hat(i, j);
      if (m == 0.0) continue;
      e.push_back(fmt::format("G_{}_{} x_{} 0 x_{} 0 {}", i, j, i, j, num(g0 * m)));
      ++nl.counts.controlled_sources;
    }
  }
  e.push_back("*");
  e.push_back("* --- inputs: I_b_i injects g0*b_hat_i into x_i (the +g0 b_hat term)");
  const double gain = input_gain(Encoding::behavioral, o.resistance);
  for (Eigen::Index i = 0; i < n; ++i) {
    const std::string name = fmt::format("I_b_{}", i);
    e.push_back(fmt::format("{} 0 x_{} dc {}", name, i, num(gain * s.b_hat(i))));
    nl.inputs.push_back({static_cast<int>(i), name, gain});
    ++nl.counts.sources;
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
  if (!o.gain_compensation) return g;
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
  auto& e = nl.elements;
  std::vector<bool> needs_inverter(static_cast<std::size_t>(n), false);
  for (Eigen::Index j = 0; j < n; ++j) {
    for (Eigen::Index i = 0; i < n; ++i) {
      if (s.m_hat(i, j) < 0.0) needs_inverter[static_cast<std::size_t>(j)] = true;
    }
  }
  e.push_back("*");
  e.push_back("* --- integrators: op-amp E_int_i (o_i = -A V(s_i)) with C_i from summing node s_i");
  e.push_back("*     to output o_i; -C dV(o_i)/dt = current into s_i, and o_i is V_i");
  for (Eigen::Index i = 0; i < n; ++i) {
    // Warm start: the capacitor holds V(s_i) - V(o_i) = -V0 (1 + A) / A, so that with
    // o_i = -A V(s_i) the output starts at V0.
    e.push_back(fmt::format("C_{} s_{} o_{} {}{}", i, i, i, num(o.capacitance),
                            initial_condition(s, i, -(1.0 + o.opamp_gain) / o.opamp_gain)));
    e.push_back(fmt::format("E_int_{} o_{} 0 0 s_{} {}", i, i, i, num(o.opamp_gain)));
    ++nl.counts.capacitors;
    ++nl.counts.amplifiers;
  }
  if (std::find(needs_inverter.begin(), needs_inverter.end(), true) != needs_inverter.end()) {
    e.push_back("*");
    e.push_back(
        "* --- inverters: neg_j = -V(o_j), op-amp E_inv_j with input and feedback "
        "resistors R");
    e.push_back("*     (only for the columns j that hold a negative entry)");
    for (Eigen::Index j = 0; j < n; ++j) {
      if (!needs_inverter[static_cast<std::size_t>(j)]) continue;
      e.push_back(fmt::format("R_inv_in_{} o_{} sn_{} {}", j, j, j, num(o.resistance)));
      e.push_back(fmt::format("R_inv_fb_{} sn_{} neg_{} {}", j, j, j, num(o.resistance)));
      e.push_back(fmt::format("E_inv_{} neg_{} 0 0 sn_{} {}", j, j, j, num(o.opamp_gain)));
      nl.counts.resistors += 2;
      ++nl.counts.amplifiers;
    }
  }
  e.push_back("*");
  e.push_back(
      "* --- resistor array: R_i_j = R/|m_hat_ij| from o_j (m_hat_ij > 0) or neg_j "
      "(m_hat_ij < 0)");
  e.push_back("*     into s_i (the -g0 M_hat V term)");
  const Eigen::MatrixXd g = array_conductances(s.m_hat, o);
  for (Eigen::Index i = 0; i < n; ++i) {
    for (Eigen::Index j = 0; j < n; ++j) {
      const double m = s.m_hat(i, j);
      if (m == 0.0) continue;
      e.push_back(fmt::format("R_{}_{} {}_{} s_{} {}", i, j, m > 0 ? "o" : "neg", j, i,
                              num(1.0 / g(i, j))));
      ++nl.counts.resistors;
    }
  }
  e.push_back("*");
  e.push_back(
      "* --- inputs: DAC V_dac_i at -b_hat_i volts through R_b_i = R into s_i (the +g0 "
      "b_hat term)");
  const double gain = input_gain(Encoding::integrator, o.resistance);
  for (Eigen::Index i = 0; i < n; ++i) {
    const std::string name = fmt::format("V_dac_{}", i);
    e.push_back(fmt::format("{} dac_{} 0 dc {}", name, i, num(gain * s.b_hat(i))));
    e.push_back(fmt::format("R_b_{} dac_{} s_{} {}", i, i, i, num(o.resistance)));
    nl.inputs.push_back({static_cast<int>(i), name, gain});
    ++nl.counts.sources;
    ++nl.counts.resistors;
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
  if (text == "behavioral") return Encoding::behavioral;
  if (text == "integrator") return Encoding::integrator;
  throw InputError(
      fmt::format("{}: unknown encoding '{}' (accepted: behavioral, integrator)", option, text));
}

std::string_view to_string(Encoding encoding) {
  switch (encoding) {
    case Encoding::behavioral:
      return "behavioral";
    case Encoding::integrator:
      return "integrator";
  }
  return "unknown";
}

Scaling parse_scaling(std::string_view text, std::string_view option) {
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

void NetlistOptions::validate() const {
  auto positive = [](double v, const char* field, const char* what) {
    if (!(std::isfinite(v) && v > 0.0)) {
      throw InputError(fmt::format("{} = {}: expected {}", field, v, what));
    }
  };
  if (encoding != Encoding::behavioral && encoding != Encoding::integrator) {
    throw InputError("encoding: expected behavioral or integrator");
  }
  if (scaling != Scaling::max_entry && scaling != Scaling::none) {
    throw InputError("scaling: expected max_entry or none");
  }
  positive(resistance, "resistance", "a finite resistance > 0 ohms");
  positive(capacitance, "capacitance", "a finite capacitance > 0 farads");
  positive(opamp_gain, "opamp_gain", "a finite op-amp gain > 0");
  positive(input_full_scale, "input_full_scale", "a finite full scale > 0");
  if (!(std::isfinite(damping) && damping >= 0.0)) {
    throw InputError(fmt::format("damping = {}: expected a finite damping >= 0", damping));
  }
  if (!(std::isfinite(sim_time) && sim_time >= 0.0)) {
    throw InputError(fmt::format(
        "sim_time = {}: expected a finite time >= 0 seconds (0: derived from the relaxation time)",
        sim_time));
  }
  if (!(target_rel_error > 0.0 && target_rel_error < 1.0)) {
    throw InputError(
        fmt::format("target_rel_error = {}: expected a relative error strictly between 0 and 1",
                    target_rel_error));
  }
  if (!(std::isfinite(noise_variance) && noise_variance >= 0.0)) {
    throw InputError(
        fmt::format("noise_variance (--noise-variance) = {}: expected a finite variance >= 0 (0: no "
                    "noise)",
                    noise_variance));
  }
  if (!(std::isfinite(noise_sample_time) && noise_sample_time >= 0.0)) {
    throw InputError(fmt::format(
        "noise_sample_time (--noise-sample-time) = {}: expected a finite time >= 0 seconds (0: "
        "automatic)",
        noise_sample_time));
  }
  if (!(std::isfinite(max_step) && max_step >= 0.0)) {
    throw InputError(fmt::format(
        "max_step (--max-step) = {}: expected a finite time >= 0 seconds (0: automatic)",
        max_step));
  }
  if (noise_variance > 0.0 && max_step > 0.0 && noise_sample_time > 0.0 &&
      max_step > noise_sample_time) {
    throw InputError(fmt::format(
        "max_step (--max-step) = {}: larger than the noise sample time {} (--noise-sample-time); "
        "expected a maximum time step <= the noise sample time",
        max_step, noise_sample_time));
  }
  if (!initial_state.allFinite()) {
    throw InputError("initial_state (--warm-start): expected finite numbers");
  }
}

void validate_spd(const Eigen::MatrixXd& m, double damping, const std::string& name) {
  if (m.rows() != m.cols() || m.rows() == 0) {
    throw InputError(
        fmt::format("{}: is {}x{}, expected a non-empty square matrix", name, m.rows(), m.cols()));
  }
  const Eigen::Index n = m.rows();
  for (Eigen::Index j = 0; j < n; ++j) {
    for (Eigen::Index i = 0; i < n; ++i) {
      if (!std::isfinite(m(i, j))) {
        throw InputError(
            fmt::format("{}: entry ({}, {}) (indices from 0) is {}, expected finite numbers", name,
                        i, j, m(i, j)));
      }
    }
  }
  if (!(std::isfinite(damping) && damping >= 0.0)) {
    throw InputError(
        fmt::format("{}: damping is {}, expected a finite damping >= 0", name, damping));
  }
  const double largest = m.cwiseAbs().maxCoeff();
  const double tolerance = kSymmetryTolerance * largest;
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
  Eigen::MatrixXd damped = 0.5 * (m + m.transpose());
  damped.diagonal().array() += damping;
  // Positive definite when every Cholesky pivot is positive beyond rounding: a singular matrix
  // such as [[2, 2], [2, 2]] can leave a pivot of +4e-16 instead of 0, so pivots must exceed
  // n * eps * max|m|. The eigensolve, several times the cost, is only for the message. (Every
  // digital solve runs this check.)
  const Eigen::LLT<Eigen::MatrixXd> llt(damped);
  const double pivot_floor = static_cast<double>(n) * std::numeric_limits<double>::epsilon() *
                             damped.cwiseAbs().maxCoeff();
  if (llt.info() != Eigen::Success ||
      !(llt.matrixLLT().diagonal().array().square().minCoeff() > pivot_floor)) {
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(damped, Eigen::EigenvaluesOnly);
    const double smallest = eig.eigenvalues()(0);
    throw InputError(fmt::format(
        "{}: is not positive definite after damping {} (smallest eigenvalue {:.6g}); expected "
        "a symmetric positive definite matrix (more damping may help)",
        name, damping, smallest));
  }
}

Netlist make_netlist(const Eigen::MatrixXd& m, const Eigen::VectorXd& b,
                     const NetlistOptions& options) {
  options.validate();
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
  s.s_m = options.scaling == Scaling::max_entry ? damped.cwiseAbs().maxCoeff() : 1.0;
  s.m_hat = damped / s.s_m;
  s.s_b = rhs_scale(b, options);
  s.b_hat = b.size() == 0 ? Eigen::VectorXd::Zero(n) : Eigen::VectorXd(b / s.s_b);
  if (options.initial_state.size() != 0) s.v0 = options.initial_state * (s.s_m / s.s_b);

  const Eigen::MatrixXd sym = 0.5 * (s.m_hat + s.m_hat.transpose());
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(sym, Eigen::EigenvaluesOnly);
  const double alpha_min = eig.eigenvalues()(0);
  const double alpha_max = eig.eigenvalues()(n - 1);

  Netlist nl;
  nl.encoding = std::string(to_string(options.encoding));
  MatrixSummary& sum = nl.summary;
  sum.size = static_cast<int>(n);
  sum.damping = options.damping;
  sum.condition_number = alpha_max / alpha_min;
  sum.alpha_min = alpha_min;
  sum.alpha_max = alpha_max;
  sum.matrix_scale = s.s_m;
  sum.rhs_scale = s.s_b;
  sum.resistance = options.resistance;
  sum.capacitance = options.capacitance;
  const double tau0 = options.resistance * options.capacitance;
  sum.predicted_tau = tau0 / alpha_min;
  sum.sim_time =
      options.sim_time > 0.0
          ? options.sim_time
          : round3(sum.predicted_tau * (std::log(1.0 / options.target_rel_error) + kSimTimeMargin),
                   true);

  nl.tran_stop = sum.sim_time;
  nl.tran_max_step =
      round3(std::min(kMaxStepPerTau * sum.predicted_tau, sum.sim_time / 20.0), false);
  const bool noisy = options.noise_variance > 0.0;
  if (noisy) {
    // Noise sizing (DESIGN.md section 3, rederived). In s = t / (R C) the node voltages obey
    // dV = -(M_hat V - b_hat) ds + (R / sqrt(R C)) sqrt(S_i) dW_s for a white current of
    // two-sided density S_i per node; the Lyapunov equation M_hat P + P M_hat = (R / C) S_i I gives
    // Cov(V) = beta_V^-1 M_hat^-1 with beta_V^-1 = S_i R / (2 C). x = (s_b / s_M) V and
    // M_hat = M / s_M turn the target Cov(x) = beta^-1 M^-1 into beta_V^-1 = beta^-1 s_M / s_b^2.
    // A Gaussian current of rms NA held for NT seconds at a time (TRRANDOM type 2) integrates
    // to variance NA^2 NT per NT, so over times >> NT it acts as S_i = NA^2 NT:
    // NA = sqrt(2 C beta_V^-1 / (R NT)). At the sample times each mode of rate a is then an exact
    // AR(1) sequence with variance beta_V^-1 / alpha_k * tanh(a NT / 2) / (a NT / 2): 1 - 1e-3 at
    // the default NT (a NT <= 0.1), stated in the header.
    sum.noise_variance = options.noise_variance;
    sum.voltage_noise_variance = options.noise_variance * s.s_m / (s.s_b * s.s_b);
    sum.noise_sample_time = options.noise_sample_time > 0.0
                                ? options.noise_sample_time
                                : round3(kNoiseSamplesPerFastestTau * tau0 / alpha_max, false);
    sum.noise_current_rms = std::sqrt(2.0 * options.capacitance * sum.voltage_noise_variance /
                                      (options.resistance * sum.noise_sample_time));
    sum.noise_seed = options.noise_seed;
    if (options.max_step > sum.noise_sample_time) {
      throw InputError(fmt::format(
          "max_step (--max-step) = {}: larger than the noise sample time {} s "
          "(--noise-sample-time); expected a maximum time step <= the noise sample time",
          options.max_step, sum.noise_sample_time));
    }
    // The held noise changes every NT: a step longer than NT would skip noise samples.
    nl.tran_max_step = options.max_step > 0.0 ? options.max_step : sum.noise_sample_time;
  } else if (options.max_step > 0.0) {
    nl.tran_max_step = options.max_step;
  }
  // Nothing is printed at TSTEP intervals (.meas reads the final point; a session streams the
  // accepted points), but ngspice starts with a step of min(TSTEP, TSTOP/200)/10 or so: TSTEP =
  // tau0 / alpha_max, the fastest mode, lets the first steps resolve it; then the truncation-
  // error control grows the steps up to TMAX as the fast modes die out.
  nl.tran_step = round3(std::min(tau0 / alpha_max, nl.tran_max_step), false);

  if (options.encoding == Encoding::behavioral) {
    behavioral(s, options, nl);
  } else {
    integrator(s, options, nl);
  }
  if (noisy) {
    auto& e = nl.elements;
    const bool beh = options.encoding == Encoding::behavioral;
    e.push_back("*");
    e.push_back(fmt::format(
        "* --- noise: I_n_i injects a Gaussian current of rms NA held for NT into {} (TRRANDOM "
        "type 2:",
        beh ? "x_i" : "the summing node s_i"));
    e.push_back("*     TS = NT, TD = 0, standard deviation NA, mean 0), seeded by .options seed;");
    e.push_back("*     for odd n a pad source into a resistor makes the count even (see tkfac source)");
    for (Eigen::Index i = 0; i < n; ++i) {
      e.push_back(fmt::format("I_n_{} 0 {}_{} dc 0 trrandom(2 {} 0 {} 0)", i, beh ? "x" : "s", i,
                              num(sum.noise_sample_time), num(sum.noise_current_rms)));
      ++nl.counts.sources;
    }
    // An even number of noise sources. ngspice's Gaussian generator (polar method) keeps the
    // second value of each pair for the next call, and `.options seed` does not clear it: in the
    // shared library, a run that drew an odd number of values shifted the next run's sequence
    // by one (measured on 39.3: with 3 sources, runs 1 and 3 of one netlist agreed with
    // `ngspice -b`, run 2 did not). Every source draws once per NT, so with an even count each
    // run draws an even number and leaves nothing behind. The pad source drives a resistor only.
    if (n % 2 == 1) {
      e.push_back(fmt::format("I_n_pad 0 noise_pad dc 0 trrandom(2 {} 0 {} 0)",
                              num(sum.noise_sample_time), num(sum.noise_current_rms)));
      e.push_back(fmt::format("R_noise_pad noise_pad 0 {}", num(options.resistance)));
      ++nl.counts.sources;
      ++nl.counts.resistors;
    }
    nl.options.push_back(fmt::format("seed={}", options.noise_seed));
  }
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
    if (options.gain_compensation) {
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
  h.push_back(
      fmt::format("Predicted tau = R C / alpha_min = {:.6g} s (slowest mode)", sum.predicted_tau));
  if (options.sim_time > 0.0) {
    h.push_back(fmt::format("Simulated time = {:.6g} s (= {:.3g} tau, given)", sum.sim_time,
                            sum.sim_time / sum.predicted_tau));
  } else {
    h.push_back(fmt::format("Simulated time = {:.6g} s = tau * (ln(1/{:.3g}) + ln(10)) rounded up",
                            sum.sim_time, options.target_rel_error));
    h.push_back(
        fmt::format("          (cold-start error below {:.3g} relative, one decade of margin)",
                    options.target_rel_error));
  }
  h.push_back(fmt::format(
      "Time steps: TSTEP = {:.3g} s (fastest mode tau0 / alpha_max, at most TMAX),", nl.tran_step));
  if (noisy || options.max_step > 0.0) {
    h.push_back(fmt::format("          TMAX = {:.3g} s ({})", nl.tran_max_step,
                            options.max_step > 0.0 ? "given" : "the noise sample time NT"));
  } else {
    h.push_back(fmt::format("          TMAX = {:.3g} s (tau / 4, or simulated time / 20 if smaller)",
                            nl.tran_max_step));
  }
  if (noisy) {
    h.push_back("");
    h.push_back(fmt::format(
        "Noise: beta^-1 = {:.6g} (units of the unknowns): x ~ N(M^-1 b, beta^-1 M^-1), M damped",
        sum.noise_variance));
    h.push_back(fmt::format("       node voltages: beta_V^-1 = beta^-1 s_M / s_b^2 = {:.6g} V^2",
                            sum.voltage_noise_variance));
    h.push_back(fmt::format(
        "       sources I_n_i: TRRANDOM Gaussian, NA = sqrt(2 C beta_V^-1 / (R NT)) = {:.6g} A,",
        sum.noise_current_rms));
    h.push_back(fmt::format(
        "       held NT = {:.6g} s (= {:.3g} R C / alpha_max); TMAX = {:.6g} s <= NT", 
        sum.noise_sample_time, sum.noise_sample_time * alpha_max / tau0, nl.tran_max_step));
    h.push_back(fmt::format("       seed = {} (.options seed; same seed, same samples)",
                            sum.noise_seed));
    const double u_max = alpha_max * sum.noise_sample_time / tau0;
    h.push_back(fmt::format(
        "       variance at the sample times: mode factor tanh(u/2)/(u/2), u = alpha NT / (R C),"));
    h.push_back(fmt::format("       between {:.6f} (fastest mode) and 1", 
                            std::tanh(0.5 * u_max) / (0.5 * u_max)));
    // Expected standard deviation of each unknown: sqrt(beta^-1 ((M + damping I)^-1)_ii).
    const Eigen::MatrixXd inv = (s.m_hat * s.s_m).inverse();
    std::string line = "Expected std of x_i (sqrt(beta^-1 (M^-1)_ii)):";
    for (Eigen::Index i = 0; i < n; ++i) {
      const std::string item = fmt::format(" {:.4g}", std::sqrt(sum.noise_variance * inv(i, i)));
      if (line.size() + item.size() > 92) {
        h.push_back(line);
        line = "         ";
      }
      line += item;
    }
    h.push_back(line);
  }
  if (s.v0.size() != 0) {
    h.push_back(fmt::format("Warm start: capacitor IC = the start state / scale (V0 max |{:.6g}| V)",
                            s.v0.cwiseAbs().maxCoeff()));
  }
  const ComponentCounts& c = nl.counts;
  h.push_back(
      fmt::format("Components: {} capacitors, {} resistors, {} op-amps (VCVS), {} VCCS, {} "
                  "independent sources",
                  c.capacitors, c.resistors, c.amplifiers, c.controlled_sources, c.sources));
  h.push_back("");
  return nl;
}

InputValues input_values(const Netlist& netlist, const Eigen::VectorXd& b,
                         const NetlistOptions& options) {
  options.validate();
  check_rhs(b, netlist.summary.size, "b");
  const double s_b = rhs_scale(b, options);
  InputValues out;
  for (const InputSource& in : netlist.inputs) {
    const double b_hat = b.size() == 0 ? 0.0 : b(in.index) / s_b;
    out.sources.emplace_back(in.element, in.gain * b_hat + 0.0);  // + 0.0: no -0
  }
  out.unknown_scales =
      Eigen::VectorXd::Constant(netlist.summary.size, s_b / netlist.summary.matrix_scale);
  return out;
}

}  // namespace tkfac::netlist_gen
