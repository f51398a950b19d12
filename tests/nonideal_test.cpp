// Real parts (issue 12, nonideal.hpp): the conductance quantizers and their bounds, the
// converters, mismatch, the single-pole op-amp's elements, and what the netlists state.
#include <cmath>
#include <random>
#include <string>

#include <Eigen/Eigenvalues>

#include "test_util.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/netlist_gen/circuit_dynamics.hpp"
#include "tkfac/netlist_gen/encoding.hpp"
#include "tkfac/netlist_gen/netlist.hpp"
#include "tkfac/netlist_gen/nonideal.hpp"

namespace ng = tkfac::netlist_gen;

namespace {

double smallest_eigenvalue(const Eigen::MatrixXd& m) {
  return Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(m, Eigen::EigenvaluesOnly).eigenvalues()(0);
}
double largest_abs_eigenvalue(const Eigen::MatrixXd& m) {
  return Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(m, Eigen::EigenvaluesOnly)
      .eigenvalues()
      .cwiseAbs()
      .maxCoeff();
}

// M_hat of a random SPD matrix: scaled to largest entry 1, as max_entry scaling does.
Eigen::MatrixXd random_m_hat(int n, double kappa, std::mt19937_64& rng) {
  const Eigen::MatrixXd m = tkfac::random_spd(n, kappa, rng);
  return m / m.cwiseAbs().maxCoeff();
}

}  // namespace

TEST_CASE("quantizer: conservative keeps every random SPD matrix definite within its error bound") {
  // Sizes 2..64, condition numbers 1..1e4, 4..16 bits: 175 matrices. The bound (nonideal.hpp):
  // E = Q - M symmetric, |E_ij| <= delta / 2 off the diagonal, sum_{j != i} |E_ij| <= E_ii <
  // that + delta, hence E >= 0 and ||E||_2 <= n delta; so lambda_min(Q) >= lambda_min(M).
  std::mt19937_64 rng(2021);
  int matrices = 0;
  for (int n : {2, 3, 5, 8, 16, 32, 64}) {
    for (double kappa : {1.0, 10.0, 1e2, 1e3, 1e4}) {
      for (int bits : {4, 6, 8, 12, 16}) {
        CAPTURE(n);
        CAPTURE(kappa);
        CAPTURE(bits);
        const Eigen::MatrixXd m = random_m_hat(n, kappa, rng);
        const ng::QuantizedMatrix q = ng::quantize_matrix(m, bits, ng::Quantizer::conservative);
        const double delta = 1.0 / (std::ldexp(1.0, bits) - 1.0);
        CHECK(q.delta == delta);
        // Grid values, symmetric.
        const Eigen::MatrixXd codes = q.matrix / delta;
        CHECK((codes - codes.array().round().matrix()).cwiseAbs().maxCoeff() < 1e-6);
        CHECK(q.matrix == q.matrix.transpose());
        const Eigen::MatrixXd e = q.matrix - m;
        const double tiny = 1e-12;
        for (int i = 0; i < n; ++i) {
          double off = 0.0;
          for (int j = 0; j < n; ++j) {
            if (j == i) continue;
            CHECK(std::abs(e(i, j)) <= 0.5 * delta + tiny);
            off += std::abs(e(i, j));
          }
          CHECK(e(i, i) >= off - tiny);
          CHECK(e(i, i) < off + delta + tiny);
        }
        CHECK(smallest_eigenvalue(e) >= -1e-12);
        CHECK(largest_abs_eigenvalue(e) <= n * delta + tiny);
        const double lambda_m = smallest_eigenvalue(m), lambda_q = smallest_eigenvalue(q.matrix);
        CHECK(lambda_q >= lambda_m * (1.0 - 1e-9));
        CHECK(Eigen::LLT<Eigen::MatrixXd>(q.matrix).info() == Eigen::Success);
        ++matrices;
      }
    }
  }
  CHECK(matrices == 175);
}

