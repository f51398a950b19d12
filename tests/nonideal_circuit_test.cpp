// Real parts through the circuits (issue 12): a quantized or perturbed circuit solves exactly the
// matrix it realizes, the `ou` twin and ngspice agree on it, and the ADC is applied alike on
// both sides.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "cli_helpers.hpp"

#include "test_util.hpp"
#include "tkfac/cosim/backends.hpp"
#include "tkfac/cosim/relaxation.hpp"
#include "tkfac/cosim/session.hpp"
#include "tkfac/cosim/thermodynamic.hpp"
#include "tkfac/netlist_gen/circuit_dynamics.hpp"
#include "tkfac/netlist_gen/encoding.hpp"
#include "tkfac/netlist_gen/netlist.hpp"
#include "tkfac/solver/linear_solver.hpp"

namespace cs = tkfac::cosim;
namespace ng = tkfac::netlist_gen;
namespace sv = tkfac::solver;

namespace {

[[maybe_unused]] const bool kBackends = (tkfac::cosim::register_backends(), true);

sv::Solution solve_with(const std::string& backend, const ng::NetlistOptions& circuit,
                        const Eigen::MatrixXd& m, const Eigen::MatrixXd& b) {
  sv::SolverOptions o;
  o.backend = backend;
  o.netlist = circuit;
  return sv::LinearSolver::create(o)->solve(m, b);
}

// The behavioral circuit's realized matrix, read from its couplings: at equilibrium
// sum_j g_ij V_j = g0 b_hat_i with g_ij the VCCS G_i_j, so M_realized = s_M R g (in units of M).
Eigen::MatrixXd behavioral_realized(const ng::Netlist& nl, int n) {
  Eigen::MatrixXd g = Eigen::MatrixXd::Zero(n, n);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      const ng::Element* e = nl.circuit.find(fmt::format("G_{}_{}", i, j));
      if (e != nullptr) g(i, j) = e->value;
    }
  }
  return nl.summary.matrix_scale * nl.summary.resistance * g;
}

}  // namespace

TEST_CASE(
    "real parts: quantized and perturbed circuits solve exactly the realized matrix; ou and "
    "ngspice agree") {
  std::mt19937_64 rng(12);
  const int n = 5;
  const Eigen::MatrixXd m = tkfac::random_spd(n, 30.0, rng);
  const Eigen::MatrixXd b = tkfac::random_normal(n, 2, rng);
  SUBCASE("conductance bits, both encodings, both quantizers where definite") {
    for (const ng::Encoding encoding : {ng::Encoding::behavioral, ng::Encoding::integrator}) {
      for (int bits : {4, 8, 12}) {
        CAPTURE(ng::to_string(encoding));
        CAPTURE(bits);
        ng::NetlistOptions o;
        o.encoding = encoding;
        o.conductance_bits = bits;
        // Ideal enough op-amps that the equilibrium is the grid matrix's to 1e-6 (no trim on a
        // grid; at 1e6 the finite gain would add its own 1e-5).
        o.opamp_gain = 1e12;
        o.target_rel_error = 1e-9;
        const ng::Netlist nl = ng::make_netlist(m, b.col(0), o);
        REQUIRE(nl.realized_matrix.rows() == n);
        const Eigen::MatrixXd expected = nl.realized_matrix.llt().solve(b);
        // The realized matrix differs from M (bits 4 and 8: by more than the tolerance).
        if (bits <= 8) {
          CHECK(tkfac::test::relative_error(m.llt().solve(b), expected) > 1e-5);
        }
        const sv::Solution spice = solve_with("spice", o, m, b);
        TKFAC_CHECK_REL_NEAR(spice.x, expected, 1e-6);
        const sv::Solution ou = solve_with("ou", o, m, b);
        TKFAC_CHECK_REL_NEAR(ou.x, spice.x, 1e-6);
      }
    }
  }
  SUBCASE("mismatch: the perturbed couplings' matrix (not symmetric) and the twin") {
    for (double sigma : {0.001, 0.01, 0.05}) {
      CAPTURE(sigma);
      ng::NetlistOptions o;
      o.mismatch = sigma;
      o.mismatch_seed = 3;
      o.target_rel_error = 1e-9;
      const ng::Netlist nl = ng::make_netlist(m, b.col(0), o);
      const Eigen::MatrixXd realized = behavioral_realized(nl, n);
      CHECK(realized != realized.transpose());
      const Eigen::MatrixXd expected = realized.partialPivLu().solve(b);
      const sv::Solution spice = solve_with("spice", o, m, b);
      TKFAC_CHECK_REL_NEAR(spice.x, expected, 1e-6);
      TKFAC_CHECK_REL_NEAR(solve_with("ou", o, m, b).x, spice.x, 1e-6);
      // Integrator: the twin and ngspice on the same perturbed resistors and capacitors.
      o.encoding = ng::Encoding::integrator;
      TKFAC_CHECK_REL_NEAR(solve_with("ou", o, m, b).x, solve_with("spice", o, m, b).x, 1e-6);
    }
  }
}

