#include "tkfac/cosim/estimators.hpp"

#include <cmath>
#include <limits>
#include <utility>

namespace tkfac::cosim {

GridSampler::GridSampler(double interval, double first, Sink sink)
    : interval_(interval), first_(first), sink_(std::move(sink)) {}

void GridSampler::add(double t, const Eigen::VectorXd& values) {
  // Grid times as first + k h, computed from k each time (no accumulated rounding).
  auto grid = [&](long k) { return first_ + static_cast<double>(k) * interval_; };
  // Relative slack so that a point a few ulps off a grid time counts as on it.
  const double slack = 1e-9 * interval_;
  if (has_previous_) {
    while (grid(next_index_) <= t + slack) {
      const double tg = grid(next_index_);
      if (std::abs(tg - t) <= slack) {
        sink_(tg, values);
        ++emitted_;
      } else if (tg >= previous_t_) {
        const double w = (tg - previous_t_) / (t - previous_t_);
        sink_(tg, (1.0 - w) * previous_ + w * values);
        ++emitted_;
      }  // grid times before the first point are skipped
      ++next_index_;
    }
  } else {
    while (grid(next_index_) < t - slack) ++next_index_;  // the stream starts after them
    if (std::abs(grid(next_index_) - t) <= slack) {
      sink_(grid(next_index_), values);
      ++next_index_;
      ++emitted_;
    }
  }
  has_previous_ = true;
  previous_t_ = t;
  previous_ = values;
}

void SampleAccumulator::add(const Eigen::VectorXd& x) {
  if (count_ == 0) {
    mean_ = Eigen::VectorXd::Zero(x.size());
    m2_ = Eigen::MatrixXd::Zero(x.size(), x.size());
  }
  ++count_;
  const Eigen::VectorXd d = x - mean_;
  mean_ += d / static_cast<double>(count_);
  m2_.noalias() += d * (x - mean_).transpose();
}

SampleAccumulator SampleAccumulator::of_moments(long count, Eigen::VectorXd mean,
                                                Eigen::MatrixXd m2) {
  SampleAccumulator a;
  if (count <= 0) return a;
  a.count_ = count;
  a.mean_ = std::move(mean);
  a.m2_ = std::move(m2);
  return a;
}

void SampleAccumulator::merge(const SampleAccumulator& other) {
  if (other.count_ == 0) return;
  if (count_ == 0) {
    *this = other;
    return;
  }
  const double na = static_cast<double>(count_);
  const double nb = static_cast<double>(other.count_);
  const double n = na + nb;
  const Eigen::VectorXd d = other.mean_ - mean_;
  mean_ += d * (nb / n);
  m2_ += other.m2_;
  m2_.noalias() += (na * nb / n) * d * d.transpose();
  count_ += other.count_;
}

Eigen::MatrixXd SampleAccumulator::covariance() const {
  if (count_ == 0) return {};
  const Eigen::MatrixXd c = m2_ / static_cast<double>(count_);
  return 0.5 * (c + c.transpose());
}

double ar1_variance_factor(double rho, long samples) {
  const double n = static_cast<double>(samples);
  if (samples <= 0) return 0.0;
  if (rho <= 0.0) return 1.0;
  const double one_minus = 1.0 - rho;
  if (one_minus * n < 1e-6) return n;  // fully correlated: the mean is one sample
  return (1.0 + rho) / one_minus -
         2.0 * rho * (1.0 - std::pow(rho, n)) / (n * one_minus * one_minus);
}

namespace {
Eigen::VectorXd rhos(const ThermoModel& model, double interval) {
  return (-model.alpha.array() * interval / model.tau0).exp().matrix();
}
}  // namespace

Eigen::VectorXd effective_samples(const ThermoModel& model, long samples, double interval) {
  const Eigen::VectorXd r = rhos(model, interval);
  Eigen::VectorXd out(r.size());
  for (Eigen::Index k = 0; k < r.size(); ++k) {
    out(k) = static_cast<double>(samples) / ar1_variance_factor(r(k), samples);
  }
  return out;
}

Eigen::MatrixXd mean_covariance(const ThermoModel& model, long samples, double interval,
                                const Eigen::VectorXd& mode_variances) {
  const Eigen::VectorXd r = rhos(model, interval);
  Eigen::VectorXd v(r.size());
  for (Eigen::Index k = 0; k < r.size(); ++k) {
    v(k) = mode_variances(k) * ar1_variance_factor(r(k), samples) / static_cast<double>(samples);
  }
  return model.modes * v.asDiagonal() * model.modes.transpose();
}

Eigen::VectorXd mean_standard_errors(const ThermoModel& model, long samples, double interval,
                                     const Eigen::VectorXd& mode_variances) {
  return mean_covariance(model, samples, interval, mode_variances).diagonal().cwiseSqrt();
}

Eigen::MatrixXd covariance_standard_errors(const ThermoModel& model, long samples, double interval,
                                           const Eigen::VectorXd& mode_variances) {
  const Eigen::VectorXd r = rhos(model, interval);
  const Eigen::Index n = r.size();
  const double nn = static_cast<double>(samples);
  // Variances of the modal sample covariances S_jk (j <= k).
  Eigen::MatrixXd var_s(n, n);
  for (Eigen::Index j = 0; j < n; ++j) {
    for (Eigen::Index k = j; k < n; ++k) {
      const double vjk = j == k ? 2.0 * mode_variances(j) * mode_variances(j) *
                                      ar1_variance_factor(r(j) * r(j), samples) / nn
                                : mode_variances(j) * mode_variances(k) *
                                      ar1_variance_factor(r(j) * r(k), samples) / nn;
      var_s(j, k) = var_s(k, j) = vjk;
    }
  }
  const Eigen::MatrixXd& q = model.modes;
  Eigen::MatrixXd out(n, n);
  for (Eigen::Index i = 0; i < n; ++i) {
    for (Eigen::Index l = i; l < n; ++l) {
      // Cov_il = sum_j q_ij q_lj S_jj + sum_{j<k} (q_ij q_lk + q_ik q_lj) S_jk.
      double v = 0.0;
      for (Eigen::Index j = 0; j < n; ++j) {
        const double c = q(i, j) * q(l, j);
        v += c * c * var_s(j, j);
        for (Eigen::Index k = j + 1; k < n; ++k) {
          const double d = q(i, j) * q(l, k) + q(i, k) * q(l, j);
          v += d * d * var_s(j, k);
        }
      }
      out(i, l) = out(l, i) = std::sqrt(v);
    }
  }
  return out;
}

namespace {
// N times E ||S' - Sigma||_F^2 / ||Sigma||_F^2 (see covariance_relative_error); samples < 0: the
// limit of many samples, g(r, N) -> (1 + r) / (1 - r), the largest value g takes.
double covariance_error_factor(const ThermoModel& model, long samples, double interval) {
  const Eigen::VectorXd r = rhos(model, interval);
  const Eigen::VectorXd v = model.mode_variances_x(solver::NoiseShape::white);
  const auto g = [&](double rho) {
    return samples < 0 ? (1.0 + rho) / (1.0 - rho) : ar1_variance_factor(rho, samples);
  };
  double sum = 0.0;
  for (Eigen::Index j = 0; j < r.size(); ++j) {
    sum += 2.0 * v(j) * v(j) * g(r(j) * r(j));
    for (Eigen::Index k = j + 1; k < r.size(); ++k) sum += 2.0 * v(j) * v(k) * g(r(j) * r(k));
  }
  return sum / v.squaredNorm();
}
}  // namespace

double covariance_relative_error(const ThermoModel& model, long samples, double interval) {
  if (samples <= 0) return std::numeric_limits<double>::infinity();
  return std::sqrt(covariance_error_factor(model, samples, interval) /
                   static_cast<double>(samples));
}

double covariance_window(const ThermoModel& model, double interval, double precision) {
  // g(r, N) grows with N towards its limit, so the limit's N is enough; it is within a few
  // samples of the exact one once the window spans many tau.
  const double n = covariance_error_factor(model, -1, interval) / (precision * precision);
  return std::ceil(n) * interval;
}

Eigen::MatrixXd expected_sample_covariance(const ThermoModel& model, long samples, double interval,
                                           solver::NoiseShape shape) {
  const Eigen::VectorXd v = model.mode_variances_x(shape);
  return model.covariance_x(shape) - mean_covariance(model, samples, interval, v);
}

Eigen::VectorXd sample_mode_variances(const ThermoModel& model, const Eigen::MatrixXd& covariance) {
  return (model.modes.transpose() * covariance * model.modes).diagonal();
}

}  // namespace tkfac::cosim
