// Tests of the kfac part: networks, gradients, optimizers (SGD, Adam, K-FAC), data, checkpoints.
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "test_util.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/cosim/backends.hpp"
#include "tkfac/kfac/adam.hpp"
#include "tkfac/kfac/checkpoint.hpp"
#include "tkfac/kfac/dataset.hpp"
#include "tkfac/kfac/factor_system.hpp"
#include "tkfac/kfac/kfac_optimizer.hpp"
#include "tkfac/kfac/loss.hpp"
#include "tkfac/kfac/mlp.hpp"
#include "tkfac/kfac/optimizer_factory.hpp"
#include "tkfac/kfac/sgd.hpp"
#include "tkfac/kfac/trainer.hpp"

namespace kf = tkfac::kfac;
using Eigen::MatrixXd;

namespace {

// spice and ou come from cosim; registered once, before any test case runs (a static
// initializer here in the test's own object file is kept by the linker).
[[maybe_unused]] const bool kCircuitBackends = (tkfac::cosim::register_backends(), true);


kf::Batch random_batch(int features, int classes, int n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  kf::Batch b;
  b.x = MatrixXd(features, n);
  for (Eigen::Index i = 0; i < b.x.size(); ++i) b.x(i) = std::normal_distribution<double>()(rng);
  for (int j = 0; j < n; ++j)
    b.y.push_back(static_cast<int>(rng() % static_cast<unsigned>(classes)));
  return b;
}

double batch_loss(const kf::Mlp& net, const kf::Batch& b) {
  return kf::softmax_cross_entropy(net.forward(b.x), b.y);
}

// Column-major vec, so vec(G X A) = (A^T kron G) vec(X).
Eigen::VectorXd vec(const MatrixXd& m) {
  return Eigen::Map<const Eigen::VectorXd>(m.data(), m.size());
}

MatrixXd kron(const MatrixXd& a, const MatrixXd& b) {
  MatrixXd k(a.rows() * b.rows(), a.cols() * b.cols());
  for (Eigen::Index i = 0; i < a.rows(); ++i)
    for (Eigen::Index j = 0; j < a.cols(); ++j)
      k.block(i * b.rows(), j * b.cols(), b.rows(), b.cols()) = a(i, j) * b;
  return k;
}

MatrixXd damped(const MatrixXd& m, double lambda) {
  return m + lambda * MatrixXd::Identity(m.rows(), m.cols());
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          fmt::format("tkfac_kfac_test_{}_{}", ::getpid(), name))
      .string();
}

void write_gz(const std::string& path, const std::vector<unsigned char>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) ==
          static_cast<int>(bytes.size()));
  gzclose(f);
}

std::vector<unsigned char> idx_header(std::uint32_t magic, std::vector<std::uint32_t> dims) {
  std::vector<unsigned char> h;
  auto put = [&](std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) h.push_back(static_cast<unsigned char>(v >> s));
  };
  put(magic);
  for (auto d : dims) put(d);
  return h;
}

template <class F>
std::string input_error_message(F&& f) {
  try {
    f();
  } catch (const tkfac::InputError& e) {
    return e.what();
  }
  FAIL("expected an InputError");
  return {};
}

kf::KfacOptions small_kfac(std::string backend = "cholesky") {
  kf::KfacOptions o;
  o.learning_rate = 0.05;
  o.damping = 1e-2;
  o.solver.backend = std::move(backend);
  return o;
}

void check_bitwise_equal(const std::vector<MatrixXd>& a, const std::vector<MatrixXd>& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t l = 0; l < a.size(); ++l) {
    REQUIRE(a[l].rows() == b[l].rows());
    REQUIRE(a[l].cols() == b[l].cols());
    INFO("layer " << l << " max difference " << (a[l] - b[l]).cwiseAbs().maxCoeff());
    CHECK(std::memcmp(a[l].data(), b[l].data(),
                      sizeof(double) * static_cast<std::size_t>(a[l].size())) == 0);
  }
}

// A one-hidden-layer tanh network computed from scratch in the test (not through kfac's forward
// or backward), for the factor tests below.
struct ScratchNet {
  MatrixXd x1, x2;   // [x; 1] and [h; 1], layer inputs with the ones row, one column per example
  MatrixXd h;        // hidden activations tanh(s_0)
  MatrixXd p;        // softmax probabilities
  MatrixXd dlogits;  // dL/dlogits of the mean loss with the true labels: (p - e_y) / b
  MatrixXd w2;       // W_1 without its bias column
};

ScratchNet scratch_forward(const kf::Mlp& net, const kf::Batch& batch) {
  REQUIRE(net.num_layers() == 2);
  REQUIRE(net.activation() == kf::Activation::tanh);
  const Eigen::Index b = batch.x.cols();
  ScratchNet s;
  s.x1.resize(batch.x.rows() + 1, b);
  s.x1 << batch.x, Eigen::RowVectorXd::Ones(b);
  s.h = (net.weights()[0] * s.x1).array().tanh().matrix();
  s.x2.resize(s.h.rows() + 1, b);
  s.x2 << s.h, Eigen::RowVectorXd::Ones(b);
  const MatrixXd logits = net.weights()[1] * s.x2;
  s.p.resize(logits.rows(), b);
  for (Eigen::Index j = 0; j < b; ++j) {
    const Eigen::ArrayXd e = (logits.col(j).array() - logits.col(j).maxCoeff()).exp();
    s.p.col(j) = (e / e.sum()).matrix();
  }
  s.dlogits = s.p;
  for (Eigen::Index j = 0; j < b; ++j) s.dlogits(batch.y[static_cast<std::size_t>(j)], j) -= 1.0;
  s.dlogits /= static_cast<double>(b);
  s.w2 = net.weights()[1].leftCols(s.h.rows());
  return s;
}

// d logits_j / d s_0 for example j: W_1 diag(1 - h_j^2) (tanh' = 1 - tanh^2).
MatrixXd hidden_jacobian(const ScratchNet& s, Eigen::Index j) {
  return s.w2 * (1.0 - s.h.col(j).array().square()).matrix().asDiagonal();
}

// Empirical-Fisher batch factors, folded bias: A_l = x_l x_l^T / b and G_l = g g^T / b with
// per-example g = b * dL/ds_l.
void scratch_factors(const kf::Mlp& net, const kf::Batch& batch, std::vector<MatrixXd>& a,
                     std::vector<MatrixXd>& g) {
  const ScratchNet s = scratch_forward(net, batch);
  const double b = static_cast<double>(batch.x.cols());
  MatrixXd ds0(s.h.rows(), batch.x.cols());
  for (Eigen::Index j = 0; j < ds0.cols(); ++j)
    ds0.col(j) = hidden_jacobian(s, j).transpose() * s.dlogits.col(j);
  const MatrixXd g0 = b * ds0, g1 = b * s.dlogits;
  a = {s.x1 * s.x1.transpose() / b, s.x2 * s.x2.transpose() / b};
  g = {g0 * g0.transpose() / b, g1 * g1.transpose() / b};
}

}  // namespace

