#include "tkfac/netlist_gen/nonideal.hpp"

#include <fmt/format.h>

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "tkfac/core/error.hpp"
#include "circuit_parts.hpp"
#include "tkfac/netlist_gen/circuit.hpp"
#include "tkfac/netlist_gen/circuit_dynamics.hpp"
#include "nonideal_parts.hpp"
#include "tkfac/netlist_gen/encoding.hpp"

namespace tkfac::netlist_gen {

Quantizer parse_quantizer(std::string_view text, std::string_view option) {
  if (option.empty()) option = tkfac::options::flag_of(netlist_option_table(), "quantizer");
  if (text == "nearest") return Quantizer::nearest;
  if (text == "conservative") return Quantizer::conservative;
  throw InputError(fmt::format("{}: unknown quantizer '{}' (accepted: conservative, nearest)",
                               option, text));
}

std::string_view to_string(Quantizer quantizer) {
  return quantizer == Quantizer::nearest ? "nearest" : "conservative";
}

QuantizedMatrix quantize_matrix(const Eigen::MatrixXd& m, int bits, Quantizer quantizer) {
  if (bits < 1 || bits > 52) throw std::logic_error("quantize_matrix: bits outside 1..52");
  if (m.rows() != m.cols()) throw std::logic_error("quantize_matrix: square matrix expected");
  QuantizedMatrix q;
  q.delta = 1.0 / (std::ldexp(1.0, bits) - 1.0);
  const Eigen::Index n = m.rows();
  // Codes as integers (exact in a double), the values as code * delta: multiples of delta.
  Eigen::MatrixXd code = (m / q.delta).array().round().matrix();
  if (quantizer == Quantizer::conservative) {
    for (Eigen::Index i = 0; i < n; ++i) {
      double row_error = 0.0;
      for (Eigen::Index j = 0; j < n; ++j) {
        if (j != i) row_error += std::abs(code(i, j) * q.delta - m(i, j));
      }
      code(i, i) = std::ceil((m(i, i) + row_error) / q.delta);
    }
  }
  q.matrix = code * q.delta;
  q.largest_code = static_cast<int>(code.cwiseAbs().maxCoeff());
  return q;
}

double Converter::lsb() const {
  return ideal() ? 0.0 : full_scale / (std::ldexp(1.0, bits - 1) - 1.0);
}

double Converter::convert(double v) const {
  if (ideal()) return v;
  const double clipped = std::clamp(v, -full_scale, full_scale);
  const double step = lsb();
  return std::round(clipped / step) * step + 0.0;  // + 0.0: no -0
}

long Converter::convert_all(Eigen::Ref<Eigen::VectorXd> v) const {
  if (ideal()) return 0;
  long clipped = 0;
  for (Eigen::Index i = 0; i < v.size(); ++i) {
    if (clips(v(i))) ++clipped;
    v(i) = convert(v(i));
  }
  return clipped;
}

long apply_mismatch(Circuit& circuit, double sigma, std::uint64_t seed) {
  if (sigma == 0.0) return 0;
  std::mt19937_64 engine(seed);
  const auto uniform = [&] { return (static_cast<double>(engine() >> 11) + 0.5) * 0x1.0p-53; };
  bool has_spare = false;
  double spare = 0.0;
  const auto normal = [&] {
    if (has_spare) {
      has_spare = false;
      return spare;
    }
    const double r = std::sqrt(-2.0 * std::log(uniform()));
    const double phi = 2.0 * std::numbers::pi * uniform();
    spare = r * std::sin(phi);
    has_spare = true;
    return r * std::cos(phi);
  };
  long changed = 0;
  for (Block& b : circuit.blocks) {
    for (Element& e : b.elements) {
      if (e.kind != ElementKind::resistor && e.kind != ElementKind::capacitor &&
          e.kind != ElementKind::vccs) {
        continue;
      }
      // A factor <= 0 needs z <= -1 / sigma (-2 for the largest sigma accepted, 0.5): kept
      // positive so a part stays a part; at sigma 5% that is a 20-sigma draw.
      const double factor = std::max(1e-3, 1.0 + sigma * normal());
      e.value *= factor;
      ++changed;
    }
  }
  return changed;
}

int apply_opamp_macromodel(Circuit& circuit, double gbw, double offset, double resistance) {
  if (!(gbw > 0.0)) return 0;
  int replaced = 0;
  for (Block& b : circuit.blocks) {
    std::vector<Element> out;
    out.reserve(b.elements.size());
    for (Element& e : b.elements) {
      if (e.kind != ElementKind::opamp) {
        out.push_back(std::move(e));
        continue;
      }
      const double gain = e.value;
      const std::string tag = e.name.substr(2);  // E_int_3 -> int_3
      const std::string p = fmt::format("{}_p", e.name);
      // V(p) = A (V(c+) - V(c-) + offset) at DC: A / R through R; the pole at gbw / A.
      out.push_back(Element::vccs(fmt::format("G_{}_gm", tag), "0", p, e.c_plus, e.c_minus,
                                  gain / resistance));
      if (offset != 0.0) {
        out.push_back(Element::current_source(fmt::format("I_{}_os", tag), "0", p,
                                              gain * offset / resistance));
      }
      out.push_back(Element::resistor(fmt::format("R_{}_p", tag), p, "0", resistance));
      out.push_back(Element::capacitor(fmt::format("C_{}_p", tag), p, "0",
                                       gain / (2.0 * std::numbers::pi * gbw * resistance)));
      Element buffer = Element::opamp(e.name, e.n_plus, p, "0", 1.0);
      out.push_back(std::move(buffer));
      ++replaced;
    }
    b.elements = std::move(out);
  }
  return replaced;
}

}  // namespace tkfac::netlist_gen

