#pragma once
// Internal: the digital backends, registered by registry.cpp before any other.
#include <memory>

#include "tkfac/solver/linear_solver.hpp"

namespace tkfac::solver {

std::unique_ptr<LinearSolver> make_cholesky_solver(const SolverOptions& options);
std::unique_ptr<LinearSolver> make_cg_solver(const SolverOptions& options);

}  // namespace tkfac::solver