TEST_CASE("gradients match central finite differences (tanh and relu)") {
  for (const auto act : {kf::Activation::tanh, kf::Activation::relu}) {
    CAPTURE(kf::to_string(act));
    kf::Mlp net({5, 7, 6, 3}, act, 11);
    // Non-zero biases so that the bias column is tested too.
    for (auto& w : net.weights()) w.col(w.cols() - 1).setConstant(0.1);
    const kf::Batch b = random_batch(5, 3, 6, 3);
    kf::ForwardCache cache;
    const kf::LossAndGradient lg = kf::loss_and_gradient(net, b, cache);
    const double h = 1e-5;
    for (std::size_t l = 0; l < net.weights().size(); ++l) {
      MatrixXd fd(net.weights()[l].rows(), net.weights()[l].cols());
      for (Eigen::Index i = 0; i < fd.size(); ++i) {
        kf::Mlp p = net, m = net;
        p.weights()[l](i) += h;
        m.weights()[l](i) -= h;
        fd(i) = (batch_loss(p, b) - batch_loss(m, b)) / (2 * h);
      }
      CAPTURE(l);
      TKFAC_CHECK_REL_NEAR(lg.backward.grads[l], fd, 1e-6);
    }
  }
}

TEST_CASE("batch size 1, empirical Fisher: A kron G is the exact Fisher block of each layer") {
  kf::Mlp net({4, 5, 3}, kf::Activation::tanh, 2);
  const kf::Batch b = random_batch(4, 3, 1, 5);
  kf::ForwardCache cache;
  const kf::LossAndGradient lg = kf::loss_and_gradient(net, b, cache);
  kf::Kfac kfac(small_kfac());
  kfac.step(net, b);
  for (std::size_t l = 0; l < 2; ++l) {
    const Eigen::VectorXd v = vec(lg.backward.grads[l]);
    const MatrixXd exact = v * v.transpose();
    CAPTURE(l);
    TKFAC_CHECK_REL_NEAR(kron(kfac.layers()[l].a, kfac.layers()[l].g), exact, 1e-13);
  }
}

TEST_CASE("G carries the batch scaling: per-example g = b * dL/ds") {
  // For a batch of identical examples the factors must not depend on the batch size.
  kf::Mlp net({3, 4, 2}, kf::Activation::relu, 3);
  kf::Batch one = random_batch(3, 2, 1, 8);
  kf::Batch many;
  many.x = one.x.replicate(1, 7);
  many.y.assign(7, one.y[0]);
  kf::Mlp n1 = net, n7 = net;
  kf::Kfac k1(small_kfac()), k7(small_kfac());
  k1.step(n1, one);
  k7.step(n7, many);
  for (std::size_t l = 0; l < 2; ++l) {
    TKFAC_CHECK_REL_NEAR(k7.layers()[l].a, k1.layers()[l].a, 1e-13);
    TKFAC_CHECK_REL_NEAR(k7.layers()[l].g, k1.layers()[l].g, 1e-13);
  }
}

TEST_CASE("factor EMA: A <- beta A + (1 - beta) A_batch on every factor update") {
  // Several updates with different batches, for both starts and with updates every step or every
  // other step; the batch factors are computed from scratch. The network is kept fixed (each
  // step updates a copy) so that every batch factor is of the same parameters.
  const auto [train, test] = kf::make_synthetic({});
  const kf::Mlp net({8, 5, 3}, kf::Activation::tanh, 2);
  const double beta = 0.7;  // not 0.5, so that swapping beta and 1 - beta shows
  for (const auto init : {kf::EmaInit::first_batch, kf::EmaInit::zero}) {
    for (const int interval : {1, 2}) {
      CAPTURE(kf::to_string(init));
      CAPTURE(interval);
      kf::KfacOptions o = small_kfac();
      o.ema_decay = beta;
      o.ema_init = init;
      o.factor_update_interval = interval;
      kf::Kfac k(o);
      std::vector<MatrixXd> ema_a{MatrixXd::Zero(9, 9), MatrixXd::Zero(6, 6)};
      std::vector<MatrixXd> ema_g{MatrixXd::Zero(5, 5), MatrixXd::Zero(3, 3)};
      int updates = 0;
      for (int step = 0; step < 5; ++step) {
        CAPTURE(step);
        const kf::Batch batch = train.slice(step * 16, 16);
        kf::Mlp copy = net;
        k.step(copy, batch);
        if (step % interval == 0) {
          std::vector<MatrixXd> a, g;
          scratch_factors(net, batch, a, g);
          const bool set = updates == 0 && init == kf::EmaInit::first_batch;
          for (std::size_t l = 0; l < 2; ++l) {
            ema_a[l] = set ? a[l] : MatrixXd(beta * ema_a[l] + (1 - beta) * a[l]);
            ema_g[l] = set ? g[l] : MatrixXd(beta * ema_g[l] + (1 - beta) * g[l]);
          }
          ++updates;
        }
        for (std::size_t l = 0; l < 2; ++l) {
          CAPTURE(l);
          TKFAC_CHECK_REL_NEAR(k.layers()[l].a, ema_a[l], 1e-12);
          TKFAC_CHECK_REL_NEAR(k.layers()[l].g, ema_g[l], 1e-12);
        }
      }
      CHECK(updates == (interval == 1 ? 5 : 3));
    }
  }
}

TEST_CASE("Monte-Carlo Fisher: the sampled G averages to its expectation") {
  // With labels y_j drawn from p_j = softmax(logits_j), the per-example g_j = b dL/ds_j is
  // J_j^T (p_j - e_y), J_j = d logits_j / d s (W_1 diag(1 - h_j^2) for the hidden layer, I for the
  // last), and E[(p - e_y)(p - e_y)^T] = diag p - p p^T; so G_batch = (1/b) sum_j g_j g_j^T has
  // the expectation
  //   G_true = (1/b) sum_j J_j^T (diag p_j - p_j p_j^T) J_j.
  // ema_decay 0 makes each step's G the batch G of one draw; the network is kept fixed (each step
  // updates a copy). Every entry of the mean of the draws must lie within 4 standard errors
  // (sample standard deviation / sqrt(draws)) of G_true.
  const kf::Mlp net({4, 5, 3}, kf::Activation::tanh, 6);
  const kf::Batch batch = random_batch(4, 3, 6, 10);
  const double b = 6.0;
  kf::KfacOptions o = small_kfac();
  o.fisher = kf::FisherType::monte_carlo;
  o.ema_decay = 0.0;
  o.seed = 12;
  kf::Kfac k(o);
  const int draws = 3000;
  std::vector<std::vector<MatrixXd>> g(2);
  for (int d = 0; d < draws; ++d) {
    kf::Mlp copy = net;
    k.step(copy, batch);
    for (std::size_t l = 0; l < 2; ++l) g[l].push_back(k.layers()[l].g);
  }
  const ScratchNet s = scratch_forward(net, batch);
  std::vector<MatrixXd> exact{MatrixXd::Zero(5, 5), MatrixXd::Zero(3, 3)};
  for (Eigen::Index j = 0; j < s.p.cols(); ++j) {
    const Eigen::VectorXd p = s.p.col(j);
    const MatrixXd c = MatrixXd(p.asDiagonal()) - p * p.transpose();
    const MatrixXd jac = hidden_jacobian(s, j);
    exact[0] += jac.transpose() * c * jac / b;
    exact[1] += c / b;
  }
  for (std::size_t l = 0; l < 2; ++l) {
    CAPTURE(l);
    MatrixXd mean = MatrixXd::Zero(exact[l].rows(), exact[l].cols());
    const double n = draws;
    for (const auto& m : g[l]) mean += m / n;
    MatrixXd var = MatrixXd::Zero(mean.rows(), mean.cols());
    for (const auto& m : g[l]) var += (m - mean).cwiseAbs2() / (n - 1);
    const MatrixXd se = (var / n).cwiseSqrt();
    REQUIRE(se.minCoeff() > 0);
    const MatrixXd z = (mean - exact[l]).cwiseQuotient(se);
    INFO("mean of the draws:\n"
         << tkfac::test::to_text(mean) << "\nG_true:\n"
         << tkfac::test::to_text(exact[l]) << "\nstandard errors:\n"
         << tkfac::test::to_text(se) << "\n(mean - G_true) / se:\n"
         << tkfac::test::to_text(z));
    CHECK(z.cwiseAbs().maxCoeff() <= 4.0);
    // The test can tell a G scaled wrongly by the batch size: b G_true is far outside.
    CHECK(((mean - b * exact[l]).cwiseQuotient(se)).cwiseAbs().maxCoeff() > 4.0);
  }
}

