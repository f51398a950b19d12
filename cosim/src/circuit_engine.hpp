#pragma once
// Internal: where a circuit backend's runs come from. An Engine simulates one System from a
// start state and hands the unknowns (units of the unknowns) to a sink on a grid of times:
// SpiceEngine runs the netlist in ngspice, OuEngine its exact Ornstein-Uhlenbeck twin. The
// estimators (circuit_estimators.hpp) turn those runs into solutions.
#include <functional>
#include <memory>

#include "tkfac/cosim/session.hpp"
#include "tkfac/cosim/thermodynamic.hpp"
#include "tkfac/netlist_gen/netlist.hpp"
#include "tkfac/solver/linear_solver.hpp"

namespace tkfac::cosim {

// What a circuit solve encodes: M, and for the activation encoding the array it is built from.
struct System {
  Eigen::MatrixXd m;  // M, formed (the twin's modes, the estimators and the checks need it)
  Eigen::MatrixXd a;  // the activation encoding's N x b array (M = a a^T / b); empty otherwise

  // The array's system when options.encoding is activation, the matrix's otherwise (validated).
  static System of_activations(const Eigen::MatrixXd& a, double damping,
                               const netlist_gen::NetlistOptions& options);
  // make_activation_netlist(a, ...) with an array, make_netlist(m, ...) without.
  netlist_gen::Netlist netlist(const Eigen::VectorXd& b,
                               const netlist_gen::NetlistOptions& options) const;
  // The OU twin of that netlist.
  ThermoModel model(const Eigen::VectorXd& b, const netlist_gen::NetlistOptions& options,
                    CircuitView view) const;
};

// Issue 14 (runaway work): the estimated work and memory of `runs` runs of a netlist in ngspice,
// or of the OU twin's `steps` exact steps at size n, checked against the process's budget
// (core/work_budget.hpp) before anything runs. Throws InputError naming the estimate.
void check_spice_work(const netlist_gen::Netlist& nl, long runs, const std::string& what);
void check_ou_work(Eigen::Index n, double steps, const std::string& what);

// A seed per run, so the columns of one solve get independent noise.
unsigned run_seed(unsigned seed, int run);

class Engine {
 public:
  using Sink = std::function<void(double, const Eigen::VectorXd&)>;
  virtual ~Engine() = default;
  virtual bool is_spice() const = 0;
  // What its ThermoModels must carry: the twin simulates the circuit's dynamics, ngspice does not
  // need them.
  CircuitView circuit_view() const {
    return is_spice() ? CircuitView::none : CircuitView::dynamics;
  }
  // Simulates from x0 for `steps` intervals and calls sink(t, x) at t = k * interval, k >= 1.
  virtual void run(const System& sys, const Eigen::VectorXd& b, netlist_gen::NetlistOptions options,
                   const ThermoModel& model, const Eigen::VectorXd& x0, double interval, long steps,
                   int run_index, const Sink& sink, double& analog_seconds) = 0;
  // Time points of every run so far (ngspice's accepted points; the twin's exact steps): the
  // estimators report the difference over a solve.
  long simulator_steps() const { return simulator_steps_; }
  // The ADC of a read-out (the same on both engines, docs/DESIGN.md section 6a): node voltages
  // through `adc`, in place; conversions and clips are counted like the steps.
  void read_adc(const netlist_gen::Converter& adc, Eigen::VectorXd& volts) {
    if (adc.ideal()) return;
    adc_clipped_ += adc.convert_all(volts);
    adc_conversions_ += volts.size();
  }
  long adc_conversions() const { return adc_conversions_; }
  long adc_clipped() const { return adc_clipped_; }

 protected:
  long simulator_steps_ = 0;
  long adc_conversions_ = 0;
  long adc_clipped_ = 0;
};

class OuEngine final : public Engine {
 public:
  explicit OuEngine(solver::NoiseShape shape) : shape_(shape) {}
  bool is_spice() const override { return false; }
  void run(const System& sys, const Eigen::VectorXd& b, netlist_gen::NetlistOptions options,
           const ThermoModel& model, const Eigen::VectorXd& x0, double interval, long steps,
           int run_index, const Sink& sink, double& analog_seconds) override;

 private:
  solver::NoiseShape shape_;
};

class SpiceEngine final : public Engine {
 public:
  bool is_spice() const override { return true; }
  void run(const System& sys, const Eigen::VectorXd& b, netlist_gen::NetlistOptions options,
           const ThermoModel& model, const Eigen::VectorXd& x0, double interval, long steps,
           int run_index, const Sink& sink, double& analog_seconds) override;
  // The process's ngspice session, taken on first use (after the inputs were checked).
  Session& session();

 private:
  std::shared_ptr<Session> session_;
};

}  // namespace tkfac::cosim
