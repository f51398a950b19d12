#include "tkfac/netlist_gen/circuit_dynamics.hpp"

#include <fmt/format.h>

#include <cmath>
#include <map>

#include "tkfac/core/error.hpp"

namespace tkfac::netlist_gen {
namespace {

// Modified nodal analysis of the resistive network left when every capacitor is a voltage
// source: unknowns are the node voltages (ground "0" excluded) and one branch current per
// voltage-defined element (DC voltage sources, op-amps, capacitors). Written by hand because it
// is a few stamps on a dense Eigen matrix; a SPICE library would hide the very values we read.
class Mna {
 public:
  explicit Mna(const Circuit& circuit) {
    for (const Element* e : circuit.all_elements()) {
      node(e->n_plus);
      node(e->n_minus);
      if (e->kind == ElementKind::vccs || e->kind == ElementKind::opamp) {
        node(e->c_plus);
        node(e->c_minus);
      }
    }
    nodes_ = static_cast<Eigen::Index>(index_.size());
    size_ = nodes_;
    for (const Element* e : circuit.all_elements()) {
      if (e->kind == ElementKind::voltage_source || e->kind == ElementKind::opamp ||
          e->kind == ElementKind::capacitor) {
        branch_[e->name] = size_++;
      }
      if (e->kind == ElementKind::capacitor) capacitors_.push_back(e);
      if (e->kind == ElementKind::noise_current) noises_.push_back(e);
    }
    matrix_ = Eigen::MatrixXd::Zero(size_, size_);
    const Eigen::Index nq = static_cast<Eigen::Index>(capacitors_.size());
    const Eigen::Index nw = static_cast<Eigen::Index>(noises_.size());
    // Right-hand sides: column 0 the DC sources, then one per capacitor, then one per noise.
    rhs_ = Eigen::MatrixXd::Zero(size_, 1 + nq + nw);
    for (const Element* e : circuit.all_elements()) stamp(*e);
    for (Eigen::Index k = 0; k < nq; ++k) {
      rhs_(branch_.at(capacitors_[static_cast<std::size_t>(k)]->name), 1 + k) = 1.0;
    }
    for (Eigen::Index k = 0; k < nw; ++k) {
      const Element& e = *noises_[static_cast<std::size_t>(k)];
      add_rhs(e.n_plus, 1 + nq + k, -1.0);
      add_rhs(e.n_minus, 1 + nq + k, 1.0);
    }
  }

  // Node index, -1 for ground.
  Eigen::Index at(const std::string& name) const {
    if (name == "0") return -1;
    const auto it = index_.find(name);
    if (it == index_.end()) {
      throw InputError(fmt::format("circuit: has no node '{}'", name));
    }
    return it->second;
  }

  Eigen::Index size() const { return size_; }
  Eigen::Index branch(const std::string& element) const { return branch_.at(element); }
  const std::vector<const Element*>& capacitors() const { return capacitors_; }
  const std::vector<const Element*>& noises() const { return noises_; }
  const Eigen::MatrixXd& matrix() const { return matrix_; }
  const Eigen::MatrixXd& rhs() const { return rhs_; }

 private:
  void node(const std::string& name) {
    if (name == "0" || index_.count(name) != 0) return;
    const Eigen::Index i = static_cast<Eigen::Index>(index_.size());
    index_[name] = i;
  }
  void add(Eigen::Index row, Eigen::Index col, double v) {
    if (row >= 0 && col >= 0) matrix_(row, col) += v;
  }
  void add_rhs(const std::string& n, Eigen::Index col, double v) {
    const Eigen::Index i = at(n);
    if (i >= 0) rhs_(i, col) += v;
  }
  // KCL rows: the sum of the currents leaving a node through elements equals the current the
  // independent sources inject into it.
  void stamp(const Element& e) {
    const Eigen::Index p = at(e.n_plus), n = at(e.n_minus);
    switch (e.kind) {
      case ElementKind::resistor: {
        const double g = 1.0 / e.value;
        add(p, p, g);
        add(n, n, g);
        add(p, n, -g);
        add(n, p, -g);
        break;
      }
      case ElementKind::vccs: {
        // value (V(c+) - V(c-)) leaves n+ through the element and enters n-.
        const Eigen::Index cp = at(e.c_plus), cn = at(e.c_minus);
        add(p, cp, e.value);
        add(p, cn, -e.value);
        add(n, cp, -e.value);
        add(n, cn, e.value);
        break;
      }
      case ElementKind::current_source:
        // Flows from n+ through the source into n-.
        add_rhs(e.n_plus, 0, -e.value);
        add_rhs(e.n_minus, 0, e.value);
        break;
      case ElementKind::noise_current:
        break;  // its own right-hand side column
      case ElementKind::voltage_source:
      case ElementKind::opamp:
      case ElementKind::capacitor: {
        // Branch current j from n+ through the element to n-; the branch row fixes
        // V(n+) - V(n-): the DC value, the op-amp's gain times its input, or q_k.
        const Eigen::Index j = branch_.at(e.name);
        add(p, j, 1.0);
        add(n, j, -1.0);
        add(j, p, 1.0);
        add(j, n, -1.0);
        if (e.kind == ElementKind::voltage_source) rhs_(j, 0) = e.value;
        if (e.kind == ElementKind::opamp) {
          add(j, at(e.c_plus), -e.value);
          add(j, at(e.c_minus), e.value);
        }
        break;
      }
    }
  }