TEST_CASE("K-FAC update equals an explicit solve with the damped Kronecker matrix") {
  struct Case {
    kf::DampingScheme scheme;
    kf::BiasMode bias;
  };
  for (const Case c : {Case{kf::DampingScheme::tikhonov, kf::BiasMode::folded},
                       Case{kf::DampingScheme::pi, kf::BiasMode::folded},
                       Case{kf::DampingScheme::pi, kf::BiasMode::separate},
                       Case{kf::DampingScheme::tikhonov, kf::BiasMode::separate}}) {
    CAPTURE(kf::to_string(c.scheme));
    CAPTURE(kf::to_string(c.bias));
    kf::Mlp net({3, 4, 2}, kf::Activation::tanh, 4);
    const kf::Batch b = random_batch(3, 2, 5, 9);
    kf::ForwardCache cache;
    const kf::LossAndGradient lg = kf::loss_and_gradient(net, b, cache);
    kf::KfacOptions o = small_kfac();
    o.damping_scheme = c.scheme;
    o.bias = c.bias;
    o.damping = 0.05;
    kf::Kfac kfac(o);
    const kf::Mlp before = net;
    kfac.step(net, b);
    for (std::size_t l = 0; l < 2; ++l) {
      const auto& s = kfac.layers()[l];
      const MatrixXd& dw = lg.backward.grads[l];
      double la = std::sqrt(o.damping), lgd = std::sqrt(o.damping);
      if (c.scheme == kf::DampingScheme::pi) {
        const double pi = std::sqrt((s.a.trace() / s.a.rows()) / (s.g.trace() / s.g.rows()));
        la *= pi;
        lgd /= pi;
      }
      // Eq. (4): (A + lA I) kron (G + lG I) vec(U) = vec(dW).
      const Eigen::Index n_in = dw.cols() - 1;
      MatrixXd expected(dw.rows(), dw.cols());
      if (c.bias == kf::BiasMode::folded) {
        const MatrixXd k = kron(damped(s.a, la), damped(s.g, lgd));
        const Eigen::VectorXd u = k.ldlt().solve(vec(dw));
        expected = Eigen::Map<const MatrixXd>(u.data(), dw.rows(), dw.cols());
      } else {
        const MatrixXd k = kron(damped(s.a, la), damped(s.g, lgd));
        const MatrixXd dww = dw.leftCols(n_in);
        const Eigen::VectorXd u = k.ldlt().solve(vec(dww));
        expected.leftCols(n_in) = Eigen::Map<const MatrixXd>(u.data(), dw.rows(), n_in);
        expected.col(n_in) = damped(s.g, lgd).ldlt().solve(dw.col(n_in));
      }
      CAPTURE(l);
      TKFAC_CHECK_REL_NEAR(s.direction, expected, 1e-10);
      TKFAC_CHECK_REL_NEAR(before.weights()[l] - net.weights()[l], o.learning_rate * expected,
                           1e-10);
    }
  }
}

TEST_CASE("pi damping: lambda_A * lambda_G = lambda and the factor ratio is balanced") {
  kf::KfacOptions o = small_kfac();
  o.damping = 0.3;
  kf::Kfac k(o);
  const MatrixXd a = 4.0 * MatrixXd::Identity(3, 3), g = 0.25 * MatrixXd::Identity(2, 2);
  const auto [la, lg] = k.damping_for(a, g);
  CHECK(la * lg == doctest::Approx(0.3).epsilon(1e-14));
  CHECK(la / lg == doctest::Approx(16.0).epsilon(1e-14));  // pi^2 = (tr A / 3) / (tr G / 2)
}

TEST_CASE("Method 1 (inverses) and Method 2 (solves) give the same updates") {
  for (const auto bias : {kf::BiasMode::folded, kf::BiasMode::separate}) {
    const auto [train, test] = kf::make_synthetic({});
    kf::Mlp net1({8, 6, 3}, kf::Activation::tanh, 1), net2 = net1;
    kf::KfacOptions o = small_kfac();
    o.bias = bias;
    o.momentum = 0.5;
    o.method = kf::KfacMethod::inverse;
    kf::Kfac m1(o);
    o.method = kf::KfacMethod::solve;
    kf::Kfac m2(o);
    for (int s = 0; s < 5; ++s) {
      std::vector<long> idx;
      for (long i = 0; i < 32; ++i) idx.push_back(s * 32 + i);
      const kf::Batch b = train.batch(idx);
      const auto r1 = m1.step(net1, b);
      const auto r2 = m2.step(net2, b);
      CHECK(r1.solves == 4);  // two inverses per layer
      CHECK(r2.solves == 4);  // two solves per layer
      for (std::size_t l = 0; l < 2; ++l) {
        TKFAC_CHECK_REL_NEAR(m2.layers()[l].direction, m1.layers()[l].direction, 1e-10);
      }
    }
  }
}

namespace {

// Cholesky that records each solve_all call: how many requests, of which kind, with which labels
// and shapes.
class RecordingSolver final : public tkfac::solver::LinearSolver {
 public:
  struct Call {
    std::vector<tkfac::solver::SolveRequest::Kind> kinds;
    std::vector<std::string> labels;
    std::vector<tkfac::solver::SolveShape> shapes;
  };
  std::vector<Call>* calls;
  std::unique_ptr<tkfac::solver::LinearSolver> inner =
      tkfac::solver::LinearSolver::create(tkfac::solver::SolverOptions{});
  explicit RecordingSolver(std::vector<Call>* c) : calls(c) {}
  std::string_view name() const override { return "recording"; }
  tkfac::solver::Solution solve(const MatrixXd& m, const MatrixXd& b, double damping) override {
    return inner->solve(m, b, damping);
  }
  tkfac::solver::Solution inverse(const MatrixXd& m, double damping) override {
    return inner->inverse(m, damping);
  }
  std::vector<tkfac::solver::Solution> solve_all(
      const std::vector<tkfac::solver::SolveRequest>& requests) override {
    Call c;
    for (const auto& r : requests) {
      c.kinds.push_back(r.kind);
      c.labels.push_back(r.label);
      c.shapes.push_back(tkfac::solver::shape_of(r));
    }
    calls->push_back(c);
    return LinearSolver::solve_all(requests);
  }
};

using Kind = tkfac::solver::SolveRequest::Kind;

// A layer that is not an Mlp's: it owns copies of what K-FAC needs.
class OwnedLayer final : public kf::KfacLayer {
 public:
  OwnedLayer(const kf::KfacLayer& l)
      : a_(l.inputs()), ds_(l.output_gradients()), dw_(l.weight_gradient()), w_(l.weights()) {}
  const MatrixXd& inputs() const override { return a_; }
  const MatrixXd& output_gradients() const override { return ds_; }
  const MatrixXd& weight_gradient() const override { return dw_; }
  const MatrixXd& weights() const override { return w_; }
  void apply_update(double lr, const MatrixXd& d) override { w_ -= lr * d; }

