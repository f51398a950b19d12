// The activation encoding (netlist_gen/activation.hpp) and `tkfac netlist --model`: netlists of
// a trained network's Kronecker factors, checked against K-FAC's own factors and solves.
#include <sys/wait.h>
#include <unistd.h>

#include <Eigen/Eigenvalues>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli_helpers.hpp"
#include "ngspice_helpers.hpp"
#include "test_util.hpp"
#include "tkfac/core/csv.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/cosim/session.hpp"
#include "tkfac/kfac/checkpoint.hpp"
#include "tkfac/kfac/dataset.hpp"
#include "tkfac/kfac/kfac_factors.hpp"
#include "tkfac/kfac/kfac_optimizer.hpp"
#include "tkfac/kfac/trainer.hpp"
#include "tkfac/netlist_gen/activation.hpp"
#include "tkfac/netlist_gen/encoding.hpp"
#include "tkfac/netlist_gen/netlist.hpp"
#include "tkfac/netlist_gen/report.hpp"

namespace ng = tkfac::netlist_gen;
namespace kf = tkfac::kfac;
namespace fs = std::filesystem;
using tkfac::test::ScratchDir;
using tkfac::test::contains;
using tkfac::test::lines_of;
using tkfac::test::parse_unknowns;
using tkfac::test::read_text;
using tkfac::test::write_text;

namespace {

// `ngspice -b file`: its output; requires exit code 0 and no error or warning line.
std::string run_ngspice(const fs::path& file) {
  const std::string output = tkfac::test::run_ngspice(file);
  tkfac::test::check_clean(output);
  return output;
}

// Runs the netlist in `ngspice -b` with a .control block that prints the last point of every
// unknown with 16 digits; returns x = scale * V.
Eigen::VectorXd solve_with_ngspice(const std::string& netlist, const ScratchDir& dir,
                                   const std::string& name) {
  const fs::path file = dir.file(name);
  write_text(file, tkfac::test::with_full_precision_readout(netlist));
  return tkfac::test::solution_full_precision(netlist, run_ngspice(file));
}

Eigen::MatrixXd gram(const Eigen::MatrixXd& a, double damping) {
  Eigen::MatrixXd m = a * a.transpose() / static_cast<double>(a.cols());
  m.diagonal().array() += damping;
  return 0.5 * (m + m.transpose());
}

Eigen::MatrixXd random_array(int n, int b, std::mt19937_64& rng) {
  return tkfac::random_normal(n, b, rng);
}

struct ActivationCase {
  int n, b;
  double damping;
};

// The fields of the element card named `name` ("R_a_3_1 o_3 p_1 1234.5").
std::map<std::string, std::vector<std::string>> cards(const std::string& netlist) {
  std::map<std::string, std::vector<std::string>> out;
  for (const std::string& line : lines_of(netlist)) {
    if (line.empty() || line[0] == '*' || line[0] == '.') continue;
    std::istringstream in(line);
    std::vector<std::string> f;
    for (std::string w; in >> w;) f.push_back(w);
    if (!f.empty()) out[f[0]] = f;
  }
  return out;
}

double header_value(const std::string& netlist, const std::string& key) {
  for (const std::string& line : lines_of(netlist)) {
    const auto at = line.find(key);
    if (at != std::string::npos) return std::stod(line.substr(at + key.size()));
  }
  FAIL("no '" << key << "' in the netlist header");
  return 0.0;
}

// The matrix an untrimmed activation netlist encodes, read back from its element cards:
// F_ik = +-R / R_a_i_k (sign from the source node), mu = R / R_d_i, M = s_M (F F^T + mu I).
Eigen::MatrixXd matrix_from_activation_netlist(const std::string& netlist, int n, int b) {
  const auto c = cards(netlist);
  const double s_m = header_value(netlist, "s_M = ");
  const double r = header_value(netlist, "R = ");
  Eigen::MatrixXd f = Eigen::MatrixXd::Zero(n, b);
  for (int i = 0; i < n; ++i) {
    for (int k = 0; k < b; ++k) {
      const auto it = c.find(fmt::format("R_a_{}_{}", i, k));
      if (it == c.end()) continue;
      const double sign = it->second[1].rfind("neg_", 0) == 0 ? -1.0 : 1.0;
      f(i, k) = sign * r / std::stod(it->second[3]);
    }
  }
  Eigen::MatrixXd m = f * f.transpose();
  for (int i = 0; i < n; ++i) {
    const auto it = c.find(fmt::format("R_d_{}", i));
    if (it != c.end()) m(i, i) += r / std::stod(it->second[3]);
  }
  return s_m * m;
}

// The matrix a behavioral netlist encodes: G_i_j = g0 m_hat_ij, M + damping I = s_M R G.
Eigen::MatrixXd matrix_from_behavioral_netlist(const std::string& netlist, int n) {
  const auto c = cards(netlist);
  const double s_m = header_value(netlist, "s_M = ");
  const double r = header_value(netlist, "R = ");
  Eigen::MatrixXd m = Eigen::MatrixXd::Zero(n, n);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      const auto it = c.find(fmt::format("G_{}_{}", i, j));
      if (it != c.end()) m(i, j) = s_m * r * std::stod(it->second[5]);
    }
  }
  return m;
}

}  // namespace

