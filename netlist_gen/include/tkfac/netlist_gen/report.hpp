#pragma once
// A hardware designer's report of a netlist: what it contains, how hard it is to build
// (resistance spread), how long it must run.
//
//   auto nl = tkfac::netlist_gen::make_netlist(M, b, opt);
//   tkfac::netlist_gen::HardwareReport r = tkfac::netlist_gen::hardware_report(nl);
//   for (const auto& line : tkfac::netlist_gen::report_lines(r)) std::cout << line << "\n";
//
// Computed from the circuit's elements themselves (resistor values; for the behavioral encoding's
// VCCS the equivalent resistance 1 / |gain|), so it describes exactly what the file contains.
#include <string>
#include <vector>

#include "tkfac/netlist_gen/netlist.hpp"

namespace tkfac::netlist_gen {

struct HardwareReport {
  std::string encoding;
  int size = 0;  // unknowns
  ComponentCounts counts;  // count_components of the circuit
  int elements = 0;        // elements of the circuit (element cards in the file)
  // Smallest and largest resistor (ohms), over R elements, or, without any, over the
  // equivalent resistances 1 / |gain| of the VCCS couplings. 0 when there is neither.
  double min_resistance = 0.0;
  double max_resistance = 0.0;
  bool equivalent_resistance = false;  // true: from VCCS gains
  double dynamic_range = 0.0;          // max / min (1 for a single value)
  double dynamic_range_bits = 0.0;     // log2(max / min)
  double predicted_tau = 0.0;          // seconds
  double sim_time = 0.0;               // analog seconds the transient simulates
};

HardwareReport hardware_report(const Netlist& netlist);

// Human-readable lines (no comment prefix), e.g. for a netlist header or `tkfac netlist --report`.
std::vector<std::string> report_lines(const HardwareReport& report);

// Appends "Hardware report:" and report_lines() to the netlist's header (call it last: it counts
// the elements already there).
void append_hardware_report(Netlist& netlist);

}  // namespace tkfac::netlist_gen