 private:
  MatrixXd a_, ds_, dw_, w_;
};

}  // namespace

TEST_CASE("a step's factor solves go to the solver in one batch (Method 1) or two (Method 2)") {
  const auto [train, test] = kf::make_synthetic({});
  for (const auto bias : {kf::BiasMode::folded, kf::BiasMode::separate}) {
    kf::KfacOptions o = small_kfac();
    o.bias = bias;
    o.inverse_update_interval = 2;
    std::vector<RecordingSolver::Call> c1, c2;
    kf::Mlp net1({8, 6, 5, 3}, kf::Activation::tanh, 1), net2 = net1, net_ref = net1;
    kf::Kfac m1(o, std::make_unique<RecordingSolver>(&c1));
    kf::Kfac ref(o);  // the same options with the solver made from them
    o.method = kf::KfacMethod::solve;
    kf::Kfac m2(o, std::make_unique<RecordingSolver>(&c2));
    for (int s = 0; s < 3; ++s) {
      const kf::Batch b = train.slice(s * 16, 16);
      CHECK(m1.step(net1, b).solves == (s % 2 == 0 ? 6 : 0));
      ref.step(net_ref, b);
      CHECK(m2.step(net2, b).solves == 6);
    }
    check_bitwise_equal(net1.weights(), net_ref.weights());
    // Method 1: one call per refresh (steps 0 and 2), every layer's A and G inverse in it.
    REQUIRE(c1.size() == 2);
    CHECK(c1[0].labels == std::vector<std::string>{"layer 0 A", "layer 0 G", "layer 1 A",
                                                   "layer 1 G", "layer 2 A", "layer 2 G"});
    CHECK(c1[0].kinds == std::vector<Kind>(6, Kind::inverse));
    // Method 2: per step, first all G-solves, then all A-solves (they need the G-solves' X).
    REQUIRE(c2.size() == 6);
    for (std::size_t i = 0; i < c2.size(); i += 2) {
      CHECK(c2[i].labels == std::vector<std::string>{"layer 0 G", "layer 1 G", "layer 2 G"});
      CHECK(c2[i + 1].labels == std::vector<std::string>{"layer 0 A", "layer 1 A", "layer 2 A"});
      CHECK(c2[i].kinds == std::vector<Kind>(3, Kind::solve));
    }
  }
}

TEST_CASE("kfac_solve_shapes lists the systems a refresh or a Method 2 step hands the solver") {
  const auto [train, test] = kf::make_synthetic({});
  for (const auto bias : {kf::BiasMode::folded, kf::BiasMode::separate}) {
    for (const auto method : {kf::KfacMethod::inverse, kf::KfacMethod::solve}) {
      CAPTURE(kf::to_string(bias));
      CAPTURE(kf::to_string(method));
      kf::KfacOptions o = small_kfac();
      o.bias = bias;
      o.method = method;
      kf::Mlp net({8, 6, 5, 3}, kf::Activation::tanh, 1);
      const std::vector<tkfac::solver::SolveShape> expected =
          kf::kfac_solve_shapes(net.weights(), o);
      std::vector<RecordingSolver::Call> calls;
      kf::Kfac k(o, std::make_unique<RecordingSolver>(&calls));
      k.step(net, train.slice(0, 16));
      // The first step's calls: one refresh (Method 1) or a step's G- then A-solves (Method 2).
      std::vector<tkfac::solver::SolveShape> made;
      for (const auto& c : calls) made.insert(made.end(), c.shapes.begin(), c.shapes.end());
      REQUIRE(made.size() == expected.size());
      CHECK(made.size() == 6);
      for (std::size_t i = 0; i < made.size(); ++i) {
        CAPTURE(i);
        CHECK(made[i].kind == expected[i].kind);
        CHECK(made[i].n == expected[i].n);
        CHECK(made[i].rhs_columns == expected[i].rhs_columns);
      }
    }
  }
}

TEST_CASE("K-FAC works on any KfacLayer: layers that are not an Mlp's step as the Mlp does") {
  const auto [train, test] = kf::make_synthetic({});
  for (const auto method : {kf::KfacMethod::inverse, kf::KfacMethod::solve}) {
    kf::KfacOptions o = small_kfac();
    o.method = method;
    o.momentum = 0.5;
    kf::Mlp net({8, 6, 3}, kf::Activation::tanh, 1), ref_net = net;
    kf::Kfac k(o), ref(o);
    for (int s = 0; s < 3; ++s) {
      const kf::Batch b = train.slice(s * 16, 16);
      ref.step(ref_net, b);
      // The same step with the layers copied out of the network: K-FAC only sees KfacLayer.
      kf::ForwardCache cache;
      const kf::LossAndGradient lg = kf::loss_and_gradient(net, b, cache);
      std::vector<OwnedLayer> owned;
      for (const auto& d : kf::kfac_layers(std::as_const(net), cache, lg.backward, lg.backward))
        owned.emplace_back(d);
      std::vector<kf::KfacLayer*> layers;
      for (auto& l : owned) layers.push_back(&l);
      kf::StepReport r;
      k.update(layers, r, std::chrono::steady_clock::now());
      for (std::size_t l = 0; l < owned.size(); ++l) net.weights()[l] = owned[l].weights();
    }
    check_bitwise_equal(net.weights(), ref_net.weights());
  }
  // A view of a const network cannot change it.
  kf::Mlp net({8, 6, 3}, kf::Activation::tanh, 1);
  kf::ForwardCache cache;
  const kf::LossAndGradient lg = kf::loss_and_gradient(net, train.slice(0, 4), cache);
  auto views = kf::kfac_layers(std::as_const(net), cache, lg.backward, lg.backward);
  CHECK_THROWS_AS(views[0].apply_update(1.0, net.weights()[0]), std::logic_error);
}