TEST_CASE("activation: the circuit solves the same system as behavioral and integrator") {
  ScratchDir dir("activation-same");
  std::mt19937_64 rng(11);
  // b < N needs damping; b > N without damping; a zero entry and a zero column.
  for (const ActivationCase& t : {ActivationCase{6, 4, 0.05}, ActivationCase{5, 12, 0.0},
                                  ActivationCase{8, 8, 0.3}}) {
    CAPTURE(t.n);
    CAPTURE(t.b);
    Eigen::MatrixXd a = random_array(t.n, t.b, rng);
    a(1, 2) = 0.0;
    if (t.b == 8) a.col(5).setZero();
    const Eigen::VectorXd rhs = tkfac::test::random_vector(t.n, rng);
    const Eigen::MatrixXd m = gram(a, 0.0);
    const Eigen::VectorXd exact = gram(a, t.damping).llt().solve(rhs);
    ng::NetlistOptions o;
    o.damping = t.damping;
    const ng::Netlist act = ng::make_activation_netlist(a, rhs, o);
    const Eigen::VectorXd x_act = solve_with_ngspice(ng::to_spice(act), dir, "act.cir");
    // Same scaling, hence the same tau and scales, as the matrix encodings.
    const ng::Netlist beh = ng::make_netlist(m, rhs, o);
    CHECK(act.summary.matrix_scale == doctest::Approx(beh.summary.matrix_scale).epsilon(1e-14));
    CHECK(act.summary.predicted_tau == doctest::Approx(beh.summary.predicted_tau).epsilon(1e-9));
    CHECK(act.summary.sim_time == beh.summary.sim_time);
    const Eigen::VectorXd x_beh = solve_with_ngspice(ng::to_spice(beh), dir, "beh.cir");
    o.encoding = ng::Encoding::integrator;
    const Eigen::VectorXd x_int =
        solve_with_ngspice(ng::to_spice(ng::make_netlist(m, rhs, o)), dir, "int.cir");
    TKFAC_CHECK_REL_NEAR(x_act, x_beh, 1e-4);
    TKFAC_CHECK_REL_NEAR(x_act, x_int, 1e-4);
    // And, tighter, the exact solution to the relaxation target (1e-6).
    TKFAC_CHECK_REL_NEAR(x_act, exact, o.target_rel_error);
    if (t.b == 8) CHECK_FALSE(contains(ng::to_spice(act), "E_sum_5 "));
  }
}

