// The Python module `tkfac` (pybind11): numpy arrays in and out, options as keyword arguments
// named as in the checkpoint JSON (the option tables' names), reports as dicts. README
// "Python" shows its use; python/tests/ test it.
//
//   import numpy as np, tkfac
//   X, report = tkfac.solve(M, B, backend="spice", encoding="integrator")
//   P = tkfac.KfacPreconditioner(damping=1e-3, backend="cholesky")
//   directions = P.step(activations, output_gradients)   # per layer, n_out x (n_in + 1)
#include <pybind11/eigen.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tkfac/core/error.hpp"
#include "tkfac/core/option_table.hpp"
#include "tkfac/core/version.hpp"
#include "tkfac/cosim/backends.hpp"
#include "tkfac/cosim/relaxation.hpp"
#include "tkfac/cosim/sampling.hpp"
#include "tkfac/cosim/session.hpp"
#include "tkfac/kfac/kfac_layer.hpp"
#include "tkfac/kfac/kfac_optimizer.hpp"
#include "tkfac/kfac/kfac_options.hpp"
#include "tkfac/kfac/loss.hpp"
#include "tkfac/kfac/mlp.hpp"
#include "tkfac/netlist_gen/encoding.hpp"
#include "tkfac/netlist_gen/netlist.hpp"
#include "tkfac/netlist_gen/report.hpp"
#include "tkfac/solver/linear_solver.hpp"
#include "tkfac/solver/thermo_options.hpp"

namespace py = pybind11;
namespace ng = tkfac::netlist_gen;
namespace sv = tkfac::solver;
namespace kf = tkfac::kfac;
namespace cs = tkfac::cosim;
namespace op = tkfac::options;

