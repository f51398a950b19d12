#pragma once
// Internal: the thermodynamic solvers (backend `ou`, and `spice` when noisy, finite-time or
// warm-started), created by LinearSolver::create.
#include <memory>

#include "tkfac/cosim/linear_solver.hpp"
#include "tkfac/cosim/session.hpp"

namespace tkfac::cosim {

// The process's one ngspice Session, shared by every spice solver alive (linear_solver.cpp).
std::shared_ptr<Session> shared_session();

// True when a `spice` solve needs the thermodynamic path.
bool uses_thermo(const SolverOptions& options);

std::unique_ptr<LinearSolver> make_thermo_solver(const SolverOptions& options);

}  // namespace tkfac::cosim
