#pragma once
// Exact simulation of the linear dynamics a netlist's elements realize (the `ou` backend's
// engine): the capacitor voltages q obey dq/dt = -A q + f + B w (circuit_dynamics.hpp), and each
// step applies the exact transition, so the samples have exactly the law of the circuit's SDE
// at the sample times (no discretization error), for ideal and non-ideal circuits alike.
//
//   auto model = tkfac::cosim::make_thermo_model(M, b, options);
//   tkfac::cosim::OuProcess ou(model, tkfac::solver::NoiseShape::white, /*seed=*/7);
//   ou.run(x0, /*interval=*/model.noise_sample_time, /*steps=*/1000,
//          [](double t, const Eigen::VectorXd& x) { /* x in units of the unknowns */ });
//
// Step h, phi = exp(-A h), psi = int_0^h exp(-A s) ds (thermodynamic.hpp, circuit_transition):
//   white: q(t+h) = phi q + psi f + e,  e ~ N(0, Q(h)), Q(h) = int_0^h exp(-A s) Sigma
//          exp(-A^T s) ds, Sigma = B diag(NA^2 NT) B^T: white currents with the long-time
//          intensity of the held sources (the ideal SDE of the circuit);
//   held:  the noise currents are constant over each NT, w_k ~ N(0, NA_k^2), and
//          q(t+NT) = phi q + psi (f + B w) exactly: the netlist's TRRANDOM noise. For a circuit
//          that realizes M_hat exactly (A = M_hat / tau0), mode k's stationary variance at the
//          sample times is v_k tanh(u/2) / (u/2), u = alpha_k NT / tau0, v_k = beta_V^-1 / alpha_k.
// The seed fixes every draw (std::mt19937_64 and a Box-Muller transform written here, so the
// stream does not depend on the standard library's normal distribution).
#include <Eigen/Dense>
#include <cstdint>
#include <functional>
#include <random>

#include "tkfac/cosim/thermodynamic.hpp"

namespace tkfac::cosim {

// Standard normal draws from a seeded 64-bit Mersenne twister, reproducible across platforms.
class NormalStream {
 public:
  explicit NormalStream(std::uint64_t seed) : engine_(seed) {}
  double next();

 private:
  double uniform();  // in (0, 1)
  std::mt19937_64 engine_;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

class OuProcess {
 public:
  // Keeps a reference to `model`, which must outlive the OuProcess.
  OuProcess(const ThermoModel& model, solver::NoiseShape shape, std::uint64_t seed);
  OuProcess(ThermoModel&&, solver::NoiseShape, std::uint64_t) = delete;  // would dangle

  // Simulates from x0 (units of the unknowns; at t = 0) for `steps` intervals of `interval`
  // seconds and calls `observer(t, x)` at t = interval, 2 interval, ... (not at t = 0).
  // With NoiseShape::held, `interval` must be a whole multiple of the noise sample time.
  void run(const Eigen::VectorXd& x0, double interval, long steps,
           const std::function<void(double, const Eigen::VectorXd&)>& observer);

 private:
  const ThermoModel& model_;
  solver::NoiseShape shape_;
  NormalStream normal_;
};

}  // namespace tkfac::cosim