namespace {

// Sets the field `key` of `s` from a Python value if `table` describes it; false if it does not.
template <class S>
bool set_option(const op::OptionTable<S>& table, S& s, const std::string& key,
                const py::handle& value) {
  for (const op::Field<S>& f : table) {
    if (f.name != key) continue;
    try {
      if (f.is_enum()) {
        f.enum_parse(s, py::str(value).cast<std::string>(), key);
        return true;
      }
      std::visit(
          [&](auto m) {
            using T = std::remove_cvref_t<decltype(s.*m)>;
            if constexpr (std::is_same_v<T, std::string>) {
              const std::string text = py::str(value).cast<std::string>();
              if (!f.choices.empty() &&
                  std::find(f.choices.begin(), f.choices.end(), text) == f.choices.end()) {
                throw tkfac::InputError(fmt::format("{}: '{}' is not one of {}", key, text,
                                                    fmt::join(f.choices, ", ")));
              }
              s.*m = text;
            } else {
              s.*m = value.cast<T>();
            }
          },
          f.member);
    } catch (const py::cast_error&) {
      throw tkfac::InputError(fmt::format("{}: {} is not a value of the right type", key,
                                          py::repr(value).cast<std::string>()));
    }
    return true;
  }
  return false;
}

std::string known_names(std::initializer_list<std::vector<std::string>> lists) {
  std::vector<std::string> all;
  for (const auto& l : lists) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  return fmt::format("{}", fmt::join(all, ", "));
}

template <class S>
std::vector<std::string> names_of(const op::OptionTable<S>& table) {
  std::vector<std::string> out;
  for (const auto& f : table) out.push_back(f.name);
  return out;
}

// Solver options from keyword arguments: SolverOptions' own fields (backend, cg_*), the netlist's
// (encoding, resistance, noise_variance, ...) and the thermodynamic ones (burn_in, window, ...).
void apply_solver_option(sv::SolverOptions& o, const std::string& key, const py::handle& v) {
  if (set_option(sv::solver_option_table(), o, key, v)) return;
  if (set_option(ng::netlist_option_table(), o.netlist, key, v)) return;
  if (set_option(sv::thermo_option_table(), o.thermo, key, v)) return;
  throw tkfac::InputError(fmt::format(
      "{}: not an option (expected one of {})", key,
      known_names({names_of(sv::solver_option_table()), names_of(ng::netlist_option_table()),
                   names_of(sv::thermo_option_table())})));
}

sv::SolverOptions solver_options(const py::kwargs& kwargs) {
  sv::SolverOptions o;
  for (const auto& [k, v] : kwargs) apply_solver_option(o, k.cast<std::string>(), v);
  return o;
}

ng::NetlistOptions netlist_options(const py::kwargs& kwargs) {
  ng::NetlistOptions o;
  for (const auto& [k, v] : kwargs) {
    const std::string key = k.cast<std::string>();
    if (!set_option(ng::netlist_option_table(), o, key, v)) {
      throw tkfac::InputError(fmt::format("{}: not a netlist option (expected one of {})", key,
                                          known_names({names_of(ng::netlist_option_table())})));
    }
  }
  return o;
}

py::dict report_dict(const sv::SolveReport& r) {
  py::dict d;
  d["backend"] = r.backend;
  d["method"] = r.method;
  d["wall_seconds"] = r.wall_seconds;
  d["analog_seconds"] = r.analog_seconds;
  d["predicted_tau"] = r.predicted_tau;
  d["simulator_steps"] = r.simulator_steps;
  d["iterations"] = r.iterations;
  d["converged"] = r.converged;
  d["estimator"] = r.estimator;
  d["burn_in_seconds"] = r.burn_in_seconds;
  d["window_seconds"] = r.window_seconds;
  d["sample_interval"] = r.sample_interval;
  d["samples"] = r.samples;
  d["effective_samples"] = r.effective_samples;
  d["standard_error"] = r.standard_error;
  d["standard_errors"] = r.standard_errors;
  return d;
}

py::dict summary_dict(const ng::MatrixSummary& s) {
  py::dict d;
  d["size"] = s.size;
  d["damping"] = s.damping;
  d["condition_number"] = s.condition_number;
  d["alpha_min"] = s.alpha_min;
  d["alpha_max"] = s.alpha_max;
  d["matrix_scale"] = s.matrix_scale;
  d["rhs_scale"] = s.rhs_scale;
  d["resistance"] = s.resistance;
  d["capacitance"] = s.capacitance;
  d["predicted_tau"] = s.predicted_tau;
  d["sim_time"] = s.sim_time;
  d["finite_gain_error"] = s.finite_gain_error;
  d["noise_variance"] = s.noise_variance;
  d["noise_sample_time"] = s.noise_sample_time;
  return d;
}

// A column vector or a matrix B; solve returns X of B's shape.
Eigen::MatrixXd as_columns(const py::array_t<double, py::array::forcecast>& b, bool& was_vector) {
  was_vector = b.ndim() == 1;
  if (b.ndim() == 1) {
    Eigen::MatrixXd m(b.shape(0), 1);
    for (py::ssize_t i = 0; i < b.shape(0); ++i) m(i, 0) = b.at(i);
    return m;
  }
  if (b.ndim() != 2) throw tkfac::InputError("B: expected a 1-D or 2-D array");
  return b.cast<Eigen::MatrixXd>();
}

py::object shaped(const Eigen::MatrixXd& x, bool vector) {
  if (vector) return py::cast(Eigen::VectorXd(x.col(0)));
  return py::cast(x);
}

// One layer's arrays, in K-FAC's layout (columns = examples).
class ArrayLayer final : public kf::KfacLayer {
 public:
  ArrayLayer(Eigen::MatrixXd a, Eigen::MatrixXd g, Eigen::MatrixXd grad, Eigen::MatrixXd w)
      : a_(std::move(a)), g_(std::move(g)), grad_(std::move(grad)), w_(std::move(w)) {}
  const Eigen::MatrixXd& inputs() const override { return a_; }
  const Eigen::MatrixXd& output_gradients() const override { return g_; }
  const Eigen::MatrixXd& weight_gradient() const override { return grad_; }
  const Eigen::MatrixXd& weights() const override { return w_; }
  // K-FAC hands over the direction it would step along (before the learning rate).
  void apply_update(double, const Eigen::MatrixXd& direction) override { direction_ = direction; }
  const Eigen::MatrixXd& direction() const { return direction_; }