TEST_CASE("real parts: noisy quantized, perturbed circuit: ou and ngspice means within 4 standard errors") {
  std::mt19937_64 rng(21);
  const int n = 3;
  const Eigen::MatrixXd m = tkfac::random_spd(n, 5.0, rng);
  const Eigen::MatrixXd b = tkfac::random_normal(n, 1, rng);
  ng::NetlistOptions o;
  o.encoding = ng::Encoding::integrator;
  o.conductance_bits = 4;
  o.mismatch = 0.05;
  o.noise_variance = 1e-3;
  sv::SolverOptions so;
  so.netlist = o;
  so.thermo.target_standard_error = 3e-3;
  so.backend = "spice";
  const sv::Solution spice = sv::LinearSolver::create(so)->solve(m, b);
  so.backend = "ou";
  const sv::Solution ou = sv::LinearSolver::create(so)->solve(m, b);
  const Eigen::MatrixXd se =
      (spice.report.standard_errors.cwiseAbs2() + ou.report.standard_errors.cwiseAbs2()).cwiseSqrt();
  const double z = ((spice.x - ou.x).cwiseAbs().array() / se.array()).maxCoeff();
  INFO("spice " << spice.x.transpose() << ", ou " << ou.x.transpose() << ", z " << z);
  CHECK(z <= 4.0);
  // Both estimate the realized circuit, not M: the noiseless realized solution is within 4 of
  // their standard errors too, and the ideal one is far (the check could fail).
  const Eigen::MatrixXd realized = solve_with("ou", [&] {
    auto q = o;
    q.noise_variance = 0.0;
    return q;
  }(), m, b).x;
  CHECK(((ou.x - realized).cwiseAbs().array() / ou.report.standard_errors.array()).maxCoeff() <= 4.0);
  const Eigen::MatrixXd ideal = m.llt().solve(b);
  INFO("ideal " << ideal.transpose() << ", realized " << realized.transpose());
  CHECK(((ideal - realized).cwiseAbs().array() / ou.report.standard_errors.array()).maxCoeff() > 4.0);
}

TEST_CASE("real parts: the ADC reads both backends alike, within half an lsb, clipping counted") {
  std::mt19937_64 rng(31);
  const int n = 6;
  const Eigen::MatrixXd m = tkfac::random_spd(n, 20.0, rng);
  const Eigen::MatrixXd b = tkfac::random_normal(n, 2, rng);
  const Eigen::MatrixXd exact = m.llt().solve(b);
  for (int bits : {4, 8, 12}) {
    CAPTURE(bits);
    ng::NetlistOptions o;
    o.adc_bits = bits;
    o.target_rel_error = 1e-9;
    const ng::Netlist nl = ng::make_netlist(m, b.col(0), o);
    const double fs = nl.summary.adc_full_scale;
    REQUIRE(fs > 0.0);
    const ng::Converter adc{bits, fs};
    for (const std::string backend : {"spice", "ou"}) {
      CAPTURE(backend);
      const sv::Solution s = solve_with(backend, o, m, b);
      CHECK(s.report.adc_conversions == 2 * n);
      CHECK(s.report.adc_clipped == 0);  // the automatic full scale bounds every equilibrium
      for (int c = 0; c < 2; ++c) {
        // Column c's own scale (its inputs are scaled to the full scale separately).
        const double scale = (b.col(c).cwiseAbs().maxCoeff() / o.input_full_scale) /
                             nl.summary.matrix_scale;
        for (int i = 0; i < n; ++i) {
          const double v_exact = exact(i, c) / scale, v_read = s.x(i, c) / scale;
          CHECK(std::abs(v_read - v_exact) <= 0.5 * adc.lsb() + 1e-6 * std::abs(v_exact) + 1e-9);
          const double level = v_read / adc.lsb();
          CHECK(std::abs(level - std::round(level)) < 1e-6);
        }
      }
    }
  }
  // A small full scale: the clipped read-outs are counted, the same on both sides, and read as
  // the full scale.
  ng::NetlistOptions o;
  o.adc_bits = 8;
  o.adc_full_scale = 0.5;
  const ng::Netlist nl = ng::make_netlist(m, b.col(0), o);
  const double scale = nl.unknowns[0].scale;
  long expected = 0;
  for (int i = 0; i < n; ++i) expected += std::abs(exact(i, 0) / scale) > 0.5 ? 1 : 0;
  REQUIRE(expected > 0);
  const sv::Solution spice = solve_with("spice", o, m, b.col(0));
  const sv::Solution ou = solve_with("ou", o, m, b.col(0));
  CHECK(spice.report.adc_clipped == expected);
  CHECK(ou.report.adc_clipped == expected);
  TKFAC_CHECK_REL_NEAR(spice.x, ou.x, 1e-12);
  CHECK((spice.x / scale).cwiseAbs().maxCoeff() == doctest::Approx(0.5));
}