TEST_CASE("activation: the trim makes finite op-amp gain exact; untrimmed within the bound") {
  ScratchDir dir("activation-gain");
  std::mt19937_64 rng(5);
  const Eigen::MatrixXd a = random_array(6, 9, rng);
  const Eigen::VectorXd rhs = tkfac::test::random_vector(6, rng);
  // A = 1e3: the untrimmed error is large enough to see. damping 1e-5: too small to absorb the
  // integrators' leak, so the trim takes R_d_i from neg_i.
  for (const double damping : {0.2, 1e-5}) {
    CAPTURE(damping);
    const Eigen::VectorXd exact = gram(a, damping).llt().solve(rhs);
    ng::NetlistOptions o;
    o.damping = damping;
    o.opamp_gain = 1e3;
    const std::string trimmed = ng::to_spice(ng::make_activation_netlist(a, rhs, o));
    if (damping < 1e-3) CHECK(contains(trimmed, "R_d_0 neg_0 s_0 "));
    TKFAC_CHECK_REL_NEAR(solve_with_ngspice(trimmed, dir, "trim.cir"), exact, o.target_rel_error);
    o.gain_compensation = false;
    const ng::Netlist raw = ng::make_activation_netlist(a, rhs, o);
    const Eigen::VectorXd x_raw = solve_with_ngspice(ng::to_spice(raw), dir, "raw.cir");
    const double err = tkfac::test::relative_error(x_raw, exact);
    INFO("untrimmed error " << err << ", stated bound " << raw.summary.finite_gain_error);
    CHECK(err > 10 * o.target_rel_error);  // the trim did something
    CHECK(err <= raw.summary.finite_gain_error + o.target_rel_error);
  }
}

TEST_CASE("activation: the measured relaxation time is R C / alpha_min within 2%") {
  std::mt19937_64 rng(3);
  const int n = 6, b = 10;
  const Eigen::MatrixXd a = random_array(n, b, rng);
  const double damping = 0.02;
  ng::NetlistOptions o;
  o.damping = damping;
  const Eigen::MatrixXd m_hat = gram(a, damping) / ng::activation_matrix_scale(a, damping);
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(m_hat);
  const Eigen::VectorXd q = eig.eigenvectors().col(0);
  // A right-hand side with a large share in the slow mode.
  const Eigen::VectorXd rhs = q + 0.3 * tkfac::test::random_vector(n, rng);
  ng::Netlist probe = ng::make_activation_netlist(a, rhs, o);
  const double tau = probe.summary.predicted_tau;
  CHECK(tau == doctest::Approx(o.resistance * o.capacitance / eig.eigenvalues()(0)).epsilon(1e-9));
  // Gear-2 follows a mode's rate to ~1e-3 at h = tau / 20 (relaxation.hpp).
  o.max_step = tau / 20;
  o.sim_time = 8 * tau;
  const ng::Netlist nl = ng::make_activation_netlist(a, rhs, o);
  const Eigen::VectorXd v_eq = m_hat.llt().solve(rhs / nl.summary.rhs_scale);
  std::vector<double> ts, logs;
  tkfac::cosim::Session session;
  session.load(ng::to_spice(nl));
  tkfac::cosim::RunOptions run;
  for (const auto& u : nl.unknowns) run.nodes.push_back(u.node);
  run.observer = [&](double t, const Eigen::VectorXd& v) {
    // The tail, where the projection is still far above the simulator's tolerances.
    if (t < 1.5 * tau || t > 6 * tau) return;
    ts.push_back(t);
    logs.push_back(std::log(std::abs(q.dot(v - v_eq))));
  };
  session.run(run);
  REQUIRE(ts.size() >= 10);
  const Eigen::Map<const Eigen::VectorXd> t(ts.data(), static_cast<Eigen::Index>(ts.size()));
  const Eigen::Map<const Eigen::VectorXd> y(logs.data(), static_cast<Eigen::Index>(logs.size()));
  const double tm = t.mean(), ym = y.mean();
  const double slope = ((t.array() - tm) * (y.array() - ym)).sum() / (t.array() - tm).square().sum();
  const double tau_measured = -1.0 / slope;
  INFO("tau measured " << tau_measured << ", predicted " << tau);
  CHECK(std::abs(tau_measured / tau - 1.0) <= 0.02);
}

