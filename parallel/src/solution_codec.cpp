#include "tkfac/parallel/solution_codec.hpp"

#include <cstring>
#include <stdexcept>

namespace tkfac::parallel {

void ByteWriter::put_string(const std::string& s) {
  put<std::uint64_t>(s.size());
  bytes_.insert(bytes_.end(), s.begin(), s.end());
}

void ByteWriter::put_matrix(const Eigen::MatrixXd& m) {
  put<std::int64_t>(m.rows());
  put<std::int64_t>(m.cols());
  const auto* p = reinterpret_cast<const char*>(m.data());
  bytes_.insert(bytes_.end(), p, p + sizeof(double) * static_cast<std::size_t>(m.size()));
}

void ByteWriter::put_solution(const solver::Solution& s) {
  const solver::SolveReport& r = s.report;
  put_matrix(s.x);
  put_string(r.backend);
  put_string(r.method);
  put(r.wall_seconds);
  put(r.analog_seconds);
  put(r.predicted_tau);
  put<std::int64_t>(r.simulator_steps);
  put<std::int32_t>(r.iterations);
  put<std::uint8_t>(r.converged ? 1 : 0);
  put_string(r.estimator);
  put(r.burn_in_seconds);
  put(r.window_seconds);
  put(r.sample_interval);
  put<std::int64_t>(r.samples);
  put(r.effective_samples);
  put(r.standard_error);
  put_matrix(r.standard_errors);
  put<std::uint64_t>(r.run_analog_seconds.size());
  for (double a : r.run_analog_seconds) put(a);
  put<std::int64_t>(r.adc_conversions);
  put<std::int64_t>(r.adc_clipped);
  put<std::int64_t>(r.dac_clipped);
}

void ByteReader::take(void* out, std::size_t n) {
  if (static_cast<std::size_t>(end_ - p_) < n) {
    throw std::runtime_error("distributed solver: a rank's message ended early");
  }
  if (n == 0) return;  // an empty matrix's data() may be null, which memcpy must not get
  std::memcpy(out, p_, n);
  p_ += n;
}

std::string ByteReader::get_string() {
  const auto n = get<std::uint64_t>();
  std::string s(n, '\0');
  take(s.data(), n);
  return s;
}

Eigen::MatrixXd ByteReader::get_matrix() {
  const auto rows = get<std::int64_t>();
  const auto cols = get<std::int64_t>();
  const auto left = static_cast<std::int64_t>((end_ - p_) / static_cast<long>(sizeof(double)));
  if (rows < 0 || cols < 0 || (rows > 0 && cols > left / rows)) {
    throw std::runtime_error("distributed solver: a rank's message ended early");
  }
  Eigen::MatrixXd m(rows, cols);
  take(m.data(), sizeof(double) * static_cast<std::size_t>(m.size()));
  return m;
}

solver::Solution ByteReader::get_solution() {
  solver::Solution s;
  solver::SolveReport& r = s.report;
  s.x = get_matrix();
  r.backend = get_string();
  r.method = get_string();
  r.wall_seconds = get<double>();
  r.analog_seconds = get<double>();
  r.predicted_tau = get<double>();
  r.simulator_steps = static_cast<long>(get<std::int64_t>());
  r.iterations = get<std::int32_t>();
  r.converged = get<std::uint8_t>() != 0;
  r.estimator = get_string();
  r.burn_in_seconds = get<double>();
  r.window_seconds = get<double>();
  r.sample_interval = get<double>();
  r.samples = static_cast<long>(get<std::int64_t>());
  r.effective_samples = get<double>();
  r.standard_error = get<double>();
  r.standard_errors = get_matrix();
  r.run_analog_seconds.resize(get<std::uint64_t>());
  for (double& a : r.run_analog_seconds) a = get<double>();
  r.adc_conversions = static_cast<long>(get<std::int64_t>());
  r.adc_clipped = static_cast<long>(get<std::int64_t>());
  r.dac_clipped = static_cast<long>(get<std::int64_t>());
  return s;
}

}  // namespace tkfac::parallel
