// tkfac sample: run a noisy circuit (or its exact OU twin) and compare the sampled unknowns with
// x ~ N(M^-1 b, beta^-1 M^-1).
#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "file_options.hpp"
#include "commands.hpp"
#include "inputs.hpp"
#include "netlist_options.hpp"
#include "thermo_options.hpp"
#include "tkfac/core/csv.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/core/output_file.hpp"
#include "tkfac/cosim/estimators.hpp"
#include "tkfac/cosim/sampling.hpp"

namespace tkfac::cli {
namespace {

struct SampleArgs {
  std::string matrix;
  std::string rhs;
  double damping = 0.0;
  std::string backend = "spice";
  std::string output;
  std::string mean_out;
  std::string covariance_out;
  CircuitArgs circuit;
  ThermoArgs thermo;
};

void run_sample(SampleArgs a) {
  solver::SolverOptions so;
  so.backend = a.backend;
  so.netlist = a.circuit.resolve();
  if (!(so.netlist.noise_variance > 0.0)) {
    throw InputError(
        fmt::format("{}: {} is not > 0; sampling needs noise (beta^-1 > 0)",
                    tkfac::options::flag_of(netlist_gen::netlist_option_table(), "noise_variance"),
                    so.netlist.noise_variance));
  }
  if (a.backend != "spice" && a.backend != "ou") {
    throw InputError(fmt::format("--backend: '{}' cannot sample; expected spice or ou", a.backend));
  }
  for (const auto& [path, option] :
       {std::pair{a.output, "--output"}, std::pair{a.mean_out, "--mean-out"},
        std::pair{a.covariance_out, "--covariance-out"}}) {
    if (!path.empty()) check_writable(path, option);
  }
  const Eigen::MatrixXd m = read_spd_matrix(a.matrix, a.damping);
  Eigen::VectorXd b;
  if (!a.rhs.empty()) {
    const Eigen::MatrixXd bm = read_rhs(a.rhs, m.rows(), a.matrix);
    if (bm.cols() != 1) {
      throw InputError(
          fmt::format("{}: has {} columns, expected one right-hand side", a.rhs, bm.cols()));
    }
    b = bm.col(0);
  }
  so.thermo = a.thermo.resolve(m.rows());
  so.validate();

  const cosim::SampleSet set = cosim::sample_unknowns(so, m, b, a.damping);
  const cosim::ThermoModel& model = set.model;
  const solver::SolveReport& r = set.report;
  const long count = r.samples;
  const double h = r.sample_interval;
  cosim::SampleAccumulator acc;
  for (long k = 0; k < count; ++k) acc.add(set.samples.row(k).transpose());
  const Eigen::VectorXd mean = acc.mean();
  const Eigen::MatrixXd cov = acc.covariance();

  // Exact values and the standard errors of the estimates (estimators.hpp), with the variances
  // of the noise actually simulated (held: the factor tanh(u/2)/(u/2) per mode).
  const Eigen::VectorXd v = model.mode_variances_x(set.shape);
  const Eigen::VectorXd x_eq = model.x_eq();
  const Eigen::VectorXd se_mean = cosim::mean_standard_errors(model, count, h, v);
  const Eigen::MatrixXd cov_exact = model.covariance_x(solver::NoiseShape::white);
  const Eigen::MatrixXd cov_expected =
      cosim::expected_sample_covariance(model, count, h, set.shape);
  const Eigen::MatrixXd se_cov = cosim::covariance_standard_errors(model, count, h, v);
  const double z_mean = ((mean - x_eq).cwiseAbs().array() / se_mean.array()).maxCoeff();
  const double z_cov = ((cov - cov_expected).cwiseAbs().array() / se_cov.array()).maxCoeff();
  const Eigen::VectorXd modal = cosim::sample_mode_variances(model, cov);

  std::cout << fmt::format(
                   "backend            {} ({})\n", r.backend,
                   r.backend == "spice"
                       ? fmt::format("{} circuit", netlist_gen::to_string(so.netlist.encoding))
                       : fmt::format("exact OU twin, {} noise",
                                     set.shape == solver::NoiseShape::white ? "white" : "held"))
            << fmt::format("system             n = {}, damping {:g}, beta^-1 = {:g}, seed {}\n",
                           m.rows(), a.damping, so.netlist.noise_variance, so.netlist.noise_seed)
            << fmt::format("predicted tau      {:.4g} s (R C / alpha_min)\n", r.predicted_tau)
            << fmt::format("analog time        {:.4g} s simulated\n", r.analog_seconds);
  print_thermo_report(std::cout, r);
  std::cout << fmt::format("mean vs M^-1 b     max |diff| / se = {:.2f}, max se = {:.3e}\n", z_mean,
                           se_mean.maxCoeff())
            << fmt::format(
                   "covariance         max |diff| / se = {:.2f} against beta^-1 M^-1{}\n", z_cov,
                   set.shape == solver::NoiseShape::held ? " (times the held-noise factor)" : "")
            << fmt::format(
                   "                   relative error {:.3e} (Frobenius, vs beta^-1 M^-1)\n",
                   (cov - cov_exact).norm() / cov_exact.norm());
  const Eigen::VectorXd ratio =
      modal.cwiseQuotient(model.mode_variances_x(solver::NoiseShape::white));
  std::cout
      << fmt::format(
             "mode variances     measured / (beta^-1 / (s_M alpha_k)): min {:.4f}, max {:.4f}\n",
             ratio.minCoeff(), ratio.maxCoeff())
      << fmt::format("wall time          {:.4g} s\n", r.wall_seconds);

  if (!a.output.empty()) {
    Eigen::MatrixXd table(count, m.rows() + 1);
    table.col(0) = set.times;
    table.rightCols(m.rows()) = set.samples;
    write_file_atomically(a.output, "--output", [&](std::ostream& os) {
      // A header line (t in seconds, then the unknowns), read by numpy.genfromtxt(names=True)
      // and pandas.read_csv; one row per sample.
      os << "t";
      for (Eigen::Index i = 0; i < m.rows(); ++i) os << ",x_" << i;
      os << "\n";
      write_csv_matrix(os, table);
    });
    std::cout << fmt::format("samples written    {}\n", a.output);
  }
  if (!a.mean_out.empty()) {
    write_file_atomically(a.mean_out, "--mean-out",
                          [&](std::ostream& os) { write_csv_matrix(os, mean); });
    std::cout << fmt::format("mean written       {}\n", a.mean_out);
  }
  if (!a.covariance_out.empty()) {
    write_file_atomically(a.covariance_out, "--covariance-out",
                          [&](std::ostream& os) { write_csv_matrix(os, cov); });
    std::cout << fmt::format("covariance written {}\n", a.covariance_out);
  }
}

}  // namespace

void register_sample(CLI::App& app) {
  auto args = std::make_shared<SampleArgs>();
  CLI::App* cmd = app.add_subcommand(
      "sample", "Sample the unknowns of a noisy circuit; compare with N(M^-1 b, beta^-1 M^-1)");
  input_file(cmd->add_option("--matrix,-m", args->matrix, "SPD matrix M (CSV)"))->required();
  input_file(
      cmd->add_option("--rhs,-b", args->rhs, "right-hand side b (CSV, one column); default zero"));
  cmd->add_option("--damping", args->damping, "lambda added to the diagonal")
      ->capture_default_str();
  cmd->add_option("--backend", args->backend, "spice (the circuit) | ou (its exact twin)")
      ->capture_default_str();
  output_file(
      cmd->add_option("--output,-o", args->output, "samples to write (CSV: time, x_0, ..., x_n-1)"));
  output_file(cmd->add_option("--mean-out", args->mean_out, "sample mean to write (CSV column)"));
  output_file(
      cmd->add_option("--covariance-out", args->covariance_out, "sample covariance to write (CSV)"));
  args->circuit.add_to(cmd);
  args->circuit.add_seed_alias(cmd);
  args->thermo.add_to(cmd);
  cmd->callback([args] { run_sample(*args); });
}

}  // namespace tkfac::cli