TEST_CASE("activation: 2 N b array resistors plus O(N + b), not O(N^2)") {
  std::mt19937_64 rng(9);
  const int n = 80, b = 4;
  const Eigen::MatrixXd a = random_array(n, b, rng);
  ng::NetlistOptions o;
  o.damping = 0.1;
  const ng::Netlist act = ng::make_activation_netlist(a, Eigen::VectorXd(), o);
  const ng::HardwareReport r = ng::hardware_report(act);
  // Arrays 2 N b; per unknown: C, integrator, inverter (2 R + op-amp), damping R, DAC + R;
  // per column: summing amplifier + feedback R, inverter (2 R + op-amp).
  CHECK(r.counts.resistors <= 2 * n * b + 4 * n + 3 * b);
  CHECK(r.elements <= 2 * n * b + 9 * n + 5 * b);
  CHECK(r.counts.resistors >= 2 * n * b);
  o.encoding = ng::Encoding::integrator;
  const ng::HardwareReport ri = ng::hardware_report(ng::make_netlist(gram(a, 0.0), {}, o));
  CHECK(ri.counts.resistors >= n * n);
  INFO("activation " << r.elements << " elements, integrator " << ri.elements);
  CHECK(r.elements * 5 < ri.elements);
  // Deterministic text.
  CHECK(ng::to_spice(act) == ng::to_spice(ng::make_activation_netlist(a, Eigen::VectorXd(), o)));
}

TEST_CASE("activation: zero entries give no resistor; names follow the indices; bad input") {
  Eigen::MatrixXd a(3, 2);
  a << 1.0, 0.0,  //
      -2.0, 0.5,  //
      0.0, 1.5;
  ng::NetlistOptions o;
  o.damping = 0.1;
  const std::string text = ng::to_spice(ng::make_activation_netlist(a, Eigen::Vector3d(1, 2, 3), o));
  const auto c = cards(text);
  CHECK(c.count("R_a_0_0") == 1);
  CHECK(c.count("R_a_0_1") == 0);
  CHECK(c.count("R_f_0_1") == 0);
  CHECK(c.count("R_a_2_0") == 0);
  CHECK(c.at("R_a_1_0")[1] == "neg_1");  // negative entry: from -V_1
  CHECK(c.at("R_f_1_0")[1] == "y_0");    // ... and fed back from y_0 = -(F^T V)_0
  CHECK(c.at("R_f_0_0")[1] == "ny_0");
  CHECK(c.count("V_dac_2") == 1);
  CHECK(parse_unknowns(text).size() == 3);
  // Input sources carry the RHS, as in the integrator encoding.
  const ng::Netlist nl = ng::make_activation_netlist(a, Eigen::Vector3d(1, 2, 3), o);
  const ng::InputValues iv = ng::input_values(nl, Eigen::Vector3d(3, 0, -3), o);
  CHECK(iv.sources.size() == 3);
  CHECK(iv.sources[0].first == "V_dac_0");
  CHECK(iv.sources[0].second == doctest::Approx(-1.0));

  auto message = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const tkfac::InputError& e) {
      return e.what();
    }
    return "nothing thrown";
  };
  CHECK(contains(message([&] { ng::make_activation_netlist(a, Eigen::VectorXd(), ng::NetlistOptions{}); }),
                 "singular without damping"));
  CHECK(contains(message([&] { ng::make_activation_netlist(Eigen::MatrixXd(0, 2), {}, o); }),
                 "non-empty"));
  Eigen::MatrixXd bad = a;
  bad(0, 0) = std::nan("");
  CHECK(contains(message([&] { ng::make_activation_netlist(bad, {}, o); }), "entry (0, 0)"));
  CHECK(contains(message([&] { ng::make_activation_netlist(a, Eigen::Vector2d(1, 2), o); }),
                 "expected 3"));
}