  std::map<std::string, Eigen::Index> index_;
  std::map<std::string, Eigen::Index> branch_;
  std::vector<const Element*> capacitors_, noises_;
  Eigen::Index nodes_ = 0, size_ = 0;
  Eigen::MatrixXd matrix_, rhs_;
};

}  // namespace

CircuitDynamics linear_dynamics(const Circuit& circuit, const std::vector<std::string>& outputs) {
  const Mna mna(circuit);
  const auto& caps = mna.capacitors();
  const auto& noises = mna.noises();
  if (caps.empty()) throw InputError("circuit: has no capacitor, so no dynamics");
  const Eigen::Index nq = static_cast<Eigen::Index>(caps.size());
  const Eigen::Index nw = static_cast<Eigen::Index>(noises.size());

  // Partial pivoting is enough for these networks and 3-4x cheaper than full pivoting at the
  // sizes of an integrator (9 n unknowns); a singular one shows as a non-finite or inexact solve.
  const Eigen::PartialPivLU<Eigen::MatrixXd> lu(mna.matrix());
  const Eigen::MatrixXd x = lu.solve(mna.rhs());
  const double residual = (mna.matrix() * x - mna.rhs()).norm();
  if (!x.allFinite() || !(residual <= 1e-8 * (mna.rhs().norm() + mna.matrix().norm() * x.norm()))) {
    throw InputError(
        "circuit: its resistive network is singular once the capacitor voltages are fixed (a "
        "node without a DC path, or a loop of voltage sources); expected a solvable circuit");
  }

  CircuitDynamics d;
  d.capacitance.resize(nq);
  d.initial_state = Eigen::VectorXd::Zero(nq);
  Eigen::MatrixXd currents(nq, x.cols());  // capacitor currents j_k, affine in (1, q, w)
  for (Eigen::Index k = 0; k < nq; ++k) {
    const Element& c = *caps[static_cast<std::size_t>(k)];
    if (!(c.value > 0.0)) {
      throw InputError(
          fmt::format("circuit: capacitor {} has {} F, expected > 0", c.name, c.value));
    }
    d.states.push_back(c.name);
    d.capacitance(k) = c.value;
    if (c.initial_voltage) d.initial_state(k) = *c.initial_voltage;
    currents.row(k) = x.row(mna.branch(c.name)) / c.value;  // C dq/dt = j
  }
  d.forcing = currents.col(0);
  d.drift = -currents.middleCols(1, nq);

  // Keep the noise currents that reach a capacitor (the pad source of an odd count drives a
  // resistor only).
  const Eigen::MatrixXd all_noise = currents.rightCols(nw);
  const double noise_floor = 1e-12 * (all_noise.size() ? all_noise.cwiseAbs().maxCoeff() : 0.0);
  std::vector<Eigen::Index> kept;
  for (Eigen::Index k = 0; k < nw; ++k) {
    if (all_noise.col(k).cwiseAbs().maxCoeff() > noise_floor) kept.push_back(k);
  }
  const Eigen::Index nk = static_cast<Eigen::Index>(kept.size());
  d.noise_input.resize(nq, nk);
  d.noise_rms.resize(nk);
  d.noise_sample_time.resize(nk);
  for (Eigen::Index i = 0; i < nk; ++i) {
    const Element& e = *noises[static_cast<std::size_t>(kept[static_cast<std::size_t>(i)])];
    d.noise_sources.push_back(e.name);
    d.noise_input.col(i) = all_noise.col(kept[static_cast<std::size_t>(i)]);
    d.noise_rms(i) = e.value;
    d.noise_sample_time(i) = e.sample_time;
  }

  const Eigen::Index no = static_cast<Eigen::Index>(outputs.size());
  d.outputs = outputs;
  d.output_map.resize(no, nq);
  d.output_offset.resize(no);
  for (Eigen::Index i = 0; i < no; ++i) {
    const std::string& name = outputs[static_cast<std::size_t>(i)];
    const Eigen::Index row = mna.at(name);
    if (row < 0) {
      d.output_map.row(i).setZero();
      d.output_offset(i) = 0.0;
      continue;
    }
    d.output_map.row(i) = x.row(row).segment(1, nq);
    d.output_offset(i) = x(row, 0);
    // An output that follows a noise current instantly has no value at the sample times (the
    // held noise jumps there); none of the encodings has one. The test is absolute: an
    // instantaneous response above 1e-12 V (times the output's gain from q, if larger than 1)
    // to one rms of the source is not rounding; LU rounding here is about 1e-16 V.
    const Eigen::RowVectorXd feed = x.row(row).tail(nw);
    const double scale = std::max(1.0, d.output_map.row(i).cwiseAbs().maxCoeff());
    for (Eigen::Index k = 0; k < nw; ++k) {
      if (std::abs(feed(k)) * noises[static_cast<std::size_t>(k)]->value > 1e-12 * scale) {
        throw InputError(fmt::format(
            "circuit: output node {} depends directly on noise source {}; expected outputs that "
            "follow the capacitors",
            name, noises[static_cast<std::size_t>(k)]->name));
      }
    }
  }
  return d;
}

}  // namespace tkfac::netlist_gen
