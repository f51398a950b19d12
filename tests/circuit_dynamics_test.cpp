// The linear dynamics read from a circuit's elements (circuit_dynamics.hpp): exact for the
// behavioral encoding, the trimmed integrator's equilibrium exact, the untrimmed one's equal to
// its own Kirchhoff equations, and clear errors for circuits it cannot reduce.
#include "tkfac/netlist_gen/circuit_dynamics.hpp"

#include <random>

#include "test_util.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/netlist_gen/encoding.hpp"
#include "tkfac/netlist_gen/netlist.hpp"

namespace ng = tkfac::netlist_gen;

namespace {

Eigen::VectorXd equilibrium_volts(const ng::CircuitDynamics& d) {
  return d.output_map * d.drift.partialPivLu().solve(d.forcing) + d.output_offset;
}

}  // namespace

TEST_CASE("circuit dynamics: the behavioral circuit is C dV/dt = -g0 (M_hat V - b_hat) exactly") {
  std::mt19937_64 rng(3);
  for (int n : {1, 2, 5, 9}) {
    CAPTURE(n);
    const Eigen::MatrixXd m = tkfac::random_spd(n, 30.0, rng);
    const Eigen::VectorXd b = tkfac::test::random_vector(n, rng);
    ng::NetlistOptions o;
    o.damping = 0.1;
    o.noise_variance = 1e-3;
    const ng::Netlist nl = ng::make_netlist(m, b, o);
    const ng::CircuitDynamics d = ng::linear_dynamics(nl.circuit, ng::unknown_nodes(nl));
    const double tau0 = o.resistance * o.capacitance;
    Eigen::MatrixXd m_hat = m;
    m_hat.diagonal().array() += o.damping;
    m_hat /= nl.summary.matrix_scale;
    TKFAC_CHECK_REL_NEAR(tau0 * d.drift, m_hat, 1e-12);
    TKFAC_CHECK_REL_NEAR(tau0 * d.forcing, b / nl.summary.rhs_scale, 1e-12);
    TKFAC_CHECK_REL_NEAR(d.output_map, Eigen::MatrixXd::Identity(n, n), 1e-15);
    // One noise current per capacitor, into its node: B = I / C, each of the netlist's rms.
    CHECK(d.noise_input.cols() == n);  // the pad source of an odd n reaches no capacitor
    TKFAC_CHECK_REL_NEAR(d.noise_input * o.capacitance, Eigen::MatrixXd::Identity(n, n), 1e-12);
    CHECK(d.noise_rms.minCoeff() == nl.summary.noise_current_rms);
    CHECK(d.noise_sample_time.maxCoeff() == nl.summary.noise_sample_time);
  }
}

TEST_CASE(
    "circuit dynamics: the trimmed integrator's equilibrium is M_hat^-1 b_hat; warm start IC") {
  std::mt19937_64 rng(5);
  const int n = 6;
  const Eigen::MatrixXd m = tkfac::random_spd(n, 100.0, rng);
  const Eigen::VectorXd b = tkfac::test::random_vector(n, rng);
  ng::NetlistOptions o;
  o.encoding = ng::Encoding::integrator;
  o.opamp_gain = 1e3;
  o.initial_state = tkfac::test::random_vector(n, rng);
  const ng::Netlist nl = ng::make_netlist(m, b, o);
  const ng::CircuitDynamics d = ng::linear_dynamics(nl.circuit, ng::unknown_nodes(nl));
  const double scale = nl.summary.rhs_scale / nl.summary.matrix_scale;
  TKFAC_CHECK_REL_NEAR(scale * equilibrium_volts(d), m.llt().solve(b), 1e-10);
  // The capacitors' IC put the outputs at the start state.
  TKFAC_CHECK_REL_NEAR(scale * (d.output_map * d.initial_state + d.output_offset), o.initial_state,
                       1e-12);
}