 private:
  Eigen::MatrixXd a_, g_, grad_, w_, direction_;
};

kf::KfacOptions kfac_options(const py::kwargs& kwargs) {
  kf::KfacOptions o;
  for (const auto& [k, v] : kwargs) {
    const std::string key = k.cast<std::string>();
    // K-FAC's own fields first: its `damping` and `seed` are lambda and the Fisher sampling's.
    if (set_option(kf::kfac_option_table(), o, key, v)) continue;
    apply_solver_option(o.solver, key, v);
  }
  return o;
}

// K-FAC on arrays: per layer the activations a (batch x n_in) and the output gradients dL/ds of
// the mean loss (batch x n_out), as a numpy or PyTorch loop has them.
class KfacPreconditioner {
 public:
  explicit KfacPreconditioner(const py::kwargs& kwargs) : kfac_(kfac_options(kwargs)) {}

  std::vector<Eigen::MatrixXd> step(const std::vector<Eigen::MatrixXd>& activations,
                                    const std::vector<Eigen::MatrixXd>& output_gradients,
                                    std::optional<std::vector<Eigen::MatrixXd>> gradients,
                                    std::optional<std::vector<Eigen::MatrixXd>> weights) {
    const std::size_t n = activations.size();
    if (n == 0 || output_gradients.size() != n) {
      throw tkfac::InputError(fmt::format(
          "output_gradients: expected one array per layer as for activations ({}), got {}", n,
          output_gradients.size()));
    }
    if ((gradients && gradients->size() != n) || (weights && weights->size() != n)) {
      throw tkfac::InputError("gradients, weights: expected one array per layer");
    }
    std::vector<ArrayLayer> layers;
    layers.reserve(n);
    for (std::size_t l = 0; l < n; ++l) {
      const Eigen::MatrixXd& a = activations[l];
      const Eigen::MatrixXd& g = output_gradients[l];
      if (a.rows() != g.rows() || a.rows() == 0) {
        throw tkfac::InputError(fmt::format(
            "layer {}: activations ({} x {}) and output_gradients ({} x {}) must have the same "
            "number of rows (the batch)",
            l, a.rows(), a.cols(), g.rows(), g.cols()));
      }
      const Eigen::Index n_out = g.cols(), n_in = a.cols();
      Eigen::MatrixXd a_bar(n_in + 1, a.rows());
      a_bar.topRows(n_in) = a.transpose();
      a_bar.row(n_in).setOnes();
      // dL/dW_bar of the mean loss when the given output gradients are the training loss's.
      Eigen::MatrixXd grad = gradients ? (*gradients)[l] : Eigen::MatrixXd(g.transpose() * a_bar.transpose());
      Eigen::MatrixXd w = weights ? (*weights)[l] : Eigen::MatrixXd::Zero(n_out, n_in + 1);
      if (grad.rows() != n_out || grad.cols() != n_in + 1 || w.rows() != n_out ||
          w.cols() != n_in + 1) {
        throw tkfac::InputError(fmt::format(
            "layer {}: gradients and weights must be n_out x (n_in + 1) = {} x {}", l, n_out,
            n_in + 1));
      }
      layers.emplace_back(a.transpose(), g.transpose(), std::move(grad), std::move(w));
    }
    std::vector<kf::KfacLayer*> views;
    for (auto& l : layers) views.push_back(&l);
    kf::StepReport report;
    kfac_.update(views, report, std::chrono::steady_clock::now());
    last_analog_ = report.analog_seconds;
    std::vector<Eigen::MatrixXd> out;
    for (const auto& l : layers) out.push_back(l.direction());
    return out;
  }
  long steps() const { return kfac_.steps(); }
  double last_analog_seconds() const { return last_analog_; }
  kf::Kfac& kfac() { return kfac_; }

 private:
  kf::Kfac kfac_;
  double last_analog_ = 0.0;
};

// tkfac's own MLP (the reference the preconditioner is tested against), batch-first arrays.
struct PyMlp {
  kf::Mlp net;
  PyMlp(std::vector<int> sizes, const std::string& activation, std::uint64_t seed)
      : net(std::move(sizes), kf::parse_activation(activation, "activation"), seed) {}
};

kf::Batch make_batch(const Eigen::MatrixXd& x, const std::vector<int>& y) {
  if (static_cast<Eigen::Index>(y.size()) != x.rows()) {
    throw tkfac::InputError(fmt::format("y: expected {} labels (one per row of x), got {}",
                                        x.rows(), y.size()));
  }
  return {x.transpose(), y};
}

}  // namespace