TEST_CASE("factor_system: a layer's damped factor and Method 2's right-hand sides") {
  const auto [train, test] = kf::make_synthetic({});
  for (const auto bias : {kf::BiasMode::folded, kf::BiasMode::separate}) {
    kf::KfacOptions o = small_kfac();
    o.bias = bias;
    o.method = kf::KfacMethod::solve;
    kf::Mlp net({8, 6, 3}, kf::Activation::tanh, 1);
    const kf::Mlp before = net;
    kf::Kfac k(o);
    const kf::Batch b = train.slice(0, 16);
    k.step(net, b);  // first step: the EMA is this batch's factors, the direction is U
    kf::Checkpoint ckpt{before, kf::OptimizerConfig{}, {}, {}};
    ckpt.optimizer.name = "kfac";
    ckpt.optimizer.kfac = o;
    kf::FactorSource src = kf::factor_source(ckpt, false);
    kf::add_batch(src, before, b);
    for (int l = 0; l < 2; ++l) {
      const auto& st = k.layers()[static_cast<std::size_t>(l)];
      const kf::FactorSystem g = kf::factor_system(src, l, kf::Factor::g, true);
      const kf::FactorSystem a = kf::factor_system(src, l, kf::Factor::a, true);
      TKFAC_CHECK_REL_NEAR(g.matrix, st.g, 1e-14);
      TKFAC_CHECK_REL_NEAR(a.matrix, st.a, 1e-14);
      CHECK(a.array.cols() == 16);
      TKFAC_CHECK_REL_NEAR(MatrixXd(a.array * a.array.transpose() / 16.0), a.matrix, 1e-12);
      CHECK(a.damping == a.lambda_a);
      CHECK(g.damping == g.lambda_g);
      const auto [la, lg] = k.damping_for(st.a, st.g);
      CHECK(a.lambda_a == la);
      CHECK(a.lambda_g == lg);
      // Solving the A system with its right-hand sides gives the optimizer's update U.
      const MatrixXd ut = damped(a.matrix, a.damping).llt().solve(a.rhs);
      const MatrixXd& u = st.direction;
      TKFAC_CHECK_REL_NEAR(MatrixXd(ut.transpose()), MatrixXd(u.leftCols(ut.rows())), 1e-10);
      const MatrixXd x = damped(g.matrix, g.damping).llt().solve(g.rhs);
      if (bias == kf::BiasMode::separate) {
        TKFAC_CHECK_REL_NEAR(MatrixXd(x.rightCols(1)), MatrixXd(u.rightCols(1)), 1e-10);
      }
      CHECK(g.rhs.cols() == u.cols());
      CHECK(a.rhs.cols() == u.rows());
    }
    // Without a batch there is no right-hand side; the EMA source gives the optimizer's factors.
    kf::Checkpoint after{net, ckpt.optimizer, k.state(), {}};
    const kf::FactorSource ema = kf::factor_source(after, true);
    const kf::FactorSystem e = kf::factor_system(ema, 1, kf::Factor::a, true);
    CHECK(e.rhs.size() == 0);
    CHECK(e.array.size() == 0);
    TKFAC_CHECK_REL_NEAR(e.matrix, k.layers()[1].a, 0.0);
    kf::Checkpoint sgd = ckpt;
    sgd.optimizer.name = "sgd";
    CHECK_THROWS_AS(kf::factor_source(sgd, true), tkfac::InputError);
    CHECK(kf::parse_factor("g") == kf::Factor::g);
    CHECK_THROWS_WITH_AS(kf::parse_factor("B"), doctest::Contains("--factor"), tkfac::InputError);
  }
}

TEST_CASE("load_data: one loader for train and netlist, and the first batch of a run") {
  kf::DataOptions d;
  d.dataset = "synthetic";
  d.train_limit = 100;
  d.seed = 3;
  const kf::Data data = kf::load_data(d);
  kf::SyntheticOptions so;
  so.seed = 3;
  so.train_size = 100;
  const auto [train, test] = kf::make_synthetic(so);
  CHECK(data.train.x == train.x);
  CHECK(data.test.x == test.x);
  CHECK(data.description == "synthetic, seed 3");
  CHECK(kf::load_data(d, false).test.size() == 0);
  const kf::Batch b = kf::first_batch(data.train, 10, 7);
  std::vector<long> order = kf::epoch_permutation(100, 7, 0);
  order.resize(10);
  CHECK(b.x == data.train.batch(order).x);
  d.dataset = "mnist";
  CHECK_THROWS_WITH_AS(kf::load_data(d), doctest::Contains("--dataset: unknown data set 'mnist'"),
                       tkfac::InputError);
}

TEST_CASE("inverse update interval reuses inverses between refreshes") {
  const auto [train, test] = kf::make_synthetic({});
  kf::Mlp net({8, 6, 3}, kf::Activation::tanh, 1);
  kf::KfacOptions o = small_kfac();
  o.inverse_update_interval = 3;
  o.factor_update_interval = 2;
  kf::Kfac k(o);
  std::vector<int> solves;
  for (int s = 0; s < 6; ++s) solves.push_back(k.step(net, train.slice(s * 16, 16)).solves);
  CHECK(solves == std::vector<int>{4, 0, 0, 4, 0, 0});
}

TEST_CASE("KL clipping bounds lr^2 <U, grad> by kl_clip") {
  const auto [train, test] = kf::make_synthetic({});
  kf::Mlp net({8, 6, 3}, kf::Activation::tanh, 1), before = net;
  kf::KfacOptions o = small_kfac();
  o.learning_rate = 1.0;
  o.kl_clip = 1e-6;
  kf::Kfac k(o);
  const kf::Batch b = train.slice(0, 32);
  kf::ForwardCache cache;
  const auto lg = kf::loss_and_gradient(net, b, cache);
  const auto r = k.step(net, b);
  CHECK(r.kl_scale < 1.0);
  double vg = 0.0;
  for (std::size_t l = 0; l < 2; ++l)
    vg += k.layers()[l].direction.cwiseProduct(lg.backward.grads[l]).sum();
  // direction = nu U with nu = sqrt(kl_clip / (lr^2 <U, grad>)), so lr^2 <nu U, grad> nu = kl_clip.
  CHECK(vg * o.learning_rate * o.learning_rate * r.kl_scale ==
        doctest::Approx(o.kl_clip).epsilon(1e-9));
}

TEST_CASE_TEMPLATE_DEFINE("K-FAC with a backend follows cholesky for 20 steps", Backend,
                          backend_follows) {
  const std::string backend = Backend::name();
  const auto [train, test] = kf::make_synthetic({});
  for (const auto method : {kf::KfacMethod::inverse, kf::KfacMethod::solve}) {
    CAPTURE(kf::to_string(method));
    kf::Mlp ref_net({8, 6, 3}, kf::Activation::tanh, 5), net = ref_net;
    kf::KfacOptions o = small_kfac("cholesky");
    o.method = method;
    kf::Kfac ref(o);
    o.solver.backend = backend;
    o.solver.netlist.encoding = Backend::encoding();
    kf::Kfac k(o);
    kf::TrainOptions to;
    to.batch_size = 32;
    to.steps = 20;
    kf::Trainer t1(ref_net, ref, train, nullptr, to), t2(net, k, train, nullptr, to);
    const kf::History h1 = t1.run(), h2 = t2.run();
    for (int s = 0; s < 20; ++s) {
      CHECK(h2.records[s].train_loss ==
            doctest::Approx(h1.records[s].train_loss).epsilon(Backend::tolerance()));
      CHECK(h2.records[s].converged);
    }
    for (std::size_t l = 0; l < 2; ++l)
      TKFAC_CHECK_REL_NEAR(net.weights()[l], ref_net.weights()[l], Backend::tolerance());
  }
}
// cg runs to a relative residual of 1e-12. The circuit, noiseless, runs each solve to a
// relative error of 1e-6 (by its simulated time); the issue asks for 1e-4 after 20 steps.
struct CgBackend {
  static std::string name() { return "cg"; }
  static tkfac::netlist_gen::Encoding encoding() { return tkfac::netlist_gen::Encoding::behavioral; }
  static double tolerance() { return 1e-9; }
};
struct SpiceBehavioralBackend {
  static std::string name() { return "spice"; }
  static tkfac::netlist_gen::Encoding encoding() { return tkfac::netlist_gen::Encoding::behavioral; }
  static double tolerance() { return 1e-4; }
};
struct SpiceIntegratorBackend {
  static std::string name() { return "spice"; }
  static tkfac::netlist_gen::Encoding encoding() { return tkfac::netlist_gen::Encoding::integrator; }
  static double tolerance() { return 1e-4; }
};
TEST_CASE_TEMPLATE_INVOKE(backend_follows, CgBackend, SpiceBehavioralBackend,
                          SpiceIntegratorBackend);