TEST_CASE("activation: noise into the summing nodes, sized and seeded as in the integrator") {
  // The same SDE, so the same noise: one TRRANDOM source per s_i, NA and NT equal to those of the
  // integrator netlist of M = a a^T / b, a pad source for odd n, `.options seed`.
  std::mt19937_64 rng(8);
  const Eigen::MatrixXd a = random_array(3, 4, rng);
  const Eigen::VectorXd b = Eigen::Vector3d(1, -2, 0.5);
  ng::NetlistOptions o;
  o.damping = 0.1;
  o.noise_variance = 1e-3;
  o.noise_seed = 9;
  const ng::Netlist act = ng::make_activation_netlist(a, b, o);
  ng::NetlistOptions oi = o;
  oi.encoding = ng::Encoding::integrator;
  const ng::Netlist integ = ng::make_netlist(ng::activation_matrix(a), b, oi);
  const std::string text = ng::to_spice(act);
  INFO(text);
  CHECK(act.summary.noise_sample_time == integ.summary.noise_sample_time);
  CHECK(act.summary.noise_current_rms ==
        doctest::Approx(integ.summary.noise_current_rms).epsilon(1e-12));
  CHECK(act.summary.voltage_noise_variance ==
        doctest::Approx(integ.summary.voltage_noise_variance).epsilon(1e-12));
  CHECK(act.tran_max_step == act.summary.noise_sample_time);
  const auto c = cards(text);
  for (int i = 0; i < 3; ++i) {
    const auto it = c.find(fmt::format("I_n_{}", i));
    REQUIRE(it != c.end());
    CHECK(it->second[2] == fmt::format("s_{}", i));
    CHECK(it->second[5] == "trrandom(2");
  }
  CHECK(c.count("I_n_pad") == 1);
  CHECK(contains(text, "\n.options seed=9\n"));
  CHECK(ng::count_components(act.circuit).sources == 3 + 4);  // DACs, noise sources with the pad
  // The header states the noise as the integrator's does, expected std included (from the SVD
  // of a here, from the inverse of M there).
  const auto line_with = [](const ng::Netlist& nl, const std::string& part) {
    for (const std::string& h : nl.header)
      if (contains(h, part)) return h;
    return std::string("(none)");
  };
  for (const char* part : {"Noise: beta^-1", "NA = sqrt", "seed = 9", "Expected std of x_i"}) {
    CHECK(line_with(act, part) == line_with(integ, part));
  }
  CHECK(contains(line_with(act, "Dynamics:"), "+ i_noise"));
  // A noise step larger than NT is refused, as for the other encodings.
  ng::NetlistOptions bad = o;
  bad.noise_sample_time = 1e-8;
  bad.max_step = 2e-8;
  CHECK_THROWS_AS(ng::make_activation_netlist(a, b, bad), tkfac::InputError);
}

namespace {

// A small checkpoint: `tkfac train` on the synthetic data, 8-6-3 tanh, a few K-FAC steps.
std::string make_checkpoint(const ScratchDir& dir, const std::string& extra = "") {
  const std::string path = dir.file("model.json");
  const auto r = tkfac::test::run_tkfac(fmt::format(
      "train --dataset synthetic --layers 8,6,3 --steps 5 --batch-size 16 --quiet --save '{}' {}",
      path, extra));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  return path;
}

// The batch `tkfac netlist --model ... --dataset synthetic --seed 1 --batch-size B` draws.
kf::Batch synthetic_batch(int batch_size) {
  kf::SyntheticOptions so;
  so.seed = 1;
  const kf::Dataset train = kf::make_synthetic(so).first;
  std::vector<long> order = kf::epoch_permutation(train.size(), 1, 0);
  order.resize(static_cast<std::size_t>(batch_size));
  return train.batch(order);
}

}  // namespace

