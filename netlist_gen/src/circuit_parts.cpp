#include "circuit_parts.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "tkfac/core/error.hpp"
#include "tkfac/netlist_gen/encoding.hpp"

namespace tkfac::netlist_gen::detail {
namespace {

// Simulated time beyond tau * ln(1/target_rel_error), in units of tau. From a cold start the
// error is V(t) - V_eq = -exp(-M_hat t / RC) V_eq, so ||error|| <= exp(-t / tau) ||V_eq|| and no
// margin is needed in exact arithmetic. Measured without it (n = 16 and 64, kappa 10 to 1e5),
// the relative error landed at 0.2e-6 to 0.95e-6 for a 1e-6 target: on the edge, with nothing
// left for per-component errors, read-back digits or a finite op-amp gain. One extra decade,
// ln(10) (+17% simulated time), puts it at 1e-8 to 1e-7. See circuits/README.md.
constexpr double kSimTimeMargin = 2.302585092994046;  // ln(10)

// Maximum time step as a fraction of tau = RC / alpha_min (the slowest mode). With Gear-2 a mode
// of time constant T decays per step h by the larger root of (3/2 + h/T) z^2 - 2 z + 1/2 = 0:
// for h/T = 1/4, 0.7735 against exp(-1/4) = 0.7788, so the slow mode, which sets the final
// accuracy, is followed to about 3% in rate; every faster mode decays per step by at most
// sqrt(1/2 / (3/2 + h/T)) < 0.78, and no mode rings (Gear-2 is L-stable). Measured: tau/10
// costs twice the time points of tau/4 for the same final error; tau/1 with Gear lost an
// order of magnitude of accuracy (the slow mode decays too slowly at h/T = 1).
constexpr double kMaxStepPerTau = 0.25;

// Final-state plans (plan_final_state): TMAX as a fraction of tau. Only the state at the end
// is read, so the steps need not follow the transient, only make it die out no slower than the
// circuit does. The equilibrium is a fixed point of every step (exact whatever h), so the final
// error is the initial error times the steps' decay factors. With Gear-2 at step h, a mode of
// time constant T decays per step by the roots of (3/2 + h/T) z^2 - 2 z + 1/2 = 0; for h/T > 1/2
// they are complex with |z| = sqrt(1 / (3 + 2 h/T)). At h = 3/4 tau the slowest mode gets
// |z| = 0.4714 = exp(-1.003 h/tau), at least the exact exp(-h/tau); faster modes (h/T larger)
// decay more per step. So the planned simulated time tau (ln(1/target) + ln 10) still bounds the
// error, decade of margin included. Measured (n = 10 and 50, kappa 2 to 1e4, both encodings,
// 1e-6 target): 4.5e-8 to 8.5e-8 relative against 1e-8 to 1e-7 with tau / 4 and the default
// trtol, with 30 accepted points per run instead of 102 (n = 50): 9 to double up from ngspice's
// first step (TSTOP / 1e4), 21 at TMAX. A larger h loses the bound
// (h = tau: exp(-0.805 h/tau), measured 6e-7); h = tau / 2 gives 1e-9 at 45 points.
constexpr double kFinalStateStepPerTau = 0.75;
// `.options trtol` of a final-state plan: ngspice's truncation-error estimate (default trtol 7)
// would keep steps short while the fast modes die out, for an accuracy of the transient that is
// never read; 1e3 lets every step double up to TMAX (ngspice's largest growth per step).
constexpr double kFinalStateTrtol = 1e3;

// Default noise sample time NT (--noise-follows). The circuit sees held noise; at its sample
// times the variance of a mode of rate a is lowered by tanh(u / 2) / (u / 2), u = a NT / (R C),
// and the samples of that mode are an exact AR(1) sequence with rho = exp(-u).
// - fastest: NT = R C / (10 alpha_max), u <= 0.1 for every mode (factor above 1 - 1e-3).
// - slowest: NT = tau / 2 = R C / (2 alpha_min), u = 0.5 for the slowest mode (factor 0.98).
//   ngspice puts a breakpoint at every NT and restarts its step there, so NT sets the cost:
//   this takes 5 kappa times fewer noise samples per tau (measured: 3x less wall time per tau
//   than tau / 10 on a 50 x 50, kappa 119). The samples lose little about the slow modes (the
//   variance of a window mean is v g(rho, N) / N: 1.08 tau v / W at rho = exp(-1/2) against
//   tau v / W for dense samples); the faster modes follow the held input nearly
//   quasi-statically, still exact AR(1) sequences of known variance, so the window mean stays
//   unbiased with exact standard errors and the covariance estimator divides their factors
//   out (docs/DESIGN.md section 5).
constexpr double kNoiseSamplesPerFastestTau = 0.1;
constexpr double kNoiseSamplesPerSlowestTau = 0.5;

}  // namespace

double round3(double value, bool up) {
  // Not a number to round (e.g. R C = inf from --resistance 1e300 --capacitance 1e300): the
  // netlist writer's value guard refuses it; casting its log to int here would be undefined.
  if (!(std::isfinite(value) && value > 0.0)) return value;
  const int exponent = static_cast<int>(std::floor(std::log10(value))) - 2;
  const double mantissa = value / std::pow(10.0, exponent);
  // 1e-9 guards against 123.0000000001 being rounded up to 124.
  const double digits = up ? std::ceil(mantissa - 1e-9) : std::floor(mantissa + 1e-9);
  const std::string text = fmt::format("{}e{}", static_cast<long long>(digits), exponent);
  double out = 0.0;
  std::from_chars(text.data(), text.data() + text.size(), out);
  return out;
}

double rhs_scale(const Eigen::VectorXd& b, const NetlistOptions& options) {
  if (options.scaling == Scaling::none || b.size() == 0) return 1.0;
  const double largest = b.cwiseAbs().maxCoeff();
  return largest > 0 ? largest / options.input_full_scale : 1.0;
}

std::optional<double> initial_voltage(const Eigen::VectorXd& v0, Eigen::Index i, double factor) {
  if (v0.size() == 0) return std::nullopt;
  return factor * v0(i);
}

void plan_transient(const NetlistOptions& options, Netlist& nl) {
  MatrixSummary& sum = nl.summary;
  const double tau0 = options.resistance * options.capacitance;
  sum.sim_time =
      options.sim_time > 0.0
          ? options.sim_time
          : round3(sum.predicted_tau * (std::log(1.0 / options.target_rel_error) + kSimTimeMargin),
                   true);
  nl.tran_stop = sum.sim_time;
  nl.tran_max_step =
      round3(std::min(kMaxStepPerTau * sum.predicted_tau, sum.sim_time / 20.0), false);
  if (options.noise_variance > 0.0) {
    // Noise sizing (docs/DESIGN.md section 5). In s = t / (R C) the node voltages obey
    // dV = -(M_hat V - b_hat) ds + (R / sqrt(R C)) sqrt(S_i) dW_s for a white current of
    // two-sided density S_i per node; the Lyapunov equation M_hat P + P M_hat = (R / C) S_i I gives
    // Cov(V) = beta_V^-1 M_hat^-1 with beta_V^-1 = S_i R / (2 C). x = (s_b / s_M) V and
    // M_hat = M / s_M turn the target Cov(x) = beta^-1 M^-1 into beta_V^-1 = beta^-1 s_M / s_b^2.
    // A Gaussian current of rms NA held for NT seconds at a time (TRRANDOM type 2) integrates
    // to variance NA^2 NT per NT, so over times >> NT it acts as S_i = NA^2 NT:
    // NA = sqrt(2 C beta_V^-1 / (R NT)). At the sample times each mode of rate a is then an exact
    // AR(1) sequence with variance beta_V^-1 / alpha_k * tanh(a NT / 2) / (a NT / 2): 1 - 1e-3 at
    // the default NT (a NT <= 0.1), stated in the header. Every encoding has one capacitor C per
    // unknown whose equation is C dV/dt = -g0 (M_hat V - b_hat) + i_noise, so the sizing is the
    // same for all of them.
    sum.noise_variance = options.noise_variance;
    sum.voltage_noise_variance =
        options.noise_variance * sum.matrix_scale / (sum.rhs_scale * sum.rhs_scale);
    sum.noise_sample_time = options.noise_sample_time > 0.0
                                ? options.noise_sample_time
                                : round3(options.noise_follows == "fastest"
                                             ? kNoiseSamplesPerFastestTau * tau0 / sum.alpha_max
                                             : kNoiseSamplesPerSlowestTau * tau0 / sum.alpha_min,
                                         false);
    sum.noise_current_rms = std::sqrt(2.0 * options.capacitance * sum.voltage_noise_variance /
                                      (options.resistance * sum.noise_sample_time));
    sum.noise_seed = options.noise_seed;
    if (options.max_step > sum.noise_sample_time) {
      const auto& table = netlist_option_table();
      throw InputError(
          fmt::format("max_step ({}) = {}: larger than the noise sample time {} s "
                      "({}); expected a maximum time step <= the noise sample time",
                      tkfac::options::flag_of(table, "max_step"), options.max_step,
                      sum.noise_sample_time, tkfac::options::flag_of(table, "noise_sample_time")));
    }
    // The held noise changes every NT: a step longer than NT would skip noise samples.
    nl.tran_max_step = options.max_step > 0.0 ? options.max_step : sum.noise_sample_time;
  } else if (options.max_step > 0.0) {
    nl.tran_max_step = options.max_step;
  }
  // Nothing is printed at TSTEP intervals (.meas reads the final point; a session streams the
  // accepted points), but ngspice starts with a step of min(TSTEP, TSTOP/200)/10 or so: TSTEP =
  // tau0 / alpha_max, the fastest mode, lets the first steps resolve it; then the truncation-
  // error control grows the steps up to TMAX as the fast modes die out.
  nl.tran_step = round3(std::min(tau0 / sum.alpha_max, nl.tran_max_step), false);
}

void plan_final_state_steps(const NetlistOptions& options, Netlist& nl) {
  const MatrixSummary& sum = nl.summary;
  if (options.max_step > 0.0) {
    nl.tran_max_step = options.max_step;
  } else {
    nl.tran_max_step =
        round3(std::min(kFinalStateStepPerTau * sum.predicted_tau, sum.sim_time / 20.0), false);
  }
  // ngspice's first step is min(TSTOP / 100, TSTEP) / 100, and it puts a breakpoint at TSTEP
  // (39.3), after which it cuts the step to a tenth and doubles it up again: 4 more points for
  // TSTEP = TMAX, none for TSTEP = TSTOP.
  nl.tran_step = nl.tran_stop;
  nl.options.push_back(fmt::format("trtol={:g}", kFinalStateTrtol));
  nl.header.push_back("");
  nl.header.push_back(fmt::format(
      "Final-state plan (only the last point is read): TSTEP = TSTOP, TMAX = {:.3g} s ({}),",
      nl.tran_max_step, options.max_step > 0.0 ? "given" : "3/4 tau, or simulated time / 20"));
  nl.header.push_back(fmt::format(
      "          trtol = {:g}: Gear-2 damps every mode per step by at least exp(-h / tau),",
      kFinalStateTrtol));
  nl.header.push_back("          so the simulated time above still bounds the final error");
}

void add_inverter(Block& block, const char* tag, Eigen::Index i, const char* in, const char* sum,
                  const char* out, double resistance, double gain) {
  const std::string n_in = fmt::format("{}_{}", in, i), n_sum = fmt::format("{}_{}", sum, i),
                    n_out = fmt::format("{}_{}", out, i);
  block.elements.push_back(
      Element::resistor(fmt::format("R_{}_in_{}", tag, i), n_in, n_sum, resistance));
  block.elements.push_back(
      Element::resistor(fmt::format("R_{}_fb_{}", tag, i), n_sum, n_out, resistance));
  block.elements.push_back(Element::opamp(fmt::format("E_{}_{}", tag, i), n_out, "0", n_sum, gain));
}

void add_noise_sources(const NetlistOptions& options, const std::string& node_prefix,
                       Netlist& nl) {
  if (!(options.noise_variance > 0.0)) return;
  const MatrixSummary& sum = nl.summary;
  Block& blk = nl.circuit.add_block(
      {fmt::format("--- noise: I_n_i injects a Gaussian current of rms NA held for NT into {} "
                   "(TRRANDOM type 2:",
                   node_prefix == "x" ? "x_i" : fmt::format("the summing node {}_i", node_prefix)),
       "    TS = NT, TD = 0, standard deviation NA, mean 0), seeded by .options seed;",
       "    for odd n a pad source into a resistor makes the count even (see tkfac source)"});
  for (int i = 0; i < sum.size; ++i) {
    blk.elements.push_back(Element::noise_current(fmt::format("I_n_{}", i), "0",
                                                  fmt::format("{}_{}", node_prefix, i),
                                                  sum.noise_current_rms, sum.noise_sample_time));
  }
  // An even number of noise sources. ngspice's Gaussian generator (polar method) keeps the
  // second value of each pair for the next call, and `.options seed` does not clear it: in the
  // shared library, a run that drew an odd number of values shifted the next run's sequence
  // by one (measured on 39.3: with 3 sources, runs 1 and 3 of one netlist agreed with
  // `ngspice -b`, run 2 did not). Every source draws once per NT, so with an even count each
  // run draws an even number and leaves nothing behind. The pad source drives a resistor only.
  if (sum.size % 2 == 1) {
    blk.elements.push_back(Element::noise_current("I_n_pad", "0", "noise_pad",
                                                  sum.noise_current_rms, sum.noise_sample_time));
    blk.elements.push_back(Element::resistor("R_noise_pad", "noise_pad", "0", options.resistance));
  }
  nl.options.push_back(fmt::format("seed={}", options.noise_seed));
}

void add_transient_header(const NetlistOptions& options, const Eigen::VectorXd& inverse_diagonal,
                          Netlist& nl) {
  const MatrixSummary& sum = nl.summary;
  const bool noisy = options.noise_variance > 0.0;
  const double tau0 = options.resistance * options.capacitance;
  auto& h = nl.header;
  h.push_back(
      fmt::format("Predicted tau = R C / alpha_min = {:.6g} s (slowest mode)", sum.predicted_tau));
  if (options.sim_time > 0.0) {
    h.push_back(fmt::format("Simulated time = {:.6g} s (= {:.3g} tau, given)", sum.sim_time,
                            sum.sim_time / sum.predicted_tau));
  } else {
    h.push_back(fmt::format("Simulated time = {:.6g} s = tau * (ln(1/{:.3g}) + ln(10)) rounded up",
                            sum.sim_time, options.target_rel_error));
    h.push_back(
        fmt::format("          (cold-start error below {:.3g} relative, one decade of margin)",
                    options.target_rel_error));
  }
  h.push_back(fmt::format(
      "Time steps: TSTEP = {:.3g} s (fastest mode tau0 / alpha_max, at most TMAX),", nl.tran_step));
  if (noisy || options.max_step > 0.0) {
    h.push_back(fmt::format("          TMAX = {:.3g} s ({})", nl.tran_max_step,
                            options.max_step > 0.0 ? "given" : "the noise sample time NT"));
  } else {
    h.push_back(fmt::format(
        "          TMAX = {:.3g} s (tau / 4, or simulated time / 20 if smaller)", nl.tran_max_step));
  }
  if (!noisy) return;
  h.push_back("");
  h.push_back(fmt::format(
      "Noise: beta^-1 = {:.6g} (units of the unknowns): x ~ N(M^-1 b, beta^-1 M^-1), M damped",
      sum.noise_variance));
  h.push_back(fmt::format("       node voltages: beta_V^-1 = beta^-1 s_M / s_b^2 = {:.6g} V^2",
                          sum.voltage_noise_variance));
  h.push_back(fmt::format(
      "       sources I_n_i: TRRANDOM Gaussian, NA = sqrt(2 C beta_V^-1 / (R NT)) = {:.6g} A,",
      sum.noise_current_rms));
  h.push_back(fmt::format(
      "       held NT = {:.6g} s (= {:.3g} R C / alpha_min = {:.3g} R C / alpha_max{}); TMAX = "
      "{:.6g} s <= NT",
      sum.noise_sample_time, sum.noise_sample_time * sum.alpha_min / tau0,
      sum.noise_sample_time * sum.alpha_max / tau0,
      options.noise_sample_time > 0.0 ? ", given"
                                      : fmt::format(", follows the {} mode", options.noise_follows),
      nl.tran_max_step));
  h.push_back(fmt::format("       seed = {} (.options seed; same seed, same samples)",
                          sum.noise_seed));
  const double u_max = sum.alpha_max * sum.noise_sample_time / tau0;
  const double u_min = sum.alpha_min * sum.noise_sample_time / tau0;
  h.push_back(fmt::format(
      "       variance at the sample times: mode factor tanh(u/2)/(u/2), u = alpha NT / (R C),"));
  h.push_back(fmt::format("       between {:.6f} (fastest mode) and {:.6f} (slowest mode);",
                          std::tanh(0.5 * u_max) / (0.5 * u_max),
                          std::tanh(0.5 * u_min) / (0.5 * u_min)));
  h.push_back("       the estimators use these exact factors (window mean: AR(1) standard errors;");
  h.push_back("       covariance: each mode's factor divided out)");
  // Expected standard deviation of each unknown: sqrt(beta^-1 ((M + damping I)^-1)_ii).
  std::string line = "Expected std of x_i (sqrt(beta^-1 (M^-1)_ii)):";
  for (Eigen::Index i = 0; i < inverse_diagonal.size(); ++i) {
    const std::string item =
        fmt::format(" {:.4g}", std::sqrt(sum.noise_variance * inverse_diagonal(i)));
    if (line.size() + item.size() > 92) {
      h.push_back(line);
      line = "         ";
    }
    line += item;
  }
  h.push_back(line);
}

Netlist start_netlist(Encoding encoding, const NetlistOptions& options, Eigen::Index n,
                      double alpha_min, double alpha_max, double s_m, double s_b) {
  Netlist nl;
  nl.encoding = std::string(to_string(encoding));
  MatrixSummary& sum = nl.summary;
  sum.size = static_cast<int>(n);
  sum.damping = options.damping;
  sum.condition_number = alpha_max / alpha_min;
  sum.alpha_min = alpha_min;
  sum.alpha_max = alpha_max;
  sum.matrix_scale = s_m;
  sum.rhs_scale = s_b;
  sum.resistance = options.resistance;
  sum.capacitance = options.capacitance;
  sum.predicted_tau = options.resistance * options.capacitance / alpha_min;
  plan_transient(options, nl);
  return nl;
}

}  // namespace tkfac::netlist_gen::detail
