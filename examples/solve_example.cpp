// Solving a small SPD system with the relaxation circuit, through the library API.
//
//   ./build/bin/solve_example
#include <Eigen/Dense>
#include <iostream>

#include "tkfac/cosim/backends.hpp"
#include "tkfac/netlist_gen/netlist.hpp"
#include "tkfac/solver/linear_solver.hpp"

int main() {
  Eigen::MatrixXd m(3, 3);
  m << 4, 1, 0,  //
      1, 3, 1,   //
      0, 1, 2;
  Eigen::VectorXd b(3);
  b << 1, 2, 3;

  // The netlist a circuit designer would look at.
  tkfac::netlist_gen::NetlistOptions circuit;
  circuit.encoding = tkfac::netlist_gen::Encoding::integrator;
  std::cout << tkfac::netlist_gen::to_spice(tkfac::netlist_gen::make_netlist(m, b, circuit));

  // The same circuit run in-process by ngspice (the spice backend comes from cosim).
  tkfac::cosim::register_backends();
  tkfac::solver::SolverOptions options;
  options.backend = "spice";
  options.netlist = circuit;
  const auto solution = tkfac::solver::LinearSolver::create(options)->solve(m, b);
  std::cout << "\nx (circuit)  = " << solution.x.transpose() << "\n"
            << "x (cholesky) = " << m.llt().solve(b).transpose() << "\n"
            << "analog time " << solution.report.analog_seconds << " s, predicted tau "
            << solution.report.predicted_tau << " s, wall " << solution.report.wall_seconds
            << " s\n";
}