// ---- internal: applying the real parts of NetlistOptions (nonideal_parts.hpp) ----

namespace tkfac::netlist_gen::detail {

GridMatrix quantize_scaled(const Eigen::MatrixXd& damped, double s_m,
                           const NetlistOptions& o) {
  GridMatrix g{damped / s_m, s_m, {}, {}};
  if (o.conductance_bits == 0) return g;
  const int top = static_cast<int>(std::ldexp(1.0, o.conductance_bits)) - 1;
  QuantizedMatrix q;
  int rescales = 0;
  for (;; ++rescales) {
    q = quantize_matrix(damped / g.s_m, o.conductance_bits, o.quantizer);
    if (q.largest_code <= top) break;
    if (rescales == 100) {
      throw std::logic_error("quantize_scaled: the diagonal does not fit the conductance grid");
    }
    // Codes shrink in proportion to 1 / s_M; a step of at least one code's share.
    g.s_m *= std::max(static_cast<double>(q.largest_code) / top, 1.0 + 1.0 / top);
  }
  const Eigen::MatrixXd ideal = damped / g.s_m;
  const auto& table = netlist_option_table();
  if (o.quantizer == Quantizer::nearest) {
    const Eigen::LLT<Eigen::MatrixXd> llt(q.matrix);
    const double floor = 1e-12 * q.matrix.cwiseAbs().maxCoeff();
    bool pd = llt.info() == Eigen::Success;
    if (pd) pd = llt.matrixLLT().diagonal().minCoeff() > std::sqrt(floor);
    if (!pd) {
      const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(q.matrix, Eigen::EigenvaluesOnly);
      throw InputError(fmt::format(
          "{} ({}) = nearest: with {} ({}) = {} the rounded matrix is not positive definite "
          "(smallest eigenvalue of M_hat {:.6g}, grid step {:.3g}); the circuit would be "
          "unstable, so it is not built. Expected more bits, {} conservative, or more damping",
          tkfac::options::flag_of(table, "quantizer"), "quantizer",
          tkfac::options::flag_of(table, "conductance_bits"), "conductance_bits",
          o.conductance_bits, eig.eigenvalues()(0), q.delta,
          tkfac::options::flag_of(table, "quantizer")));
    }
  }
  g.m_hat = q.matrix;
  g.realized = g.s_m * q.matrix;
  const double error = (q.matrix - ideal).cwiseAbs().maxCoeff();
  auto& h = g.header;
  h.push_back(fmt::format(
      "Conductances: {} bits, values k g0 / {} (k = 0 .. {}): resistors R {} / k, from R to {} R",
      o.conductance_bits, top, top, top, top));
  h.push_back(fmt::format(
      "          quantizer {}: largest |entry error| of M_hat {:.3g} (grid step {:.3g}){}",
      to_string(o.quantizer), error, q.delta,
      o.quantizer == Quantizer::conservative
          ? "; the diagonal absorbs each row's error (never less definite)"
          : ""));
  if (rescales > 0) {
    h.push_back(fmt::format(
        "          s_M raised to {:.17g} so the largest diagonal code fits the grid", g.s_m));
  }
  h.push_back("          the scales, eigenvalues and tau below are those of the quantized matrix");
  return g;
}

void apply_dac(const NetlistOptions& o, Eigen::VectorXd& b_hat, Netlist& nl) {
  const Converter dac{o.dac_bits, o.input_full_scale};
  nl.summary.dac_clipped = dac.convert_all(b_hat);
}

std::vector<std::string> apply_real_parts(const NetlistOptions& o, Netlist& nl) {
  std::vector<std::string> h;
  const int opamps = apply_opamp_macromodel(nl.circuit, o.opamp_gbw, o.opamp_offset, o.resistance);
  if (opamps > 0) {
    h.push_back(fmt::format(
        "Op-amps: single-pole model, DC gain A = {:.6g}, GBW = {:.6g} Hz (pole at {:.6g} Hz), "
        "offset {:.6g} V:",
        o.opamp_gain, o.opamp_gbw, o.opamp_gbw / o.opamp_gain, o.opamp_offset));
    h.push_back(fmt::format(
        "          each of the {} op-amps is G_*_gm = A / R into R_*_p = R || C_*_p = A / (2 pi "
        "GBW R)",
        opamps));
    h.push_back("          and a unit-gain buffer E_* (the ou twin has these poles too)");
  }
  const long parts = apply_mismatch(nl.circuit, o.mismatch, o.mismatch_seed);
  if (parts > 0) {
    h.push_back(fmt::format(
        "Mismatch: {} resistors, capacitors and couplings times 1 + sigma z, sigma = {:.6g},",
        parts, o.mismatch));
    h.push_back(fmt::format(
        "          z standard normal in file order from seed {} (the values below are drawn)",
        o.mismatch_seed));
  }
  if (opamps > 0 || parts > 0) {
    const CircuitDynamics d = linear_dynamics(nl.circuit, unknown_nodes(nl));
    const Eigen::EigenSolver<Eigen::MatrixXd> eig(d.drift, false);
    const double slowest = eig.eigenvalues().real().minCoeff();
    if (!(slowest > 0.0)) {
      const auto& table = netlist_option_table();
      throw InputError(fmt::format(
          "{} = {:g}, {} = {:g}: the realized circuit is unstable (slowest rate {:.3g} / s); "
          "expected a smaller mismatch or a larger gain-bandwidth product",
          tkfac::options::flag_of(table, "mismatch"), o.mismatch,
          tkfac::options::flag_of(table, "opamp_gbw"), o.opamp_gbw, slowest));
    }
    const double tau = 1.0 / slowest;
    h.push_back(fmt::format(
        "Realized dynamics (read from these elements): slowest time constant {:.6g} s = {:.6g} "
        "x R C / alpha_min{}",
        tau, tau / nl.summary.predicted_tau,
        tau > nl.summary.predicted_tau
            ? "; the predicted tau and transient plan above are this realized value"
            : ""));
    if (tau > nl.summary.predicted_tau) {
      nl.summary.predicted_tau = tau;
      plan_transient(o, nl);
    }
  }
  return h;
}

std::vector<std::string> add_converters(const NetlistOptions& o, const Eigen::MatrixXd& m_hat,
                                        const Eigen::VectorXd& b_hat, Netlist& nl) {
  MatrixSummary& sum = nl.summary;
  std::vector<std::string> h;
  if (o.dac_bits > 0) {
    const Converter dac{o.dac_bits, o.input_full_scale};
    h.push_back(fmt::format(
        "DAC inputs: {} bits over +-{:.6g} V (lsb {:.6g} V); {} of {} inputs clipped", o.dac_bits,
        o.input_full_scale, dac.lsb(), sum.dac_clipped, b_hat.size()));
  }
  if (o.adc_bits == 0) return h;
  sum.adc_bits = o.adc_bits;
  if (o.adc_full_scale > 0.0) {
    sum.adc_full_scale = o.adc_full_scale;
  } else {
    const Eigen::MatrixXd inverse = m_hat.llt().solve(Eigen::MatrixXd::Identity(m_hat.rows(),
                                                                                m_hat.cols()));
    const double b_max = std::max(o.input_full_scale, b_hat.size() ? b_hat.cwiseAbs().maxCoeff() : 0.0);
    sum.adc_full_scale = b_max * inverse.cwiseAbs().rowwise().sum().maxCoeff() +
                         4.0 * std::sqrt(sum.voltage_noise_variance * inverse.diagonal().maxCoeff());
  }
  const Converter adc{o.adc_bits, sum.adc_full_scale};
  h.push_back(fmt::format("ADC read-out: {} bits over +-{:.6g} V (lsb {:.6g} V{}); clipping is",
                          o.adc_bits, sum.adc_full_scale, adc.lsb(),
                          o.adc_full_scale > 0.0 ? ", given"
                                                 : ", automatic: max|b_hat| ||M_hat^-1||_inf + "
                                                   "4 noise std"));
  h.push_back("          counted in the solve reports");
  return h;
}

}  // namespace tkfac::netlist_gen::detail