TEST_CASE("layer: netlists of a checkpoint's layer encode and solve K-FAC's own factors") {
  ScratchDir dir("layer-kfac");
  const std::string model = make_checkpoint(dir);
  const kf::Checkpoint ckpt = kf::load_checkpoint(model);
  const int batch_size = 24;
  const kf::Batch batch = synthetic_batch(batch_size);
  // K-FAC itself, Method 2 with Cholesky, one step from the checkpoint's parameters on that
  // batch (first-batch EMA: the factors are the batch's), no momentum: direction = U.
  kf::KfacOptions ko = ckpt.optimizer.kfac;
  ko.method = kf::KfacMethod::solve;
  ko.solver = tkfac::solver::SolverOptions{};
  ko.ema_init = kf::EmaInit::first_batch;
  ko.momentum = 0.0;
  ko.kl_clip = 0.0;
  kf::Kfac kfac(ko);
  kf::Mlp net = ckpt.net;
  kfac.step(net, batch);
  for (int layer = 0; layer < 2; ++layer) {
    const auto& s = kfac.layers()[static_cast<std::size_t>(layer)];
    const auto [la, lg] = kfac.damping_for(s.a, s.g);
    Eigen::MatrixXd a_damped = s.a, g_damped = s.g;
    a_damped.diagonal().array() += la;
    g_damped.diagonal().array() += lg;
    const Eigen::MatrixXd u = s.direction;
    const Eigen::MatrixXd x = u * a_damped;  // X = (G + lG I)^-1 dW_bar, as U = X (A + lA I)^-1
    for (const char* factor : {"A", "G"}) {
      const bool is_a = std::string(factor) == "A";
      const Eigen::MatrixXd& expected = is_a ? a_damped : g_damped;
      const int n = static_cast<int>(expected.rows());
      for (const char* encoding : {"behavioral", "activation"}) {
        CAPTURE(layer);
        CAPTURE(factor);
        CAPTURE(encoding);
        const long column = 1;
        const std::string out = dir.file(fmt::format("l{}{}{}.cir", layer, factor, encoding));
        const auto r = tkfac::test::run_tkfac(fmt::format(
            "netlist --model '{}' --layer {} --factor {} --encoding {} --dataset synthetic "
            "--batch-size {} --rhs-column {} --gain-compensation false -o '{}'",
            model, layer, factor, encoding, batch_size, column, out));
        INFO(r.output);
        REQUIRE(r.exit_code == 0);
        const std::string text = read_text(out);
        // The encoded matrix is K-FAC's damped factor (before circuit scaling).
        const Eigen::MatrixXd encoded =
            std::string(encoding) == "activation"
                ? matrix_from_activation_netlist(text, n, batch_size)
                : matrix_from_behavioral_netlist(text, n);
        TKFAC_CHECK_REL_NEAR(encoded, expected, 1e-10);
        // Its solution is the optimizer's own Method 2 solve: column J of X (G), row J of U (A).
        const Eigen::VectorXd want = is_a ? Eigen::VectorXd(u.row(column).transpose())
                                          : Eigen::VectorXd(x.col(column));
        if (std::string(encoding) == "behavioral") {
          TKFAC_CHECK_REL_NEAR(solve_with_ngspice(text, dir, "solve.cir"), want, 1e-4);
        }
      }
      // The activation circuit with its default trim, solved by ngspice.
      const std::string out = dir.file("trimmed.cir");
      const auto r = tkfac::test::run_tkfac(fmt::format(
          "netlist --model '{}' --layer {} --factor {} --encoding activation --dataset synthetic "
          "--batch-size {} --rhs-column 1 -o '{}'",
          model, layer, factor, batch_size, out));
      REQUIRE(r.exit_code == 0);
      const Eigen::VectorXd want =
          is_a ? Eigen::VectorXd(u.row(1).transpose()) : Eigen::VectorXd(x.col(1));
      TKFAC_CHECK_REL_NEAR(solve_with_ngspice(read_text(out), dir, "solve.cir"), want, 1e-4);
    }
  }
}

TEST_CASE("layer: batch_factors is the optimizer's own computation") {
  kf::Mlp net({8, 6, 3}, kf::Activation::tanh, 4);
  const kf::Batch batch = synthetic_batch(20);
  for (const auto fisher : {kf::FisherType::empirical, kf::FisherType::monte_carlo}) {
    for (const auto bias : {kf::BiasMode::folded, kf::BiasMode::separate}) {
      kf::KfacOptions o;
      o.fisher = fisher;
      o.bias = bias;
      o.seed = 3;
      std::mt19937_64 rng(o.seed);
      const kf::BatchFactors f = kf::batch_factors(net, batch, o, rng);
      kf::Kfac kfac(o);
      kf::Mlp copy = net;
      kfac.step(copy, batch);
      for (std::size_t l = 0; l < 2; ++l) {
        // Bit for bit: the same function computes both.
        CHECK(f.layers[l].a == kfac.layers()[l].a);
        CHECK(f.layers[l].g == kfac.layers()[l].g);
        const double b = 20.0;
        TKFAC_CHECK_REL_NEAR(f.layers[l].a_array * f.layers[l].a_array.transpose() / b,
                             f.layers[l].a, 1e-14);
        TKFAC_CHECK_REL_NEAR(f.layers[l].g_array * f.layers[l].g_array.transpose() / b,
                             f.layers[l].g, 1e-14);
      }
    }
  }
}