TEST_CASE("quantizer: nearest stays within delta / 2 per entry and makes some matrices indefinite") {
  std::mt19937_64 rng(7);
  int indefinite = 0, tried = 0;
  for (int n : {2, 8, 32, 64}) {
    for (double kappa : {1e3, 1e4}) {
      for (int bits : {4, 6, 8}) {
        const Eigen::MatrixXd m = random_m_hat(n, kappa, rng);
        const ng::QuantizedMatrix q = ng::quantize_matrix(m, bits, ng::Quantizer::nearest);
        const Eigen::MatrixXd e = q.matrix - m;
        CHECK(e.cwiseAbs().maxCoeff() <= 0.5 * q.delta + 1e-12);
        CHECK(largest_abs_eigenvalue(e) <= 0.5 * n * q.delta + 1e-12);
        ++tried;
        if (smallest_eigenvalue(q.matrix) <= 0.0) ++indefinite;
      }
    }
  }
  INFO(indefinite << " of " << tried << " rounded matrices indefinite");
  CHECK(indefinite > 0);

  // One by hand: M_hat = [[1, 0.97], [0.97, 0.95]] is positive definite (det 0.0091); on the
  // 4-bit grid (steps of 1/15) nearest gives [[1, 1], [1, 14/15]], determinant -1/15.
  Eigen::MatrixXd m(2, 2);
  m << 1.0, 0.97, 0.97, 0.95;
  REQUIRE(smallest_eigenvalue(m) > 0.0);
  const ng::QuantizedMatrix near = ng::quantize_matrix(m, 4, ng::Quantizer::nearest);
  CHECK(near.matrix(0, 1) == 1.0);
  CHECK(near.matrix.determinant() < 0.0);
  const ng::QuantizedMatrix safe = ng::quantize_matrix(m, 4, ng::Quantizer::conservative);
  CHECK(smallest_eigenvalue(safe.matrix) >= smallest_eigenvalue(m));
  CHECK(safe.largest_code == 16);  // 1 + 0.03 rounded up: above the top code 15, see make_netlist

  // make_netlist refuses it under nearest, naming the options, and builds it conservatively
  // (raising s_M so the diagonal's code fits).
  ng::NetlistOptions o;
  o.conductance_bits = 4;
  o.quantizer = ng::Quantizer::nearest;
  CHECK_THROWS_WITH_AS(ng::make_netlist(m, Eigen::VectorXd(), o),
                       doctest::Contains("--quantizer (quantizer) = nearest"), tkfac::InputError);
  CHECK_THROWS_WITH_AS(ng::make_netlist(m, Eigen::VectorXd(), o),
                       doctest::Contains("not positive definite"), tkfac::InputError);
  o.quantizer = ng::Quantizer::conservative;
  const ng::Netlist nl = ng::make_netlist(m, Eigen::VectorXd(), o);
  CHECK(nl.summary.matrix_scale > 1.0);
  const Eigen::MatrixXd grid = nl.realized_matrix / nl.summary.matrix_scale;
  CHECK(grid.cwiseAbs().maxCoeff() <= 1.0);
  CHECK(smallest_eigenvalue(nl.realized_matrix) >= smallest_eigenvalue(m) * (1.0 - 1e-12));
}

TEST_CASE("quantized netlists: every coupling and array resistor is a grid value; header states it") {
  std::mt19937_64 rng(11);
  const int n = 6;
  const Eigen::MatrixXd m = tkfac::random_spd(n, 50.0, rng);
  const Eigen::VectorXd b = tkfac::test::random_vector(n, rng);
  for (const ng::Encoding encoding : {ng::Encoding::behavioral, ng::Encoding::integrator}) {
    CAPTURE(ng::to_string(encoding));
    ng::NetlistOptions o;
    o.encoding = encoding;
    o.conductance_bits = 6;
    const ng::Netlist nl = ng::make_netlist(m, b, o);
    const double top = 63.0, g0 = 1.0 / o.resistance;
    int checked = 0;
    for (const ng::Element* e : nl.circuit.all_elements()) {
      double g = 0.0;
      if (e->kind == ng::ElementKind::vccs) g = std::abs(e->value);
      if (e->kind == ng::ElementKind::resistor && e->name.rfind("R_", 0) == 0 &&
          std::isdigit(static_cast<unsigned char>(e->name[2]))) {
        g = 1.0 / e->value;  // the array R_i_j
      }
      if (g == 0.0) continue;
      const double k = g / g0 * top;
      CAPTURE(e->name);
      CHECK(std::abs(k - std::round(k)) < 1e-9 * top);
      CHECK(std::round(k) >= 1.0);
      CHECK(std::round(k) <= top);
      ++checked;
    }
    CHECK(checked >= n);
    const std::string text = ng::to_spice(nl);
    CHECK(text.find("* Conductances: 6 bits, values k g0 / 63") != std::string::npos);
    CHECK(text.find("quantizer conservative") != std::string::npos);
    // The realized matrix is what the stated eigenvalues describe.
    CHECK(nl.summary.alpha_min * nl.summary.matrix_scale ==
          doctest::Approx(smallest_eigenvalue(nl.realized_matrix)).epsilon(1e-9));
  }
  // The activation encoding has no grid yet: refused by name.
  ng::NetlistOptions o;
  o.conductance_bits = 8;
  CHECK_THROWS_WITH_AS(ng::make_netlist(m, b, [&] {
                         auto a = o;
                         a.encoding = ng::Encoding::activation;
                         return a;
                       }()),
                       doctest::Contains("activation"), tkfac::InputError);
}

