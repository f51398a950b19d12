#pragma once
// The circuit backends of the solver registry: `spice` (the relaxation circuit run in ngspice)
// and `ou` (its exact Ornstein-Uhlenbeck twin).
//
//   tkfac::cosim::register_backends();         // once, before the first create()
//   tkfac::solver::SolverOptions o;
//   o.backend = "spice";
//   auto x = tkfac::solver::LinearSolver::create(o)->solve(M, b).x;
//
// Each is one class whose estimator (final state, window mean, covariance, finite analog time)
// follows from the options: netlist.noise_variance and the ThermoOptions.

namespace tkfac::cosim {

// Registers "spice" and "ou" with tkfac::solver::register_backend; calling it again does
// nothing. Every program that solves on a circuit backend calls it (a static-initializer
// registration inside the cosim static library would be dropped by the linker, since nothing
// refers to its object file).
void register_backends();

}  // namespace tkfac::cosim