TEST_CASE("layer: --all writes every factor with an index, and ngspice runs every netlist") {
  ScratchDir dir("layer-all");
  const std::string model = make_checkpoint(dir);
  for (const char* encoding : {"integrator", "activation"}) {
    CAPTURE(encoding);
    const fs::path out = dir.path() / fmt::format("all-{}", encoding);
    const auto r = tkfac::test::run_tkfac(fmt::format(
        "netlist --model '{}' --all '{}' --encoding {} --dataset synthetic --batch-size 16",
        model, out.string(), encoding));
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    const nlohmann::json index = nlohmann::json::parse(read_text(out / "index.json"));
    REQUIRE(index["netlists"].size() == 4);
    const auto csv = lines_of(read_text(out / "index.csv"));
    REQUIRE(csv.size() == 5);
    CHECK(csv[0].rfind("layer,factor,size,encoding,resistors,capacitors,amplifiers", 0) == 0);
    for (const auto& e : index["netlists"]) {
      const fs::path file = out / e["file"].get<std::string>();
      CAPTURE(file.string());
      CHECK(e["encoding"] == encoding);
      CHECK(e["predicted_tau"].get<double>() > 0.0);
      const std::string output = run_ngspice(file);
      CHECK(contains(output, "tkfac_final_0"));
    }
  }
  // From the EMA state (any encoding but activation).
  const fs::path ema = dir.path() / "ema";
  const auto r = tkfac::test::run_tkfac(
      fmt::format("netlist --model '{}' --all '{}' --from-ema --encoding behavioral", model,
                  ema.string()));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(fs::exists(ema / "layer1_G_behavioral.cir"));
  CHECK(contains(read_text(ema / "layer0_A_behavioral.cir"), "EMA state"));
}

TEST_CASE("layer: --report and --plot") {
  ScratchDir dir("layer-report");
  const std::string model = make_checkpoint(dir);
  const auto r = tkfac::test::run_tkfac(fmt::format(
      "netlist --model '{}' --layer 0 --factor A --encoding activation --dataset synthetic "
      "--batch-size 16 --report --plot '{}'",
      model, dir.file("a0.svg")));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(contains(r.output, "resistors"));
  CHECK(contains(r.output, "dynamic range"));
  CHECK(contains(r.output, "bits"));
  CHECK(contains(r.output, "predicted tau"));
  CHECK_FALSE(contains(r.output, ".tran"));  // the report, not the netlist
  CHECK(fs::file_size(dir.file("a0.svg")) > 1000);
}

