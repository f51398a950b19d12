// kfac/hardware_estimate: the predicted thermodynamic step against a hand calculation.
#include <cmath>
#include <random>

#include "test_util.hpp"
#include "tkfac/core/spd.hpp"
#include "tkfac/kfac/hardware_estimate.hpp"

namespace kf = tkfac::kfac;

// Assumptions: R C = 1 us, 16 bits, 50 Gb/s, eps = 1e-3, p = 0.2, refresh every 10 steps.
// Factors: n = 100 with alpha_min = 0.01 (tau = 100 us) and n = 50 with alpha_min = 0.1
// (tau = 10 us). By hand:
//   Method 1 run = tau ln(1000) + 2 tau / 0.04:  100 us * 6.9077553 + 5000 us = 5690.7755279 us
//                                                 10 us * 6.9077553 +  500 us =  569.0775528 us
//   one solver: 6259.8530807 us; two: 5690.7755279 us (the longer one)
//   link: 2 * (100*101/2 + 50*51/2) = 12650 values * 16 bit / 50e9 b/s = 4.048 us
//   digital step (gradient 10 ms, factors 5 ms, update 20 ms, inversion 100 ms / 10) = 45 ms
//   thermodynamic step, one solver: 35 ms + (6259.8530807 + 4.048) us / 10 = 35.6263901 ms
//   speedup 45 / 35.6263901 = 1.2631086...
TEST_CASE("hardware estimate: Method 1 reproduces the hand calculation") {
  kf::HardwareAssumptions hw;
  hw.inverse_interval = 10;
  const std::vector<kf::AnalogFactor> f = {{100, 0.01, 0}, {50, 0.1, 0}};
  const kf::AnalogEstimate a = kf::estimate_analog(f, kf::KfacMethod::inverse, hw);
  CHECK(a.analog_seconds == doctest::Approx(6259.8530807e-6).epsilon(1e-10));
  CHECK(a.transfer_seconds == doctest::Approx(4.048e-6).epsilon(1e-12));
  CHECK(a.largest_tau == doctest::Approx(100e-6).epsilon(1e-12));
  const kf::DigitalStep d{10e-3, 5e-3, 100e-3, 20e-3};
  CHECK(kf::digital_step_seconds(d, kf::KfacMethod::inverse, hw) ==
        doctest::Approx(45e-3).epsilon(1e-12));
  const double thermo = kf::thermodynamic_step_seconds(d, a, kf::KfacMethod::inverse, hw);
  CHECK(thermo == doctest::Approx(35.6263901e-3).epsilon(1e-9));
  CHECK(45e-3 / thermo == doctest::Approx(1.2631086).epsilon(1e-7));
  hw.solvers = 2;
  CHECK(kf::estimate_analog(f, kf::KfacMethod::inverse, hw).analog_seconds ==
        doctest::Approx(5690.7755279e-6).epsilon(1e-10));
}

// Method 2, the n = 100 factor against 3 right-hand sides: 3 runs of 690.77553 us = 2072.32658 us;
// link 100*101/2 + 2 * 100 * 3 = 5650 values * 16 / 50e9 = 1.808 us; every step (interval 1).
TEST_CASE("hardware estimate: Method 2 reproduces the hand calculation") {
  kf::HardwareAssumptions hw;
  hw.inverse_interval = 10;  // not used by Method 2
  const kf::AnalogEstimate a =
      kf::estimate_analog({{100, 0.01, 3}}, kf::KfacMethod::solve, hw);
  CHECK(a.analog_seconds == doctest::Approx(2072.32658e-6).epsilon(1e-8));
  CHECK(a.transfer_seconds == doctest::Approx(1.808e-6).epsilon(1e-12));
  const kf::DigitalStep d{1e-3, 1e-3, 4e-3, 1e-3};
  CHECK(kf::digital_step_seconds(d, kf::KfacMethod::solve, hw) ==
        doctest::Approx(7e-3).epsilon(1e-12));
  CHECK(kf::thermodynamic_step_seconds(d, a, kf::KfacMethod::solve, hw) ==
        doctest::Approx(3e-3 + 2074.13458e-6).epsilon(1e-8));
}

TEST_CASE("hardware estimate: alpha_min and kappa of a damped factor as the netlist scales it") {
  std::mt19937_64 rng(5);
  Eigen::VectorXd eig(40);
  for (int i = 0; i < 40; ++i) eig(i) = std::pow(300.0, i / 39.0);
  const Eigen::MatrixXd m = tkfac::spd_with_spectrum(eig, rng);
  const double damping = 0.5;
  const kf::FactorSpectrum s = kf::scaled_spectrum(m, damping);
  Eigen::MatrixXd damped = m;
  damped.diagonal().array() += damping;
  const double scale = damped.cwiseAbs().maxCoeff();
  CHECK(s.alpha_min == doctest::Approx(1.5 / scale).epsilon(1e-8));
  CHECK(s.kappa == doctest::Approx(300.5 / 1.5).epsilon(1e-8));
}

TEST_CASE("hardware estimate: bad assumptions and factors are refused naming the option") {
  kf::HardwareAssumptions hw;
  hw.link_bits_per_second = 0;
  CHECK_THROWS_WITH_AS(hw.validate(), doctest::Contains("--link"), tkfac::InputError);
  hw = {};
  hw.solvers = 0;
  CHECK_THROWS_WITH_AS(hw.validate(), doctest::Contains("--solvers"), tkfac::InputError);
  CHECK_THROWS_AS(kf::estimate_analog({{10, 0.0, 0}}, kf::KfacMethod::inverse, {}),
                  tkfac::InputError);
}
