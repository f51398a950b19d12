#pragma once
// Internal: the thermodynamic solvers (backend `ou`, and `spice` when noisy, finite-time or
// warm-started), created by LinearSolver::create.
#include <memory>

#include "tkfac/cosim/linear_solver.hpp"
#include "tkfac/cosim/session.hpp"
#include "tkfac/cosim/thermodynamic.hpp"
#include "tkfac/netlist_gen/netlist.hpp"

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
  ThermoModel model(const Eigen::VectorXd& b, const netlist_gen::NetlistOptions& options) const;
};

// The process's one ngspice Session, shared by every spice solver alive (linear_solver.cpp).
std::shared_ptr<Session> shared_session();

// True when a `spice` solve needs the thermodynamic path.
bool uses_thermo(const SolverOptions& options);

std::unique_ptr<LinearSolver> make_thermo_solver(const SolverOptions& options);

}  // namespace tkfac::cosim