TEST_CASE("converters: error within half an lsb inside the full scale, clipping counted") {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> spread(-1.5, 1.5);
  for (int bits : {2, 4, 8, 12, 16}) {
    const ng::Converter c{bits, 2.0};
    CAPTURE(bits);
    CHECK(c.lsb() == doctest::Approx(2.0 / (std::ldexp(1.0, bits - 1) - 1.0)));
    Eigen::VectorXd v(2000);
    for (Eigen::Index i = 0; i < v.size(); ++i) v(i) = 2.0 * spread(rng);
    long expected_clips = 0;
    for (Eigen::Index i = 0; i < v.size(); ++i) expected_clips += std::abs(v(i)) > 2.0 ? 1 : 0;
    Eigen::VectorXd out = v;
    const long clipped = c.convert_all(out);
    CHECK(clipped == expected_clips);
    CHECK(clipped > 0);
    for (Eigen::Index i = 0; i < v.size(); ++i) {
      if (std::abs(v(i)) <= 2.0) {
        CHECK(std::abs(out(i) - v(i)) <= 0.5 * c.lsb() * (1.0 + 1e-12));
      } else {
        CHECK(out(i) == std::copysign(2.0, v(i)));
      }
      const double level = out(i) / c.lsb();
      CHECK(std::abs(level - std::round(level)) < 1e-9);
    }
  }
  const ng::Converter exact{0, 1.0};
  CHECK(exact.convert(3.14159) == 3.14159);
  CHECK_FALSE(exact.clips(5.0));
}

TEST_CASE("DAC inputs: netlist sources on the DAC's levels, clipped inputs counted and stated") {
  std::mt19937_64 rng(3);
  const int n = 5;
  const Eigen::MatrixXd m = tkfac::random_spd(n, 10.0, rng);
  Eigen::VectorXd b(n);
  b << 0.3, -0.7, 2.5, 0.1234, -3.0;  // scaling none: b_hat = b, two beyond 1 V
  ng::NetlistOptions o;
  o.encoding = ng::Encoding::integrator;
  o.scaling = ng::Scaling::none;
  o.dac_bits = 6;
  const ng::Netlist nl = ng::make_netlist(m, b, o);
  CHECK(nl.summary.dac_clipped == 2);
  const ng::Converter dac{6, 1.0};
  for (int i = 0; i < n; ++i) {
    const ng::Element* e = nl.circuit.find("V_dac_" + std::to_string(i));
    REQUIRE(e != nullptr);
    CHECK(-e->value == dac.convert(b(i)));
  }
  CHECK(ng::to_spice(nl).find("DAC inputs: 6 bits over +-1 V") != std::string::npos);
  CHECK(ng::to_spice(nl).find("2 of 5 inputs clipped") != std::string::npos);
  // input_values (another right-hand side on the same circuit) goes through the same DAC.
  const ng::InputValues values = ng::input_values(nl, b, o);
  for (const auto& [element, value] : values.sources) {
    CHECK(value == nl.circuit.find(element)->value);
  }
}

TEST_CASE("mismatch: sigma 0 changes nothing; sigma > 0 is seeded, stated and of the given spread") {
  std::mt19937_64 rng(13);
  const int n = 12;
  const Eigen::MatrixXd m = tkfac::random_spd(n, 30.0, rng);
  const Eigen::VectorXd b = tkfac::test::random_vector(n, rng);
  for (const ng::Encoding encoding : {ng::Encoding::behavioral, ng::Encoding::integrator}) {
    CAPTURE(ng::to_string(encoding));
    ng::NetlistOptions nominal;
    nominal.encoding = encoding;
    ng::NetlistOptions zero = nominal;
    zero.mismatch = 0.0;
    zero.mismatch_seed = 99;
    CHECK(ng::to_spice(ng::make_netlist(m, b, zero)) == ng::to_spice(ng::make_netlist(m, b, nominal)));
    ng::NetlistOptions perturbed = nominal;
    perturbed.mismatch = 0.01;
    perturbed.mismatch_seed = 4;
    const ng::Netlist a = ng::make_netlist(m, b, perturbed);
    const ng::Netlist base = ng::make_netlist(m, b, nominal);
    CHECK(ng::to_spice(a) == ng::to_spice(ng::make_netlist(m, b, perturbed)));
    perturbed.mismatch_seed = 5;
    CHECK(ng::to_spice(a) != ng::to_spice(ng::make_netlist(m, b, perturbed)));
    CHECK(ng::to_spice(a).find("Mismatch:") != std::string::npos);
    CHECK(ng::to_spice(a).find("sigma = 0.01") != std::string::npos);
    // Relative deviations: mean 0 and standard deviation sigma, within 4 standard errors.
    const auto parts = a.circuit.all_elements();
    const auto nominal_parts = base.circuit.all_elements();
    REQUIRE(parts.size() == nominal_parts.size());
    double sum = 0.0, sum2 = 0.0;
    long count = 0;
    for (std::size_t k = 0; k < parts.size(); ++k) {
      const ng::ElementKind kind = parts[k]->kind;
      if (kind != ng::ElementKind::resistor && kind != ng::ElementKind::capacitor &&
          kind != ng::ElementKind::vccs) {
        CHECK(parts[k]->value == nominal_parts[k]->value);
        continue;
      }
      const double d = parts[k]->value / nominal_parts[k]->value - 1.0;
      sum += d;
      sum2 += d * d;
      ++count;
    }
    REQUIRE(count > 100);
    const double c = static_cast<double>(count);
    const double mean = sum / c, sd = std::sqrt(sum2 / c - mean * mean);
    CHECK(std::abs(mean) <= 4.0 * 0.01 / std::sqrt(c));
    CHECK(std::abs(sd - 0.01) <= 4.0 * 0.01 / std::sqrt(2.0 * c));
  }
}

