#pragma once
// The linear dynamics a circuit realizes, read from its own elements: the state is the vector q
// of capacitor voltages, and
//
//   dq/dt = -A q + f + B w,        V(outputs) = T q + t0,
//
// w the noise currents. The `ou` twin simulates exactly this, so the twin of a netlist with
// finite op-amp gain, untrimmed, quantized or perturbed values is that netlist's twin, not the
// ideal matrix's.
//
// clang-format off
//   auto nl = tkfac::netlist_gen::make_netlist(M, b, {.encoding = Encoding::integrator});
//   auto d = tkfac::netlist_gen::linear_dynamics(nl.circuit, tkfac::netlist_gen::unknown_nodes(nl));
//   Eigen::VectorXd v_eq = d.output_map * d.drift.lu().solve(d.forcing) + d.output_offset;
// clang-format on
//
// How: every capacitor k is replaced by a voltage source of value q_k and the remaining
// resistive network (resistors, VCCS, VCVS op-amps, DC sources, noise currents) is solved by
// modified nodal analysis for all q, DC inputs and noise currents at once. The source current
// j_k of capacitor k is affine in them, and C_k dq_k/dt = j_k. Element values enter exactly as
// the netlist states them, so nothing of the ideal matrix survives unless the circuit realizes it.
#include <Eigen/Dense>
#include <string>
#include <vector>

#include "tkfac/netlist_gen/circuit.hpp"

namespace tkfac::netlist_gen {

struct CircuitDynamics {
  std::vector<std::string> states;         // capacitor names; q_k = V(n+) - V(n-) of capacitor k
  Eigen::VectorXd capacitance;             // farads, per state
  Eigen::MatrixXd drift;                   // A, 1/s
  Eigen::VectorXd forcing;                 // f, V/s (the DC inputs)
  std::vector<std::string> noise_sources;  // noise currents that reach a capacitor
  Eigen::MatrixXd noise_input;             // B, V/s per amp, one column per noise source
  Eigen::VectorXd noise_rms;               // amps, per noise source (held Gaussian of this rms)
  Eigen::VectorXd noise_sample_time;       // seconds, per noise source (hold time)
  Eigen::VectorXd initial_state;           // q(0): the capacitors' IC, 0 V without one (uic)
  std::vector<std::string> outputs;        // nodes read out
  Eigen::MatrixXd output_map;              // T: V(outputs) = T q + t0
  Eigen::VectorXd output_offset;           // t0
};

// Throws InputError if the circuit has no capacitor, an output node it does not contain, a
// resistive network that is singular once the capacitors are fixed (a node without a DC path),
// or an output that depends on a noise current directly rather than through the capacitors.
CircuitDynamics linear_dynamics(const Circuit& circuit, const std::vector<std::string>& outputs);

}  // namespace tkfac::netlist_gen
