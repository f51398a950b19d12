#include "file_options.hpp"
#include "thermo_options.hpp"

#include <fmt/format.h>

#include <ostream>

#include "option_cli.hpp"
#include "tkfac/core/csv.hpp"
#include "tkfac/core/error.hpp"

namespace tkfac::cli {

void ThermoArgs::add_to(CLI::App* cmd, const std::string& group) {
  add_table_options(cmd, solver::thermo_option_table(), options, group);
  // A file, not an option value: read by resolve() into options.warm_start.
  input_file(cmd->add_option(
      "--warm-start", warm_start_file, "start state x0 (CSV column); makes the start warm"));
}

solver::ThermoOptions ThermoArgs::resolve(Eigen::Index n) const {
  solver::ThermoOptions o = options;
  if (!warm_start_file.empty()) {
    const Eigen::MatrixXd w = read_csv_matrix(warm_start_file);
    if (w.cols() != 1 || w.rows() != n) {
      throw InputError(fmt::format("--warm-start: {} is {}x{}, expected one column of {} entries",
                                   warm_start_file, w.rows(), w.cols(), n));
    }
    o.warm_start = w.col(0);
    if (o.start == "cold") o.start = "warm";
  }
  o.validate();
  return o;
}

void print_thermo_report(std::ostream& out, const solver::SolveReport& r) {
  // Converters (--adc-bits, --dac-bits): clipping is reported, never silent.
  if (r.adc_conversions > 0) {
    out << fmt::format("ADC read-outs      {}, {} clipped at full scale\n", r.adc_conversions,
                       r.adc_clipped);
  }
  if (r.dac_clipped > 0) out << fmt::format("DAC inputs clipped {}\n", r.dac_clipped);
  if (r.estimator.empty()) return;
  out << fmt::format("estimator          {}\n", r.estimator);
  if (r.estimator == "final state") return;
  out << fmt::format("burn-in            {:.4g} s ({:.3g} tau)\n", r.burn_in_seconds,
                     r.burn_in_seconds / r.predicted_tau)
      << fmt::format("window             {:.4g} s ({:.3g} tau), one sample every {:.4g} s\n",
                     r.window_seconds, r.window_seconds / r.predicted_tau, r.sample_interval)
      << fmt::format("samples            {} per run, effective {:.1f} (slowest mode)\n", r.samples,
                     r.effective_samples)
      << fmt::format("standard error     {:.3e} (largest entry)\n", r.standard_error);
  if (r.simulator_steps > 0 && r.predicted_tau > 0.0 && r.analog_seconds > 0.0) {
    out << fmt::format("simulator steps    {} ({:.3g} per tau)\n", r.simulator_steps,
                       static_cast<double>(r.simulator_steps) * r.predicted_tau /
                           r.analog_seconds);
  }
}

}  // namespace tkfac::cli
