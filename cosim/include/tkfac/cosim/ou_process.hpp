#pragma once
// Exact simulation of the Ornstein-Uhlenbeck process a netlist encodes (the `ou` backend's
// engine): M_hat is diagonalized once and each mode is stepped with its exact transition, so
// the samples have exactly the law of the SDE at the sample times (no discretization error).
//
//   auto model = tkfac::cosim::make_thermo_model(M, b, options);
//   tkfac::cosim::OuProcess ou(model, tkfac::solver::NoiseShape::white, /*seed=*/7);
//   ou.run(x0, /*interval=*/model.noise_sample_time, /*steps=*/1000,
//          [](double t, const Eigen::VectorXd& x) { /* x in units of the unknowns */ });
//
// Mode k of M_hat (eigenvalue alpha_k, rate a = alpha_k / tau0), y its coordinate in volts:
//   white: y(t+h) = y_eq + rho (y - y_eq) + sqrt(v_k (1 - rho^2)) z,   rho = exp(-a h),
//          v_k = beta_V^-1 / alpha_k (the Gaussian transition of dy = -a (y - y_eq) dt + ...);
//   held:  the noise is a constant u over [t, t+h) with variance q = 2 beta_V^-1 tau0 / h (so
//          that its integral over long times matches the white noise), and the ODE solution is
//          y(t+h) = y_eq + rho (y - y_eq) + (1 - rho) u / alpha_k   (exact for constant u).
//          Stationary variance: q (1-rho)^2 / (alpha_k^2 (1 - rho^2)) = v_k tanh(u/2) / (u/2),
//          u = a h: the netlist's TRRANDOM noise seen at its sample times.
// Orthonormal modes keep independent node noises independent in the modes, so each mode gets
// its own Gaussian draw. The seed fixes every draw (std::mt19937_64 and a Box-Muller transform
// written here, so the stream does not depend on the standard library's normal distribution).
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