TEST_CASE("layer: bad input gives a clear error, exit code 2 and no output") {
  ScratchDir dir("layer-bad");
  const std::string model = make_checkpoint(dir);
  const std::string base = fmt::format("netlist --model '{}' --dataset synthetic --batch-size 16 ", model);
  const std::string out = dir.file("out.cir");
  struct Bad {
    std::string args;
    std::vector<std::string> message;
  };
  const std::vector<Bad> cases = {
      {base + "--layer 2 --factor A", {"--layer", "out of range", "2 layers"}},
      {base + "--layer 0 --factor B", {"--factor", "unknown factor 'B'", "A or G"}},
      {base + "--layer 0 --factor A --from-ema --encoding activation",
       {"--encoding activation", "--from-ema"}},
      {fmt::format("netlist --model '{}' --dataset synthetic --batch-size 100000 --layer 0 "
                   "--factor A",
                   model),
       {"--batch-size", "larger than the data set"}},
      {fmt::format("netlist --model '{}' --dataset fashion-mnist --pool 4 --layer 0 --factor A",
                   model),
       {"--model", "8 inputs", "49 features"}},
      {base + "--layer 0 --factor G --rhs-column 9", {"--rhs-column", "out of range"}},
      {base + "--all /nonexistent-dir/sub/out", {"--all", "does not exist"}},
      {base + "--layer 0 --factor A --encoding banana", {"--encoding", "banana", "activation"}},
      // A matrix in the activation encoding: the message says where that circuit comes from.
      {fmt::format("netlist --matrix '{0}/circuits/system3_M.csv' --encoding activation",
                   TKFAC_SOURCE_DIR),
       {"activation array", "--activations", "--model"}},
      {fmt::format("solve --matrix '{0}/circuits/system3_M.csv' --rhs '{0}/circuits/system3_b.csv' "
                   "--backend spice --encoding activation",
                   TKFAC_SOURCE_DIR),
       {"activation array", "--activations", "--model"}},
  };
  for (const Bad& b : cases) {
    CAPTURE(b.args);
    const bool all = contains(b.args, "--all");
    const auto r = tkfac::test::run_tkfac(b.args + (all ? "" : " -o '" + out + "'"));
    INFO(r.output);
    CHECK(r.exit_code == 2);
    for (const std::string& part : b.message) CHECK(contains(r.output, part));
    CHECK_FALSE(fs::exists(out));
  }
  // An output directory that cannot be written: nothing half-written, no temp dir left behind.
  const fs::path locked = dir.path() / "locked";
  fs::create_directories(locked);
  fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec);
  if (::access(locked.c_str(), W_OK) != 0) {  // (root can write anyway; then skip)
    const auto r = tkfac::test::run_tkfac(base + "--all '" + (locked / "out").string() + "'");
    INFO(r.output);
    CHECK(r.exit_code == 2);
    CHECK(contains(r.output, "--all"));
    CHECK(fs::is_empty(locked));
  }
  fs::permissions(locked, fs::perms::owner_all);
  // A non-empty --all directory is refused and left as it was.
  const fs::path full = dir.path() / "full";
  fs::create_directories(full);
  write_text(full / "keep.txt", "x");
  const auto r = tkfac::test::run_tkfac(base + "--all '" + full.string() + "'");
  CHECK(r.exit_code == 2);
  CHECK(contains(r.output, "not an empty directory"));
  CHECK(read_text(full / "keep.txt") == "x");
}

TEST_CASE("activation: the golden netlist in circuits/ is reproduced byte for byte and solves") {
  // circuits/README.md: regenerate with TKFAC_REGENERATE_GOLDEN=1 after an intended change.
  const fs::path circuits = fs::path(TKFAC_SOURCE_DIR) / "circuits";
  const Eigen::MatrixXd a = tkfac::read_csv_matrix((circuits / "activation3_a.csv").string());
  const Eigen::VectorXd b = tkfac::read_csv_matrix((circuits / "activation3_b.csv").string()).col(0);
  ng::NetlistOptions o;
  o.damping = 0.1;  // b > N here, but damping is what K-FAC always adds
  const std::string text = ng::to_spice(ng::make_activation_netlist(a, b, o));
  const fs::path path = circuits / "activation3_activation.cir";
  const char* env = std::getenv("TKFAC_REGENERATE_GOLDEN");
  if (env != nullptr && std::string(env) == "1") {
    write_text(path, text);
    MESSAGE("rewrote " << path.string());
  } else {
    INFO("regenerate with TKFAC_REGENERATE_GOLDEN=1 if the change is intended");
    CHECK_MESSAGE(read_text(path) == text, path.string() << " differs from:\n" << text);
  }
  ScratchDir dir("activation-golden");
  TKFAC_CHECK_REL_NEAR(solve_with_ngspice(read_text(path), dir, "golden.cir"),
                       gram(a, 0.1).llt().solve(b), 1e-6);
}