TEST_CASE(
    "circuit dynamics: the untrimmed integrator settles where its own Kirchhoff equations say") {
  // Hand-derived equilibrium of the finite-gain circuit (netlist_gen/src/encoding.cpp): at
  // summing node s_i, V(s_i) = -V_i / A, inverters give -rho V_j, rho = A / (A + 2), and
  // sum_j (u_ij - V(s_i)) / R_ij + (-b_hat_i - V(s_i)) / R = 0, u_ij = V_j or -rho V_j by sign.
  std::mt19937_64 rng(7);
  const int n = 5;
  const Eigen::MatrixXd m = tkfac::random_spd(n, 20.0, rng);
  const Eigen::VectorXd b = tkfac::test::random_vector(n, rng);
  ng::NetlistOptions o;
  o.encoding = ng::Encoding::integrator;
  o.opamp_gain = 50.0;
  o.gain_compensation = false;
  const ng::Netlist nl = ng::make_netlist(m, b, o);
  const ng::CircuitDynamics d = ng::linear_dynamics(nl.circuit, ng::unknown_nodes(nl));
  const double a = o.opamp_gain, rho = a / (a + 2.0), g0 = 1.0 / o.resistance;
  const Eigen::MatrixXd m_hat = m / nl.summary.matrix_scale;
  const Eigen::VectorXd b_hat = b / nl.summary.rhs_scale;
  Eigen::MatrixXd k = Eigen::MatrixXd::Zero(n, n);
  Eigen::VectorXd rhs = g0 * b_hat;
  for (int i = 0; i < n; ++i) {
    double total = g0;  // every conductance into s_i, the input's included
    for (int j = 0; j < n; ++j) {
      if (m_hat(i, j) == 0.0) continue;
      const double g = g0 * std::abs(m_hat(i, j));
      k(i, j) += m_hat(i, j) > 0 ? g : -rho * g;
      total += g;
    }
    k(i, i) += total / a;  // -V(s_i) * total = +V_i total / A
  }
  const Eigen::VectorXd expected = k.lu().solve(rhs);
  TKFAC_CHECK_REL_NEAR(equilibrium_volts(d), expected, 1e-10);
  // ... which is not the ideal solution: the twin must be this circuit's, not M's.
  CHECK(tkfac::test::relative_error(equilibrium_volts(d), m_hat.llt().solve(b_hat)) > 1e-2);
}

TEST_CASE("circuit dynamics: circuits it cannot reduce are refused with a message") {
  ng::Circuit no_capacitor;
  no_capacitor.add_block({}).elements.push_back(ng::Element::resistor("R_1", "a", "0", 1e3));
  CHECK_THROWS_WITH_AS(ng::linear_dynamics(no_capacitor, {"a"}), doctest::Contains("no capacitor"),
                       tkfac::InputError);

  ng::Circuit parallel;  // two capacitors across the same nodes: a loop of fixed voltages
  auto& blk = parallel.add_block({});
  blk.elements.push_back(ng::Element::capacitor("C_1", "a", "0", 1e-9));
  blk.elements.push_back(ng::Element::capacitor("C_2", "a", "0", 2e-9));
  blk.elements.push_back(ng::Element::resistor("R_1", "a", "0", 1e3));
  CHECK_THROWS_WITH_AS(ng::linear_dynamics(parallel, {"a"}), doctest::Contains("singular"),
                       tkfac::InputError);

  ng::Circuit ok;
  auto& rc = ok.add_block({});
  rc.elements.push_back(ng::Element::capacitor("C_1", "a", "0", 1e-9));
  rc.elements.push_back(ng::Element::resistor("R_1", "a", "0", 1e3));
  CHECK_THROWS_WITH_AS(ng::linear_dynamics(ok, {"nowhere"}), doctest::Contains("no node 'nowhere'"),
                       tkfac::InputError);
  const ng::CircuitDynamics d = ng::linear_dynamics(ok, {"a"});
  CHECK(d.drift(0, 0) == doctest::Approx(1e6).epsilon(1e-12));  // 1 / (R C)
}
