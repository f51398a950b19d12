#pragma once
// Estimators of thermodynamic solves, the same for the `ou` twin and the `spice` circuit:
// samples on a uniform grid after a burn-in, their mean (the solution) and covariance
// (beta^-1 times the inverse), with standard errors from the mode model.
//
//   tkfac::cosim::GridSampler grid(h, burn_in, [&](double t, const Eigen::VectorXd& x) {
//   acc.add(x); }); session.run({.nodes = nodes, .observer = [&](double t, const auto& v) {
//   grid.add(t, v); }}); auto se = tkfac::cosim::mean_standard_errors(model, acc.count(), h,
//   model.mode_variances_x(shape));
//
// Standard errors. Sampled every h, mode k is an AR(1) sequence with rho_k = exp(-alpha_k h /
// tau0) and stationary variance v_k. The mean of N samples has variance
//   v_k / N * g(rho_k, N),  g(r, N) = (1 + r) / (1 - r) - 2 r (1 - r^N) / (N (1 - r)^2)
// (the double sum of r^|s - t| over N^2 pairs), so N_eff,k = N / g(rho_k, N), about
// window / (2 tau_k) for h << tau_k. Modes are independent, so Var(mean x_i) =
// sum_k Q_ik^2 v_k g(rho_k, N) / N. For the sample covariance of zero-mean Gaussian modes,
// Var(S_jk) = v_j v_k g(rho_j rho_k, N) / N for j != k and 2 v_k^2 g(rho_k^2, N) / N for j = k,
// the distinct S_jk are uncorrelated, and Cov(x) = Q S Q^T gives each entry's variance. The
// sample mean's own fluctuation biases S by -Cov(mean) (expected_sample_covariance).
#include <Eigen/Dense>
#include <functional>
#include <string>

#include "tkfac/cosim/thermodynamic.hpp"

namespace tkfac::cosim {

// Turns a stream of (time, values) points, unevenly spaced (a simulator's accepted points),
// into samples at first, first + h, first + 2h, ... by linear interpolation between
// consecutive points. A point exactly on the grid is passed through unchanged.
class GridSampler {
 public:
  using Sink = std::function<void(double, const Eigen::VectorXd&)>;
  GridSampler(double interval, double first, Sink sink);
  void add(double t, const Eigen::VectorXd& values);
  long emitted() const { return emitted_; }

 private:
  double interval_;
  double first_;
  Sink sink_;
  long next_index_ = 0;
  long emitted_ = 0;
  bool has_previous_ = false;
  double previous_t_ = 0.0;
  Eigen::VectorXd previous_;
};

// Running mean and covariance (Welford), population normalization (divides by N).
class SampleAccumulator {
 public:
  void add(const Eigen::VectorXd& x);
  long count() const { return count_; }
  const Eigen::VectorXd& mean() const { return mean_; }
  Eigen::MatrixXd covariance() const;  // (1/N) sum (x - mean)(x - mean)^T
  // sum (x - mean)(x - mean)^T: with count and mean, all the accumulator holds.
  const Eigen::MatrixXd& m2() const { return m2_; }
  // The accumulator of `count` samples with this mean and m2 (what another one held).
  static SampleAccumulator of_moments(long count, Eigen::VectorXd mean, Eigen::MatrixXd m2);
  // Adds another accumulator's samples as if they had been added here (Chan et al.'s pairwise
  // update: the means' difference enters M2 weighted by count_a count_b / count). Merging an
  // empty one changes nothing; merging into an empty one copies it.
  void merge(const SampleAccumulator& other);

 private:
  long count_ = 0;
  Eigen::VectorXd mean_;
  Eigen::MatrixXd m2_;
};

// g(r, N) above: N times the variance of the mean of N AR(1) samples of unit variance.
double ar1_variance_factor(double rho, long samples);

// Per mode: N / g(rho_k, N).
Eigen::VectorXd effective_samples(const ThermoModel& model, long samples, double interval);
// Standard error of the mean of each unknown, from the mode variances (units of the unknowns).
Eigen::VectorXd mean_standard_errors(const ThermoModel& model, long samples, double interval,
                                     const Eigen::VectorXd& mode_variances);
// Covariance of the sample mean (units of the unknowns squared).
Eigen::MatrixXd mean_covariance(const ThermoModel& model, long samples, double interval,
                                const Eigen::VectorXd& mode_variances);
// Standard error of each entry of the sample covariance.
Eigen::MatrixXd covariance_standard_errors(const ThermoModel& model, long samples, double interval,
                                           const Eigen::VectorXd& mode_variances);
// What the (1/N) sample covariance estimates: Cov - Cov(mean).
Eigen::MatrixXd expected_sample_covariance(const ThermoModel& model, long samples, double interval,
                                           solver::NoiseShape shape);
// Relative standard error of the covariance inverse, sqrt(E ||S' - Sigma||_F^2) / ||Sigma||_F,
// where S' is the sample covariance of `samples` samples every `interval` with each mode's
// held-noise factor divided out (so mode k has the white variance v_k = beta^-1 / (s_M alpha_k)
// and AR(1) coefficient rho_k): E ||S' - Sigma||_F^2 = sum_j 2 v_j^2 g(rho_j^2, N) / N +
// sum_{j != k} v_j v_k g(rho_j rho_k, N) / N (the Frobenius norm is the same in the mode basis).
double covariance_relative_error(const ThermoModel& model, long samples, double interval);
// The shortest window (seconds, whole samples of `interval`) whose covariance_relative_error is
// at most `precision`.
double covariance_window(const ThermoModel& model, double interval, double precision);

// Variance of each mode in a sample covariance (units of the unknowns): diag(Q^T S Q).
Eigen::VectorXd sample_mode_variances(const ThermoModel& model, const Eigen::MatrixXd& covariance);

// What every thermodynamic report states.
struct EstimatorReport {
  std::string mode;             // "mean", "covariance", "final state"
  double analog_seconds = 0.0;  // simulated, per run
  double burn_in_seconds = 0.0;
  double window_seconds = 0.0;
  double sample_interval = 0.0;
  long samples = 0;                // in the window
  double effective_samples = 0.0;  // of the slowest mode (the smallest)
  double standard_error = 0.0;     // largest over the estimated entries, units of the result
  double predicted_tau = 0.0;      // R C / alpha_min
};

}  // namespace tkfac::cosim