namespace {
// Trains k steps, saves, trains one more; then loads the save and trains one step again.
void check_checkpoint_resume(kf::OptimizerConfig config) {
  const auto [train, test] = kf::make_synthetic({});
  kf::TrainOptions to;
  to.batch_size = 48;  // 512 / 48: epochs end with a partial batch that is skipped
  to.steps = 12;
  to.seed = 7;
  const std::string path = temp_path(config.name + "_ckpt.json");
  kf::Mlp net({8, 6, 3}, kf::Activation::relu, 9);
  auto opt = kf::make_optimizer(config);
  kf::Trainer t(net, *opt, train, &test, to);
  t.run();
  kf::save_checkpoint(path, net, config, *opt, t.state());
  kf::Checkpoint c = kf::load_checkpoint(path);
  std::remove(path.c_str());
  // Continue the original by one step.
  t.run({}, 1);
  const kf::TrainerState after_save = t.state();
  to.steps = 1;
  // Resume from the file.
  auto opt2 = kf::make_optimizer(c.optimizer);
  opt2->load_state(c.optimizer_state, c.net);
  kf::Trainer t2(c.net, *opt2, train, &test, to);
  t2.set_state(c.trainer);
  t2.run();
  CHECK(t2.state().step == after_save.step);
  CHECK(t2.state().offset == after_save.offset);
  check_bitwise_equal(c.net.weights(), net.weights());
  CHECK(opt2->state().dump() == opt->state().dump());
}
}  // namespace

TEST_CASE("a checkpoint reproduces the next step bit for bit") {
  kf::OptimizerConfig cfg;
  SUBCASE("kfac, Monte-Carlo Fisher, momentum, intervals") {
    cfg.name = "kfac";
    cfg.kfac = small_kfac();
    cfg.kfac.fisher = kf::FisherType::monte_carlo;
    cfg.kfac.momentum = 0.9;
    cfg.kfac.kl_clip = 1e-2;
    cfg.kfac.inverse_update_interval = 5;
    cfg.kfac.factor_update_interval = 2;
    cfg.kfac.seed = 3;
    check_checkpoint_resume(cfg);
  }
  SUBCASE("kfac, Method 2, ASDL convention") {
    cfg.name = "kfac";
    cfg.kfac = kf::asdl_options(0.05, 1e-2, 0.1);
    cfg.kfac.method = kf::KfacMethod::solve;
    check_checkpoint_resume(cfg);
  }
  SUBCASE("kfac, Method 2 through the ou twin, finite analog time, warm starts") {
    // Each solve starts from the previous step's solution and stops at 2 R C: the next step
    // depends on the saved X_prev / UT_prev, so a checkpoint without them would not repeat it.
    cfg.name = "kfac";
    cfg.kfac = small_kfac();
    cfg.kfac.method = kf::KfacMethod::solve;
    cfg.kfac.solver.backend = "ou";
    cfg.kfac.solver.thermo.analog_time = 2.0;
    cfg.kfac.solve_start = "previous";
    check_checkpoint_resume(cfg);
  }
  SUBCASE("adamw") {
    cfg.name = "adamw";
    cfg.adam.weight_decay = 1e-2;
    check_checkpoint_resume(cfg);
  }
  SUBCASE("sgd nesterov") {
    cfg.name = "sgd";
    cfg.sgd.momentum = 0.9;
    cfg.sgd.nesterov = true;
    check_checkpoint_resume(cfg);
  }
}

TEST_CASE("training reduces the loss on the synthetic set (sgd, adam, kfac)") {
  const auto [train, test] = kf::make_synthetic({});
  kf::Mlp init({8, 16, 3}, kf::Activation::tanh, 1);
  const double initial = kf::evaluate(init, test).loss;
  kf::OptimizerConfig base;
  base.sgd.learning_rate = 0.1;
  base.sgd.momentum = 0.9;
  base.adam.learning_rate = 1e-2;
  base.kfac = small_kfac();
  const auto runs = kf::parse_run_specs("sgd,adam,adamw,kfac:cholesky,kfac:cg", base);
  kf::RunSpec mc{"kfac-mc", base};
  mc.optimizer.kfac.fisher = kf::FisherType::monte_carlo;
  auto all = runs;
  all.push_back(mc);
  kf::TrainOptions to;
  to.batch_size = 32;
  to.steps = 150;
  to.eval_every = 50;
  const auto hs = kf::compare(init, all, train, &test, to);
  REQUIRE(hs.size() == 6);
  for (const auto& h : hs) {
    CAPTURE(h.label);
    CAPTURE(initial);
    CAPTURE(h.final_test_loss);
    CHECK(h.records.size() == 150);
    CHECK(!std::isnan(h.records[49].test_loss));
    CHECK(std::isnan(h.records[48].test_loss));
    CHECK(h.final_test_loss < 0.6 * initial);
    CHECK(h.final_test_accuracy > 0.7);
  }
}

TEST_CASE("same seed gives the same data order and --no-shuffle keeps the order fixed") {
  CHECK(kf::epoch_permutation(100, 3, 0) == kf::epoch_permutation(100, 3, 0));
  CHECK(kf::epoch_permutation(100, 3, 0) != kf::epoch_permutation(100, 3, 1));
  auto p = kf::epoch_permutation(100, 3, 2);
  std::sort(p.begin(), p.end());
  for (long i = 0; i < 100; ++i) CHECK(p[static_cast<std::size_t>(i)] == i);
  const auto [train, test] = kf::make_synthetic({});
  kf::Mlp net({8, 3}, kf::Activation::tanh, 1);
  kf::Sgd sgd;
  kf::TrainOptions to;
  to.batch_size = 100;
  to.shuffle = false;
  kf::Trainer t(net, sgd, train, nullptr, to);
  for (int e = 0; e < 2; ++e) {
    for (long k = 0; k < 5; ++k) {
      const auto idx = t.next_indices();
      CHECK(idx.front() == k * 100);
      CHECK(idx.back() == k * 100 + 99);
    }
  }
}

TEST_CASE("Fashion-MNIST: real files, shapes, label range, pooling") {
  kf::FashionMnistOptions fo;
  fo.pool = 4;
  const kf::Dataset test = kf::load_fashion_mnist(kf::Split::test, fo);
  CHECK(test.features() == 49);
  CHECK(test.size() == 10000);
  CHECK(test.classes == 10);
  std::set<int> labels(test.y.begin(), test.y.end());
  CHECK(labels.size() == 10);
  CHECK(*labels.begin() == 0);
  CHECK(*labels.rbegin() == 9);
  CHECK(test.x.minCoeff() >= 0.0f);
  CHECK(test.x.maxCoeff() <= 1.0f);
  fo.pool = 1;
  fo.limit = 100;
  const kf::Dataset full = kf::load_fashion_mnist(kf::Split::train, fo);
  CHECK(full.features() == 784);
  CHECK(full.size() == 100);
  // Pooling the full-resolution images gives the pooled data set.
  fo.pool = 2;
  const kf::Dataset half = kf::load_fashion_mnist(kf::Split::train, fo);
  CHECK(half.features() == 196);
  for (long i = 0; i < 5; ++i) {
    const Eigen::VectorXf p = kf::average_pool(full.x.col(i), 28, 28, 2);
    CHECK((p - half.x.col(i)).cwiseAbs().maxCoeff() < 1e-6f);
  }
}