PYBIND11_MODULE(tkfac, m) {
  m.doc() =
      "tkfac: thermodynamic (noise-driven analog) linear algebra for K-FAC, co-simulated with "
      "ngspice. Arrays are numpy float64; options are keyword arguments named as in tkfac's "
      "checkpoint JSON.";
  m.attr("__version__") = tkfac::version;
  static py::exception<tkfac::InputError> input_error(m, "InputError", PyExc_ValueError);
  static py::exception<tkfac::SimulationError> simulation_error(m, "SimulationError",
                                                                PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const tkfac::InputError& e) {
      PyErr_SetString(input_error.ptr(), e.what());
    } catch (const tkfac::SimulationError& e) {
      PyErr_SetString(simulation_error.ptr(), e.what());
    }
  });
  cs::register_backends();
  m.def("backends", [] { return sv::LinearSolver::backends(); },
        "Names of the solver backends: cholesky, cg, spice, ou.");

  m.def(
      "netlist",
      [](const Eigen::MatrixXd& mat, std::optional<Eigen::VectorXd> b, const py::kwargs& kwargs) {
        const ng::NetlistOptions o = netlist_options(kwargs);
        o.validate();
        const ng::Netlist nl = ng::make_netlist(mat, b ? *b : Eigen::VectorXd(), o);
        const ng::HardwareReport hw = ng::hardware_report(nl);
        py::dict report = summary_dict(nl.summary);
        report["encoding"] = nl.encoding;
        report["elements"] = hw.elements;
        report["min_resistance"] = hw.min_resistance;
        report["max_resistance"] = hw.max_resistance;
        report["dynamic_range_bits"] = hw.dynamic_range_bits;
        report["lines"] = ng::report_lines(hw);
        return py::make_tuple(ng::to_spice(nl), report);
      },
      py::arg("M"), py::arg("b") = py::none(),
      "SPICE netlist of the circuit that solves (M + damping I) x = b, and its report (a dict:\n"
      "scales, alpha_min, predicted tau, component counts, resistance range, `lines`).\n"
      "Options: encoding, resistance, capacitance, opamp_gain, damping, noise_variance, ...");

  m.def(
      "solve",
      [](const Eigen::MatrixXd& mat, const py::array_t<double, py::array::forcecast>& b,
         const std::string& backend, double damping, const py::kwargs& kwargs) {
        sv::SolverOptions o = solver_options(kwargs);
        o.backend = backend;
        bool vector = false;
        const Eigen::MatrixXd rhs = as_columns(b, vector);
        sv::Solution s;
        {
          py::gil_scoped_release release;
          s = sv::LinearSolver::create(o)->solve(mat, rhs, damping);
        }
        return py::make_tuple(shaped(s.x, vector), report_dict(s.report));
      },
      py::arg("M"), py::arg("B"), py::arg("backend") = "cholesky", py::arg("damping") = 0.0,
      "X, report = solve(M, B, backend='cholesky'|'cg'|'spice'|'ou', damping=0.0, **options):\n"
      "(M + damping I) X = B; B a vector or one column per right-hand side. Options: those of\n"
      "`tkfac solve` by their JSON names (encoding, noise_variance, target_standard_error, ...).");

  m.def(
      "sample",
      [](const Eigen::MatrixXd& mat, std::optional<Eigen::VectorXd> b, const std::string& backend,
         double damping, const py::kwargs& kwargs) {
        sv::SolverOptions o = solver_options(kwargs);
        o.backend = backend;
        cs::SampleSet set;
        {
          py::gil_scoped_release release;
          set = cs::sample_unknowns(o, mat, b ? *b : Eigen::VectorXd(), damping);
        }
        return py::make_tuple(set.times, set.samples, report_dict(set.report));
      },
      py::arg("M"), py::arg("b") = py::none(), py::arg("backend") = "ou",
      py::arg("damping") = 0.0,
      "times, samples, report = sample(M, b=None, backend='ou'|'spice', noise_variance=...):\n"
      "samples (one row each) of the noisy circuit, ~ N(M^-1 b, noise_variance M^-1).");

  m.def(
      "relax",
      [](const Eigen::MatrixXd& mat, std::optional<Eigen::VectorXd> b, std::vector<double> eps,
         const py::kwargs& kwargs) {
        const ng::NetlistOptions o = netlist_options(kwargs);
        cs::RelaxMeasurement r;
        {
          py::gil_scoped_release release;
          const std::shared_ptr<cs::Session> session = cs::shared_session();
          r = cs::measure_relaxation(*session, mat, b ? *b : Eigen::VectorXd(), o, eps);
        }
        py::dict d;
        d["size"] = r.size;
        d["condition_number"] = r.condition_number;
        d["matrix_scale"] = r.matrix_scale;
        d["alpha_min"] = r.alpha_min;
        d["slow_dimension"] = r.slow_dimension;
        d["slow_share"] = r.slow_share;
        d["tau_predicted"] = r.tau_predicted;
        d["tau_measured"] = r.tau_measured;
        d["ratio"] = r.tau_measured / r.tau_predicted;
        d["eps"] = r.eps_levels;
        d["time_to_eps"] = r.time_to_eps;
        d["time_bound"] = r.time_bound;
        d["time_refined"] = r.time_refined;
        d["analog_seconds"] = r.analog_seconds;
        d["wall_seconds"] = r.wall_seconds;
        return d;
      },
      py::arg("M"), py::arg("b") = py::none(), py::arg("eps") = std::vector<double>{1e-3, 1e-6},
      "Measured relaxation time of the noiseless circuit against tau = R C / alpha_min (a dict;\n"
      "`tkfac relax` for one matrix). Netlist options as keyword arguments.");

  py::class_<KfacPreconditioner>(m, "KfacPreconditioner",
                                 "K-FAC on arrays, for a numpy or PyTorch training loop.\n"
                                 "Options: those of `tkfac train`'s K-FAC by their JSON names\n"
                                 "(damping, damping_scheme, ema_decay, method, momentum, ...) and\n"
                                 "the solver's (backend='cholesky'|'cg'|'spice'|'ou', encoding, ...).")
      .def(py::init<const py::kwargs&>())
      .def("step", &KfacPreconditioner::step, py::arg("activations"),
           py::arg("output_gradients"), py::arg("gradients") = py::none(),
           py::arg("weights") = py::none(),
           "Per layer l: activations[l] (batch x n_in, the layer's input) and output_gradients[l]\n"
           "(batch x n_out, dL/ds of the batch-mean loss). Updates the factors, solves, and\n"
           "returns the directions (n_out x (n_in + 1), bias last column): W -= lr * direction.\n"
           "gradients (default: output_gradients^T [a, 1]) and weights (for weight_decay) are in\n"
           "the same n_out x (n_in + 1) layout.")
      .def_property_readonly("steps", &KfacPreconditioner::steps)
      .def_property_readonly("last_analog_seconds", &KfacPreconditioner::last_analog_seconds);

  py::class_<PyMlp>(m, "Mlp", "tkfac's MLP (tanh or relu), batch-first arrays.")
      .def(py::init<std::vector<int>, const std::string&, std::uint64_t>(), py::arg("sizes"),
           py::arg("activation") = "tanh", py::arg("seed") = 1)
      .def_property(
          "weights", [](const PyMlp& p) { return p.net.weights(); },
          [](PyMlp& p, const std::vector<Eigen::MatrixXd>& w) {
            p.net = kf::Mlp(p.net.sizes(), p.net.activation(), w);
          },
          "W_bar per layer, n_out x (n_in + 1), bias last column")
      .def(
          "forward",
          [](const PyMlp& p, const Eigen::MatrixXd& x) {
            return Eigen::MatrixXd(p.net.forward(x.transpose()).transpose());
          },
          py::arg("x"), "logits, batch x n_out");
  m.def(
      "kfac_step",
      [](KfacPreconditioner& pre, PyMlp& mlp, const Eigen::MatrixXd& x, const std::vector<int>& y) {
        const kf::StepReport r = pre.kfac().step(mlp.net, make_batch(x, y));
        return r.loss;
      },
      py::arg("preconditioner"), py::arg("mlp"), py::arg("x"), py::arg("y"),
      "tkfac's own K-FAC step on its MLP (softmax cross-entropy on labels y): the reference\n"
      "KfacPreconditioner.step is tested against. Returns the batch loss before the step.");
}
