#pragma once
// The registry LinearSolver::create looks backends up in, by name.
//
//   tkfac::solver::register_backend("lu", [](const tkfac::solver::SolverOptions& o) {
//     return std::make_unique<MyLuSolver>(o);   // a LinearSolver, `final`
//   });
//   auto s = tkfac::solver::LinearSolver::create({.backend = "lu"});
//
// The digital backends (cholesky, cg) are always there. Register from a function the program
// calls (as tkfac::cosim::register_backends() does), not from a static initializer in a static
// library: the linker drops an object file nothing refers to, and its registration with it.
#include <functional>
#include <memory>
#include <string>

#include "tkfac/solver/linear_solver.hpp"

namespace tkfac::solver {

// Makes a backend from validated options.
using BackendFactory = std::function<std::unique_ptr<LinearSolver>(const SolverOptions&)>;

// Adds `name` (at the end of LinearSolver::backends()); registering a name again replaces its
// factory and keeps its place, so registering twice is harmless. Thread-safe.
void register_backend(const std::string& name, BackendFactory factory);

// Wraps every solver LinearSolver::create makes from now on (the backend's solver in, the one
// handed out back), e.g. tkfac::parallel::DistributedSolver, which spreads solve_all over MPI
// ranks. An empty function removes it. A program sets it once, before it creates solvers.
using SolverDecorator = std::function<std::unique_ptr<LinearSolver>(std::unique_ptr<LinearSolver>)>;
void set_solver_decorator(SolverDecorator decorator);

}  // namespace tkfac::solver