TEST_CASE("real-part options: bad values are refused naming the option") {
  const auto refuse = [](auto set, const char* flag) {
    ng::NetlistOptions o;
    set(o);
    CHECK_THROWS_WITH_AS(o.validate(), doctest::Contains(flag), tkfac::InputError);
  };
  refuse([](ng::NetlistOptions& o) { o.conductance_bits = 1; }, "--conductance-bits");
  refuse([](ng::NetlistOptions& o) { o.conductance_bits = 30; }, "--conductance-bits");
  refuse([](ng::NetlistOptions& o) { o.adc_bits = -3; }, "--adc-bits");
  refuse([](ng::NetlistOptions& o) { o.dac_bits = 25; }, "--dac-bits");
  refuse([](ng::NetlistOptions& o) { o.adc_full_scale = -1.0; }, "--adc-full-scale");
  refuse([](ng::NetlistOptions& o) { o.mismatch = 0.5; }, "--mismatch");
  refuse([](ng::NetlistOptions& o) { o.mismatch = -0.01; }, "--mismatch");
  refuse([](ng::NetlistOptions& o) { o.opamp_gbw = -1.0; }, "--opamp-gbw");
  refuse([](ng::NetlistOptions& o) { o.opamp_offset = 1e-3; }, "--opamp-gbw");
  CHECK_THROWS_WITH_AS(ng::parse_quantizer("round", "--quantizer"),
                       doctest::Contains("--quantizer: unknown quantizer 'round'"),
                       tkfac::InputError);
}

TEST_CASE("single-pole op-amps: the macromodel's elements, and the twin has the pole") {
  std::mt19937_64 rng(17);
  const int n = 3;
  const Eigen::MatrixXd m = tkfac::random_spd(n, 5.0, rng);
  const Eigen::VectorXd b = tkfac::test::random_vector(n, rng);
  ng::NetlistOptions o;
  o.encoding = ng::Encoding::integrator;
  o.opamp_gbw = 1e7;
  const ng::Netlist nl = ng::make_netlist(m, b, o);
  const ng::Netlist ideal = ng::make_netlist(m, b, [&] {
    auto i = o;
    i.opamp_gbw = 0.0;
    return i;
  }());
  const ng::ComponentCounts c = ng::count_components(nl.circuit), ci = ng::count_components(ideal.circuit);
  CHECK(c.amplifiers == ci.amplifiers);                 // one output buffer per op-amp
  CHECK(c.capacitors == ci.capacitors + ci.amplifiers);  // one pole each
  CHECK(c.controlled_sources == ci.amplifiers);          // one transconductance each
  const ng::Element* pole = nl.circuit.find("C_int_0_p");
  REQUIRE(pole != nullptr);
  // Pole at GBW / A: R C_p = A / (2 pi GBW).
  CHECK(pole->value * o.resistance == doctest::Approx(o.opamp_gain / (2 * M_PI * o.opamp_gbw)));
  CHECK(ng::to_spice(nl).find("Op-amps: single-pole model") != std::string::npos);
  // Same equilibrium as the ideal VCVS of the same DC gain (both trimmed for it).
  const ng::CircuitDynamics d = ng::linear_dynamics(nl.circuit, ng::unknown_nodes(nl));
  const ng::CircuitDynamics di = ng::linear_dynamics(ideal.circuit, ng::unknown_nodes(ideal));
  const Eigen::VectorXd eq = d.output_map * d.drift.partialPivLu().solve(d.forcing) + d.output_offset;
  const Eigen::VectorXd eqi =
      di.output_map * di.drift.partialPivLu().solve(di.forcing) + di.output_offset;
  TKFAC_CHECK_REL_NEAR(eq, eqi, 1e-9);
  CHECK(d.drift.rows() == di.drift.rows() + ci.amplifiers);  // a pole per op-amp
}