TEST_CASE("real parts: with single-pole op-amps, measured tau matches the twin's within 2% over a GBW sweep") {
  // GBW from negligible (1 GHz: tau within 1% of R C / alpha_min) to dominant (100 kHz: tau more
  // than twice the ideal formula); R C = 1 us. The twin's tau is 1 / min Re(eig(A)) of the
  // drift read from the netlist's elements, the op-amps' poles included.
  static tkfac::cosim::Session session;
  std::mt19937_64 rng(77);
  for (int n : {3, 6}) {
    const Eigen::MatrixXd m = tkfac::random_spd(n, 10.0, rng);
    double negligible = 0.0, dominant = 0.0;
    for (double gbw : {1e9, 1e7, 1e6, 3e5, 1e5}) {
      CAPTURE(n);
      CAPTURE(gbw);
      ng::NetlistOptions o;
      o.encoding = ng::Encoding::integrator;
      o.opamp_gbw = gbw;
      const cs::RelaxMeasurement r = cs::measure_relaxation(session, m, Eigen::VectorXd(), o);
      CHECK(r.tau_measured / r.tau_twin == doctest::Approx(1.0).epsilon(0.02));
      if (gbw == 1e9) negligible = r.tau_measured / r.tau_predicted;
      if (gbw == 1e5) dominant = r.tau_measured / r.tau_predicted;
    }
    CHECK(negligible < 1.01);
    CHECK(dominant > 2.0);
  }
}

TEST_CASE("cli: robustness runs a short sweep, writes its table and plot; bad values exit 2") {
  tkfac::test::ScratchDir dir("robustness-cli");
  const std::string csv = dir.file("r.csv"), png = dir.file("r.png");
  const auto r = tkfac::test::run_tkfac(fmt::format(
      "robustness --steps 4 --seeds 2 --eval-every 2 --eval-limit 200 --inverse-interval 2 "
      "--conductance-bits 4 0 --adc-bits 8 --mismatch 0 0.01 --gbw 0 1e6 --csv {} --plot {}",
      csv, png));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  for (const char* row : {"baseline          adam", "baseline          kfac full",
                          "conductance bits  4", "ADC bits          8", "mismatch          1%",
                          "op-amp GBW        1e+06 Hz"}) {
    CHECK(r.output.find(row) != std::string::npos);
  }
  std::ifstream in(csv);
  std::string header, line;
  std::getline(in, header);
  CHECK(header == "sweep,setting,step,test_accuracy_mean,test_accuracy_sd,seeds");
  int rows = 0;
  while (std::getline(in, line)) ++rows;
  CHECK(rows == 6 * 2);  // 6 configurations x evaluations at steps 2 and 4
  CHECK(std::filesystem::file_size(png) > 1000);

  for (const auto& [args, flag] :
       std::vector<std::pair<std::string, std::string>>{
           {"robustness --mismatch 0.7", "--mismatch"},
           {"robustness --adc-bits 1", "--adc-bits"},
           {"robustness --backend cg", "--backend"},
           {fmt::format("netlist --matrix {}/circuits/system3_M.csv --conductance-bits 40",
                        TKFAC_SOURCE_DIR),
            "--conductance-bits"},
           {fmt::format("netlist --matrix {}/circuits/system3_M.csv --mismatch -1",
                        TKFAC_SOURCE_DIR),
            "--mismatch"}}) {
    const auto bad = tkfac::test::run_tkfac(args);
    INFO(args << ": " << bad.output);
    CHECK(bad.exit_code == 2);
    CHECK(bad.output.find(flag) != std::string::npos);
  }
}