TEST_CASE("average pooling on a hand-made image") {
  Eigen::VectorXf img(16);  // 4 x 4, row by row
  img << 1, 2, 3, 4,        //
      5, 6, 7, 8,           //
      9, 10, 11, 12,        //
      13, 14, 15, 16;
  Eigen::VectorXf p2(4);
  p2 << 3.5f, 5.5f, 11.5f, 13.5f;
  CHECK((kf::average_pool(img, 4, 4, 2) - p2).cwiseAbs().maxCoeff() == 0.0f);
  CHECK(kf::average_pool(img, 4, 4, 4)(0) == 8.5f);
  CHECK(kf::average_pool(img, 4, 4, 1) == img);
  CHECK_THROWS_AS(kf::average_pool(img, 4, 4, 3), tkfac::InputError);
}

TEST_CASE("Fashion-MNIST: missing, truncated and corrupt files give InputError naming them") {
  kf::FashionMnistOptions fo;
  fo.directory = "/nonexistent/fashion";
  CHECK(input_error_message([&] {
          kf::load_fashion_mnist(kf::Split::train, fo);
        }).find("apt-get install dataset-fashion-mnist") != std::string::npos);

  const std::string images = temp_path("images.gz"), labels = temp_path("labels.gz");
  // 3 images of 2x2 and 3 labels: valid.
  auto img = idx_header(0x803, {3, 2, 2});
  for (int i = 0; i < 12; ++i) img.push_back(static_cast<unsigned char>(i * 20));
  auto lab = idx_header(0x801, {3});
  lab.insert(lab.end(), {0, 5, 9});
  write_gz(images, img);
  write_gz(labels, lab);
  const kf::Dataset d = kf::read_idx_dataset(images, labels, 2);
  CHECK(d.features() == 1);
  CHECK(d.x(0, 1) == doctest::Approx((80 + 100 + 120 + 140) / 4.0 / 255.0));
  CHECK(d.y == std::vector<int>{0, 5, 9});

  // Header promises 4 images, the data holds 3.
  auto short_img = idx_header(0x803, {4, 2, 2});
  short_img.insert(short_img.end(), img.begin() + 16, img.end());
  write_gz(images, short_img);
  CHECK(input_error_message([&] { kf::read_idx_dataset(images, labels); }).find(images) !=
        std::string::npos);

  // Wrong magic.
  auto bad_magic = img;
  bad_magic[3] = 0x01;
  write_gz(images, bad_magic);
  CHECK(input_error_message([&] { kf::read_idx_dataset(images, labels); }).find("magic") !=
        std::string::npos);

  // Label out of range.
  write_gz(images, img);
  auto bad_label = lab;
  bad_label.back() = 10;
  write_gz(labels, bad_label);
  CHECK(input_error_message([&] { kf::read_idx_dataset(images, labels); }).find(labels) !=
        std::string::npos);

  // A gzip stream cut in the middle (the real test labels, compressed bytes halved).
  {
    std::ifstream in("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz",
                     std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(bytes.size() > 100);
    std::ofstream out(labels, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  }
  CHECK(input_error_message([&] { kf::read_idx_dataset(images, labels); }).find(labels) !=
        std::string::npos);
  // Garbage bytes inside the deflate stream.
  {
    std::ifstream in("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz",
                     std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (std::size_t i = 40; i < 200; ++i) bytes[i] = static_cast<char>(0xff);
    std::ofstream out(labels, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  CHECK(input_error_message([&] { kf::read_idx_dataset(images, labels); }).find(labels) !=
        std::string::npos);
  std::remove(images.c_str());
  std::remove(labels.c_str());
}

TEST_CASE("Fashion-MNIST: a damaged file of the package names the file and how to reinstall") {
  const std::filesystem::path dir = temp_path("fashion-mnist");
  std::filesystem::create_directories(dir);
  for (const char* f : {"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}) {
    std::filesystem::copy_file(std::filesystem::path("/usr/share/datasets/fashion-mnist") / f,
                               dir / f, std::filesystem::copy_options::overwrite_existing);
  }
  kf::FashionMnistOptions fo;
  fo.directory = dir.string();
  fo.pool = 4;
  CHECK(kf::load_fashion_mnist(kf::Split::test, fo).size() == 10000);  // the copy is fine
  const std::string reinstall = "apt-get install --reinstall dataset-fashion-mnist";
  std::filesystem::resize_file(dir / "t10k-images-idx3-ubyte.gz", 1000);  // truncated
  std::string message = input_error_message([&] { kf::load_fashion_mnist(kf::Split::test, fo); });
  CHECK(message.find((dir / "t10k-images-idx3-ubyte.gz").string()) != std::string::npos);
  CHECK(message.find(reinstall) != std::string::npos);
  std::filesystem::copy_file("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz",
                             dir / "t10k-images-idx3-ubyte.gz",
                             std::filesystem::copy_options::overwrite_existing);
  write_gz((dir / "t10k-labels-idx1-ubyte.gz").string(), idx_header(0x801, {3}));  // 0 of 3 labels
  message = input_error_message([&] { kf::load_fashion_mnist(kf::Split::test, fo); });
  CHECK(message.find((dir / "t10k-labels-idx1-ubyte.gz").string()) != std::string::npos);
  CHECK(message.find(reinstall) != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("optimizer state with negative or fractional counts is rejected") {
  const auto [train, test] = kf::make_synthetic({});
  const kf::Mlp net({8, 6, 3}, kf::Activation::tanh, 1);
  for (const char* name : {"kfac", "sgd", "adam"}) {
    CAPTURE(std::string(name));
    kf::OptimizerConfig cfg;
    cfg.name = name;
    cfg.kfac = small_kfac();
    auto opt = kf::make_optimizer(cfg);
    kf::Mlp copy = net;
    opt->step(copy, train.slice(0, 16));
    const nlohmann::json good = opt->state();
    auto fresh = kf::make_optimizer(cfg);
    fresh->load_state(good, net);
    CHECK(fresh->steps() == 1);
    const auto rejected = [&](const char* key, const nlohmann::json& value,
                              const std::string& expected) {
      nlohmann::json bad = good;
      bad[key] = value;
      CAPTURE(std::string(key));
      CAPTURE(value.dump());
      const std::string message = input_error_message([&] { fresh->load_state(bad, net); });
      CHECK(message.find(key) != std::string::npos);
      CHECK(message.find(expected) != std::string::npos);
      CHECK(fresh->steps() == 1);  // unchanged
    };
    rejected("steps", -1, ">= 0");
    rejected("steps", 2.5, "integer");
    if (std::string(name) == "kfac") {
      rejected("factor_updates", -3, ">= 0");
      rejected("factor_updates", 2, "exceeds");
    }
    if (std::string(name) == "adam") {
      nlohmann::json bad = good;
      bad["v"][0]["data"][0] = -1.0;
      CHECK(input_error_message([&] { fresh->load_state(bad, net); }).find("v[0]") !=
            std::string::npos);
    }
  }
}

TEST_CASE("--compare items carry per-run settings after '/'") {
  kf::OptimizerConfig base;
  base.kfac.solver.netlist.noise_variance = 0.0;
  const auto runs = kf::parse_run_specs(
      "kfac:spice,kfac:spice/noise-variance=1e-3/inverse-precision=0.3/noise-follows=fastest/"
      "method=solve/inverse-interval=5/gain-compensation=false/noise-seed=7",
      base);
  REQUIRE(runs.size() == 2);
  CHECK(runs[0].optimizer.kfac.solver.netlist.noise_variance == 0.0);  // only its own item
  const kf::KfacOptions& k = runs[1].optimizer.kfac;
  CHECK(runs[1].label ==
        "kfac:spice/noise-variance=1e-3/inverse-precision=0.3/noise-follows=fastest/"
        "method=solve/inverse-interval=5/gain-compensation=false/noise-seed=7");
  CHECK(k.solver.backend == "spice");
  CHECK(k.solver.netlist.noise_variance == 1e-3);
  CHECK(k.solver.thermo.inverse_precision == 0.3);
  CHECK(k.solver.netlist.noise_follows == "fastest");
  CHECK(k.method == kf::KfacMethod::solve);
  CHECK(k.inverse_update_interval == 5);
  CHECK_FALSE(k.solver.netlist.gain_compensation);
  CHECK(k.solver.netlist.noise_seed == 7u);
  const std::pair<const char*, const char*> bad[] = {
      {"kfac:ou/noise-variance", "not key=value"},
      {"kfac:ou/colour=blue", "unknown setting 'colour'"},
      {"kfac:ou/noise-variance=1e-3x", "'1e-3x' is not a number"},
      {"kfac:ou/inverse-interval=2.5", "not a whole number"},
      {"kfac:ou/gain-compensation=yes", "not true or false"},
      {"kfac:ou/method=3", "--compare 'kfac:ou/method=3': method"},
      {"adam/lr=1", "only kfac takes settings"},
  };
  for (const auto& [spec, message] : bad) {
    CAPTURE(spec);
    CHECK(input_error_message([&] { kf::parse_run_specs(spec, base); }).find(message) !=
          std::string::npos);
  }
  // A value out of range passes the parser and is refused by validate(), naming the flag.
  const auto neg = kf::parse_run_specs("kfac:ou/noise-variance=-1", base);
  CHECK(input_error_message([&] { neg[0].optimizer.validate(); }).find("--noise-variance") !=
        std::string::npos);
}

TEST_CASE("bad input gives InputError with a clear message") {
  const auto [train, test] = kf::make_synthetic({});
  kf::OptimizerConfig cfg;
  cfg.name = "rmsprop";
  CHECK(input_error_message([&] { kf::make_optimizer(cfg); }).find("rmsprop") != std::string::npos);
  cfg.name = "kfac";
  cfg.kfac.solver.backend = "abacus";
  CHECK(input_error_message([&] { kf::make_optimizer(cfg); }).find("abacus") != std::string::npos);
  CHECK(input_error_message([&] { kf::parse_run_specs("adam,kfac:abacus", {}); }).find("abacus") !=
        std::string::npos);
  CHECK(input_error_message([&] { kf::parse_run_specs("adam:cg", {}); }).find("only kfac") !=
        std::string::npos);
  cfg = {};
  cfg.kfac.learning_rate = 0;
  CHECK(input_error_message([&] { kf::make_optimizer(cfg); }).find("--lr") != std::string::npos);
  cfg = {};
  cfg.name = "sgd";
  cfg.sgd.learning_rate = -1;
  CHECK(input_error_message([&] { kf::make_optimizer(cfg); }).find("--lr") != std::string::npos);
  cfg = {};
  cfg.kfac.damping = 0;
  CHECK(input_error_message([&] { kf::make_optimizer(cfg); }).find("--damping") !=
        std::string::npos);
  CHECK_THROWS_AS(kf::parse_kfac_method("3"), tkfac::InputError);
  CHECK(kf::parse_kfac_method("2") == kf::KfacMethod::solve);

  CHECK(input_error_message([] { kf::parse_layer_sizes("49,,10"); }).find("--layers") !=
        std::string::npos);
  CHECK(input_error_message([] { kf::parse_layer_sizes("49"); }).find("--layers") !=
        std::string::npos);
  CHECK(input_error_message([] { kf::parse_layer_sizes("49,0,10"); }).find("--layers") !=
        std::string::npos);
  CHECK(kf::parse_layer_sizes("49,32,10") == std::vector<int>{49, 32, 10});

  kf::Mlp wrong_in({7, 3}, kf::Activation::tanh, 1), wrong_out({8, 4}, kf::Activation::tanh, 1);
  kf::Sgd sgd;
  CHECK(input_error_message([&] {
          kf::Trainer(wrong_in, sgd, train, &test, {});
        }).find("--layers") != std::string::npos);
  CHECK(input_error_message([&] {
          kf::Trainer(wrong_out, sgd, train, &test, {});
        }).find("classes") != std::string::npos);
  kf::Mlp net({8, 3}, kf::Activation::tanh, 1);
  kf::TrainOptions to;
  to.batch_size = 0;
  CHECK(input_error_message([&] {
          kf::Trainer(net, sgd, train, &test, to);
        }).find("--batch-size") != std::string::npos);
  to.batch_size = 100000;
  CHECK(input_error_message([&] {
          kf::Trainer(net, sgd, train, &test, to);
        }).find("--batch-size") != std::string::npos);
  CHECK_THROWS_AS(kf::parse_activation("sigmoid"), tkfac::InputError);
  kf::FashionMnistOptions fo;
  fo.pool = 3;
  CHECK(input_error_message([&] { kf::load_fashion_mnist(kf::Split::test, fo); }).find("--pool") !=
        std::string::npos);
}

TEST_CASE("corrupt checkpoints give InputError naming the file") {
  const auto [train, test] = kf::make_synthetic({});
  kf::Mlp net({8, 6, 3}, kf::Activation::tanh, 1);
  kf::OptimizerConfig cfg;
  cfg.kfac = small_kfac();
  auto opt = kf::make_optimizer(cfg);
  opt->step(net, train.slice(0, 16));
  const std::string path = temp_path("ckpt.json");
  kf::save_checkpoint(path, net, cfg, *opt, {});
  std::string text;
  {
    std::ifstream in(path);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const auto write = [&](const std::string& t) {
    std::ofstream out(path, std::ios::trunc);
    out << t;
  };
  // Round trip works.
  const kf::Checkpoint c = kf::load_checkpoint(path);
  check_bitwise_equal(c.net.weights(), net.weights());
  CHECK(input_error_message([&] { kf::load_checkpoint(path + ".missing"); }).find(".missing") !=
        std::string::npos);
  write(text.substr(0, text.size() / 2));
  CHECK(input_error_message([&] { kf::load_checkpoint(path); }).find(path) != std::string::npos);
  write("{\"hello\": 1}");
  CHECK(input_error_message([&] { kf::load_checkpoint(path); }).find("not a tkfac checkpoint") !=
        std::string::npos);
  auto j = nlohmann::json::parse(text);
  j["parameters"][0]["data"].erase(0);
  write(j.dump());
  CHECK(input_error_message([&] { kf::load_checkpoint(path); }).find("parameters[0]") !=
        std::string::npos);
  j = nlohmann::json::parse(text);
  j["optimizer"]["state"]["layers"][1]["G"]["rows"] = 5;
  write(j.dump());
  const kf::Checkpoint bad = kf::load_checkpoint(path);
  auto opt2 = kf::make_optimizer(bad.optimizer);
  CHECK(input_error_message([&] {
          opt2->load_state(bad.optimizer_state, bad.net);
        }).find("layer 1 G") != std::string::npos);
  std::remove(path.c_str());
}
