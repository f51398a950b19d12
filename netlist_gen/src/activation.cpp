#include "tkfac/netlist_gen/activation.hpp"

#include <fmt/format.h>

#include <Eigen/SVD>
#include <algorithm>
#include <cmath>
#include <vector>

#include "circuit_parts.hpp"
#include "nonideal_parts.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/netlist_gen/report.hpp"

namespace tkfac::netlist_gen {
namespace {

using detail::initial_voltage;
using detail::rhs_scale;

// Below this fraction of the largest eigenvalue an undamped a a^T / b counts as singular (a of
// deficient row rank): the SVD gives such eigenvalues only to about 1e-16 relative.
constexpr double kSingularRelative = 1e-14;

// The conductances of the circuit, trimmed for op-amps of gain A (see the derivation below).
//
// Nodes and sign conventions (V_i = V(o_i), every op-amp a VCVS out = -A V(in)):
//   integrator i:  o_i = -A V(s_i), C from s_i to o_i: C dV(o_i)/dt = -(current into s_i);
//   inverter:      neg = -rho V(in), rho = A / (A + 2) (input and feedback resistors equal);
//   summing amp k: y_k = -A V(p_k), feedback G_fb_k from p_k to y_k.
// First array (into p_k): G1_ik from o_i (F_ik > 0) or neg_i (F_ik < 0). Kirchhoff at p_k with
// V(p_k) = -y_k / A:
//   sum_i G1_ik u_ik + y_k (G_fb_k (1 + 1/A) + S1_k / A) = 0,   S1_k = sum_i G1_ik,
// where G1_ik u_ik = g0 F_ik V_i if the negative entries get G1_ik = g0 |F_ik| / rho. Then
// G_fb_k = (g0 - S1_k / A) / (1 + 1/A) makes y_k = -(F^T V)_k exactly.
// Second array (into s_i): G2_ik from ny_k = -rho y_k (F_ik > 0, G2_ik = g0 F_ik / rho) or y_k
// (F_ik < 0, G2_ik = g0 |F_ik|): current g0 (F F^T V)_i. Kirchhoff at s_i at equilibrium, with
// V(s_i) = -V_i / A, a damping conductance G_d from o_i (or from neg_i, sign -rho) and the input
// g0 from the DAC at -b_hat_i:
//   g0 (F F^T V)_i +/- G_d V_i - g0 b_hat_i + (V_i / A)(S2_i + G_d + g0) = 0,
// which is g0 (M_hat V - b_hat)_i = 0 exactly when
//   from o_i:   G_d = (g0 mu - (S2_i + g0) / A) / (1 + 1/A)      (needs g0 mu > (S2_i + g0) / A),
//   from neg_i: G_d = ((S2_i + g0) / A - g0 mu) / (rho - 1/A)    (otherwise).
// The dynamics change by O(1/A) only (the capacitor sees V(s_i) - V(o_i) = -V_i (1 + 1/A)).
struct Conductances {
  Eigen::MatrixXd first;    // G1, N x b
  Eigen::MatrixXd second;   // G2, N x b
  Eigen::VectorXd feedback;  // G_fb_k (0 for an all-zero column: no amplifier)
  Eigen::VectorXd damping;  // G_d_i (0: no resistor)
  std::vector<bool> damping_from_neg;
};

Conductances conductances(const Eigen::MatrixXd& f, double mu, const NetlistOptions& o) {
  const double g0 = 1.0 / o.resistance;
  const double a = o.opamp_gain;
  const double rho = a / (a + 2.0);
  const bool comp = o.gain_compensation;
  const Eigen::Index n = f.rows(), b = f.cols();
  Conductances c;
  c.first = g0 * f.cwiseAbs();
  c.second = g0 * f.cwiseAbs();
  c.feedback = Eigen::VectorXd::Zero(b);
  c.damping = Eigen::VectorXd::Zero(n);
  c.damping_from_neg.assign(static_cast<std::size_t>(n), false);
  if (comp) {
    for (Eigen::Index k = 0; k < b; ++k) {
      for (Eigen::Index i = 0; i < n; ++i) {
        if (f(i, k) < 0.0) c.first(i, k) /= rho;
        if (f(i, k) > 0.0) c.second(i, k) /= rho;
      }
    }
  }
  for (Eigen::Index k = 0; k < b; ++k) {
    if (c.first.col(k).sum() == 0.0) continue;  // zero column: no amplifier
    const double s1 = c.first.col(k).sum();
    c.feedback(k) = comp ? (g0 - s1 / a) / (1.0 + 1.0 / a) : g0;
    if (!(c.feedback(k) > 0.0)) {
      throw InputError(fmt::format(
          "opamp_gain = {:g}: too low to trim summing amplifier {} of the activation encoding "
          "(its feedback resistor would need a conductance <= 0); expected a larger gain, or "
          "gain_compensation off",
          a, k));
    }
  }
  for (Eigen::Index i = 0; i < n; ++i) {
    const double target = g0 * mu;
    if (!comp) {
      c.damping(i) = target;
      continue;
    }
    const double net = target - (c.second.row(i).sum() + g0) / a;
    if (net > 0.0) {
      c.damping(i) = net / (1.0 + 1.0 / a);
    } else if (net < 0.0) {
      c.damping(i) = -net / (rho - 1.0 / a);
      c.damping_from_neg[static_cast<std::size_t>(i)] = true;
    }
  }
  return c;
}

// Bound on the relative error of the untrimmed circuit's equilibrium (gain_compensation off),
// to first order in 1/A: the summing amplifiers' gains are off by (1 + S1_k / g0) / A, the
// inverters by 2/A, each perturbing F F^T by at most that times ||F||_F^2; the integrators'
// summing nodes leak (S2_i / g0 + mu + 1) / A onto the diagonal. Divided by alpha_min.
double finite_gain_bound(const Eigen::MatrixXd& f, double mu, double gain, double alpha_min) {
  const double column_error = (f.cwiseAbs().colwise().sum().maxCoeff() + 1.0) / gain + 4.0 / gain;
  const double leak = (f.cwiseAbs().rowwise().sum().maxCoeff() + mu + 1.0) / gain;
  return (column_error * f.squaredNorm() + leak) / alpha_min;
}

// diag((a a^T / b + damping I)^-1) without forming the matrix: with the thin SVD a = U S V^T,
// sum_k U_ik^2 / (s_k^2 / b + damping) over the singular vectors, plus (1 - sum_k U_ik^2) /
// damping for the part of e_i outside the column space of a (none when damping is 0, which
// validate_activations allows only for a of full row rank).
Eigen::VectorXd activation_inverse_diagonal(const Eigen::MatrixXd& a, double damping) {
  const Eigen::BDCSVD<Eigen::MatrixXd> svd(a, Eigen::ComputeThinU);
  const Eigen::MatrixXd& u = svd.matrixU();
  const Eigen::VectorXd& sigma = svd.singularValues();
  const double batch = static_cast<double>(a.cols());
  Eigen::VectorXd out = Eigen::VectorXd::Zero(a.rows());
  for (Eigen::Index i = 0; i < a.rows(); ++i) {
    double inside = 0.0;
    for (Eigen::Index k = 0; k < sigma.size(); ++k) {
      out(i) += u(i, k) * u(i, k) / (sigma(k) * sigma(k) / batch + damping);
      inside += u(i, k) * u(i, k);
    }
    if (damping > 0.0) out(i) += std::max(0.0, 1.0 - inside) / damping;
  }
  return out;
}

}  // namespace

void validate_activations(const Eigen::MatrixXd& a, double damping, const std::string& name) {
  if (a.rows() == 0 || a.cols() == 0) {
    throw InputError(fmt::format(
        "{}: is {}x{}, expected a non-empty N x b array (one column per example)", name,
        a.rows(), a.cols()));
  }
  for (Eigen::Index k = 0; k < a.cols(); ++k) {
    for (Eigen::Index i = 0; i < a.rows(); ++i) {
      if (!std::isfinite(a(i, k))) {
        throw InputError(fmt::format("{}: entry ({}, {}) is {}, expected finite numbers", name, i,
                                     k, a(i, k)));
      }
    }
  }
  if (!(std::isfinite(damping) && damping >= 0.0)) {
    throw InputError(
        fmt::format("{}: damping is {}, expected a finite damping >= 0", name, damping));
  }
  if (damping > 0.0) return;
  const Eigen::VectorXd eig = activation_eigenvalues(a, 0.0);
  const double largest = eig(eig.size() - 1);
  if (a.cols() < a.rows() || !(eig(0) > kSingularRelative * largest)) {
    throw InputError(fmt::format(
        "{}: a a^T / b is singular without damping (N = {} rows, b = {} columns, smallest "
        "eigenvalue {:.3g}); expected damping > 0, or b >= N and a of full row rank",
        name, a.rows(), a.cols(), eig(0)));
  }
}

double activation_matrix_scale(const Eigen::MatrixXd& a, double damping) {
  return a.rowwise().squaredNorm().maxCoeff() / static_cast<double>(a.cols()) + damping;
}

Eigen::MatrixXd activation_matrix(const Eigen::MatrixXd& a) {
  Eigen::MatrixXd m = Eigen::MatrixXd::Zero(a.rows(), a.rows());
  m.selfadjointView<Eigen::Lower>().rankUpdate(a, 1.0 / static_cast<double>(a.cols()));
  return m.selfadjointView<Eigen::Lower>();
}

Eigen::VectorXd activation_eigenvalues(const Eigen::MatrixXd& a, double damping) {
  const Eigen::Index n = a.rows(), b = a.cols();
  const Eigen::BDCSVD<Eigen::MatrixXd> svd(a);
  const Eigen::VectorXd& sigma = svd.singularValues();
  Eigen::VectorXd eig = Eigen::VectorXd::Constant(n, damping);
  for (Eigen::Index k = 0; k < sigma.size(); ++k) {
    eig(k) = sigma(k) * sigma(k) / static_cast<double>(b) + damping;
  }
  std::sort(eig.data(), eig.data() + eig.size());
  return eig;
}

Netlist make_activation_netlist(const Eigen::MatrixXd& a, const Eigen::VectorXd& rhs,
                                const NetlistOptions& options) {
  options.validate();
  validate_activations(a, options.damping, "a");
  const Eigen::Index n = a.rows(), batch = a.cols();
  if (rhs.size() != 0 && rhs.size() != n) {
    throw InputError(fmt::format(
        "b: has {} entries, expected {} (one per row of the activation array) or none (zero "
        "inputs)",
        rhs.size(), n));
  }
  if (!rhs.allFinite()) throw InputError("b: expected finite numbers");
  if (options.initial_state.size() != 0 && options.initial_state.size() != n) {
    throw InputError(fmt::format(
        "initial_state (--warm-start): has {} entries, expected {} (one per unknown) or none "
        "(cold start)",
        options.initial_state.size(), n));
  }

  if (options.conductance_bits > 0) {
    throw InputError(fmt::format(
        "{} = {}: programmable conductances are not built for the activation encoding yet; "
        "expected the behavioral or integrator encoding, or {} 0",
        tkfac::options::flag_of(netlist_option_table(), "conductance_bits"),
        options.conductance_bits,
        tkfac::options::flag_of(netlist_option_table(), "conductance_bits")));
  }
  const double lambda = options.damping;
  const double s_m =
      options.scaling == Scaling::max_entry ? activation_matrix_scale(a, lambda) : 1.0;
  const double s_b = rhs_scale(rhs, options);
  const Eigen::MatrixXd f = a / std::sqrt(static_cast<double>(batch) * s_m);
  const double mu = lambda / s_m;
  Eigen::VectorXd b_hat = rhs.size() == 0 ? Eigen::VectorXd::Zero(n) : Eigen::VectorXd(rhs / s_b);
  Eigen::VectorXd v0;
  if (options.initial_state.size() != 0) v0 = options.initial_state * (s_m / s_b);

  const Eigen::VectorXd alpha = activation_eigenvalues(a, lambda) / s_m;
  const double alpha_min = alpha(0), alpha_max = alpha(n - 1);

  Netlist nl =
      detail::start_netlist(Encoding::activation, options, n, alpha_min, alpha_max, s_m, s_b);
  MatrixSummary& sum = nl.summary;
  const double tau0 = options.resistance * options.capacitance;
  const bool noisy = options.noise_variance > 0.0;

  detail::apply_dac(options, b_hat, nl);
  const Conductances g = conductances(f, mu, options);
  std::vector<bool> neg_row(static_cast<std::size_t>(n), false);
  std::vector<bool> pos_col(static_cast<std::size_t>(batch), false);
  for (Eigen::Index i = 0; i < n; ++i) {
    for (Eigen::Index k = 0; k < batch; ++k) {
      if (f(i, k) < 0.0) neg_row[static_cast<std::size_t>(i)] = true;
      if (f(i, k) > 0.0) pos_col[static_cast<std::size_t>(k)] = true;
    }
    if (g.damping_from_neg[static_cast<std::size_t>(i)]) neg_row[static_cast<std::size_t>(i)] = true;
  }

  Circuit& c = nl.circuit;
  const double gain = options.opamp_gain;
  const double r = options.resistance;
  auto node = [](const char* prefix, Eigen::Index i) { return fmt::format("{}_{}", prefix, i); };
  Block& integrators = c.add_block(
      {"--- integrators: op-amp E_int_i (o_i = -A V(s_i)) with C_i from summing node s_i",
       "    to output o_i; -C dV(o_i)/dt = current into s_i, and o_i is V_i"});
  for (Eigen::Index i = 0; i < n; ++i) {
    // Warm start: the capacitor holds V(s_i) - V(o_i) = -V0 (1 + A) / A (see encoding.cpp).
    integrators.elements.push_back(
        Element::capacitor(node("C", i), node("s", i), node("o", i), options.capacitance,
                           initial_voltage(v0, i, -(1.0 + gain) / gain)));
    integrators.elements.push_back(
        Element::opamp(node("E_int", i), node("o", i), "0", node("s", i), gain));
  }
  if (std::find(neg_row.begin(), neg_row.end(), true) != neg_row.end()) {
    Block& inverters = c.add_block(
        {"--- inverters: neg_i = -V(o_i), op-amp E_inv_i with input and feedback resistors R",
         "    (only for the rows i of a that hold a negative entry, or whose trim needs it)"});
    for (Eigen::Index i = 0; i < n; ++i) {
      if (!neg_row[static_cast<std::size_t>(i)]) continue;
      detail::add_inverter(inverters, "inv", i, "o", "sn", "neg", r, gain);
    }
  }
  Block& first = c.add_block(
      {"--- first array: R_a_i_k = R/|F_ik|, F = a / sqrt(b s_M), from o_i (a_ik > 0) or",
       "    neg_i (a_ik < 0) into the summing node p_k of amplifier k (the a^T V product)"});
  for (Eigen::Index k = 0; k < batch; ++k) {
    for (Eigen::Index i = 0; i < n; ++i) {
      if (f(i, k) == 0.0) continue;
      first.elements.push_back(Element::resistor(fmt::format("R_a_{}_{}", i, k),
                                                 node(f(i, k) > 0 ? "o" : "neg", i), node("p", k),
                                                 1.0 / g.first(i, k)));
    }
  }
  Block& summing = c.add_block(
      {"--- summing amplifiers: E_sum_k (y_k = -A V(p_k)) with feedback R_sum_fb_k from p_k",
       "    to y_k: y_k = -(F^T V)_k (only for the columns k of a with a non-zero entry)"});
  for (Eigen::Index k = 0; k < batch; ++k) {
    if (g.feedback(k) == 0.0) continue;
    summing.elements.push_back(
        Element::resistor(node("R_sum_fb", k), node("p", k), node("y", k), 1.0 / g.feedback(k)));
    summing.elements.push_back(
        Element::opamp(node("E_sum", k), node("y", k), "0", node("p", k), gain));
  }
  bool any_pos_col = false;
  for (Eigen::Index k = 0; k < batch; ++k) any_pos_col = any_pos_col || pos_col[static_cast<std::size_t>(k)];
  if (any_pos_col) {
    Block& out_inverters = c.add_block(
        {"--- output inverters: ny_k = -y_k = (F^T V)_k, op-amp E_yinv_k with resistors R",
         "    (only for the columns k of a that hold a positive entry)"});
    for (Eigen::Index k = 0; k < batch; ++k) {
      if (!pos_col[static_cast<std::size_t>(k)]) continue;
      detail::add_inverter(out_inverters, "yinv", k, "y", "syn", "ny", r, gain);
    }
  }
  Block& second = c.add_block(
      {"--- second array: R_f_i_k = R/|F_ik| from ny_k (a_ik > 0) or y_k (a_ik < 0) into s_i",
       "    (the current g0 (F F^T V)_i, the a a^T / b part of -g0 M_hat V)"});
  for (Eigen::Index i = 0; i < n; ++i) {
    for (Eigen::Index k = 0; k < batch; ++k) {
      if (f(i, k) == 0.0) continue;
      second.elements.push_back(Element::resistor(fmt::format("R_f_{}_{}", i, k),
                                                  node(f(i, k) > 0 ? "ny" : "y", k), node("s", i),
                                                  1.0 / g.second(i, k)));
    }
  }
  if ((g.damping.array() > 0.0).any()) {
    Block& damping = c.add_block(
        {"--- damping: R_d_i = R/mu, mu = damping / s_M, from o_i into s_i (the mu V term;",
         "    trimmed for the op-amp gain, from neg_i where the trim must subtract)"});
    for (Eigen::Index i = 0; i < n; ++i) {
      if (g.damping(i) == 0.0) continue;
      damping.elements.push_back(Element::resistor(
          node("R_d", i), node(g.damping_from_neg[static_cast<std::size_t>(i)] ? "neg" : "o", i),
          node("s", i), 1.0 / g.damping(i)));
    }
  }
  Block& inputs =
      c.add_block({"--- inputs: DAC V_dac_i at -b_hat_i volts through R_b_i = R into s_i (the +g0 "
                   "b_hat term)"});
  for (Eigen::Index i = 0; i < n; ++i) {
    const std::string name = node("V_dac", i);
    inputs.elements.push_back(Element::voltage_source(name, node("dac", i), "0", -b_hat(i)));
    inputs.elements.push_back(Element::resistor(node("R_b", i), node("dac", i), node("s", i), r));
    nl.inputs.push_back({static_cast<int>(i), name, -1.0});
  }
  for (Eigen::Index i = 0; i < n; ++i) {
    nl.unknowns.push_back({static_cast<int>(i), fmt::format("o_{}", i), s_b / s_m});
  }
  std::vector<std::string> real_parts = detail::apply_real_parts(options, nl);
  if (options.adc_bits > 0) {
    Eigen::MatrixXd m_hat = activation_matrix(a);
    m_hat.diagonal().array() += lambda;
    for (std::string& line : detail::add_converters(options, m_hat / s_m, b_hat, nl)) {
      real_parts.push_back(line);
    }
  } else {
    for (std::string& line : detail::add_converters(options, Eigen::MatrixXd(), b_hat, nl)) {
      real_parts.push_back(line);
    }
  }
  // Noise into the summing nodes s_i, as in the integrator encoding: the integrator of unknown
  // i obeys the same C dV/dt = -g0 (M_hat V - b_hat) + i_noise, so the sizing is the same.
  detail::add_noise_sources(options, "s", nl);
  // Gear-2, no tolerances: as in encoding.cpp (which explains why).
  nl.options.push_back("method=gear maxord=2");

  nl.title = fmt::format(
      "tkfac activation netlist: solves (a a^T / b + damping*I) x = rhs, n = {}, b = {}", n, batch);
  auto& h = nl.header;
  h.push_back("Generated by tkfac netlist_gen; rerun it rather than editing this file.");
  h.push_back("");
  h.push_back("Encoding: activation (M = a a^T / b + damping I is never formed). Per unknown an");
  h.push_back("inverting op-amp integrator (C from summing node s_i to output o_i); a first");
  h.push_back("resistor array R/|F_ik| into b summing amplifiers giving y = -F^T V; a second array");
  h.push_back("R/|F_ik| feeding F y back into the integrators; a damping resistor R/mu per unknown;");
  h.push_back("an input resistor R from a DAC at -b_hat_i volts. F = a / sqrt(b s_M),");
  h.push_back("mu = damping / s_M, so M_hat = F F^T + mu I. Op-amps: VCVS of open-loop gain A.");
  h.push_back(fmt::format("Dynamics: C dV/dt = -g0 (M_hat V - b_hat){}, g0 = 1/R; {} (uic).",
                          noisy ? " + i_noise" : "",
                          v0.size() != 0 ? "V(0) = warm start" : "V = 0 at t = 0"));
  h.push_back("");
  h.push_back(fmt::format("Matrix: n = {}, batch b = {}, damping = {:.6g}, condition number = {:.6g}",
                          n, batch, lambda, sum.condition_number));
  h.push_back(fmt::format(
      "Eigenvalues of M_hat (from the singular values of a): alpha_min = {:.6g}, alpha_max = {:.6g}",
      alpha_min, alpha_max));
  h.push_back(fmt::format("Scaling ({}): M_hat = (a a^T / b + damping*I) / s_M, s_M = {:.17g}",
                          to_string(options.scaling), s_m));
  if (options.scaling == Scaling::max_entry) {
    h.push_back("             s_M = max_i ||a_i||^2 / b + damping (row norms of a) = max |m_ij|,");
    h.push_back("             since |m_ij| <= sqrt(m_ii m_jj); so |F_ik| <= 1, every array R >= R");
  }
  h.push_back(fmt::format("             b_hat = b / s_b, s_b = {:.17g} (max|b_hat| = {:.6g})", s_b,
                          b_hat.size() ? b_hat.cwiseAbs().maxCoeff() : 0.0));
  h.push_back(fmt::format("Read-out: x_i = scale * V(node_i), scale = s_b / s_M = {:.17g}", s_b / s_m));
  h.push_back("          (one `tkfac-unknown <index> <node> <scale>` line per unknown below)");
  h.push_back("");
  h.push_back(fmt::format("R = {:.6g} ohm, C = {:.6g} F, tau0 = R C = {:.6g} s", options.resistance,
                          options.capacitance, tau0));
  if (options.gain_compensation) {
    h.push_back(fmt::format("Op-amp gain A = {:.6g}: feedback, damping and inverter-fed array",
                            options.opamp_gain));
    h.push_back("          resistors trimmed for it (they differ from the plain values by O(1/A)),");
    h.push_back("          so the equilibrium solves M_hat V = b_hat exactly for VCVS op-amps");
  } else {
    sum.finite_gain_error = finite_gain_bound(f, mu, options.opamp_gain, alpha_min);
    h.push_back(fmt::format("Op-amp gain A = {:.6g}, no gain compensation: relative solution error",
                            options.opamp_gain));
    h.push_back(fmt::format("          up to about {:.3g} (first order in 1/A, see activation.cpp)",
                            sum.finite_gain_error));
  }
  detail::add_transient_header(
      options, noisy ? activation_inverse_diagonal(a, lambda) : Eigen::VectorXd(), nl);
  for (std::string& line : real_parts) h.push_back(std::move(line));
  const ComponentCounts count = count_components(nl.circuit);
  h.push_back(fmt::format(
      "Components: {} capacitors, {} resistors ({} in the two arrays), {} op-amps (VCVS), {} "
      "independent sources",
      count.capacitors, count.resistors,
      2 * static_cast<int>((f.array() != 0.0).count()), count.amplifiers, count.sources));
  h.push_back("");
  append_hardware_report(nl);
  return nl;
}

}  // namespace tkfac::netlist_gen
