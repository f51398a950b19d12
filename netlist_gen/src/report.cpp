#include "tkfac/netlist_gen/report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace tkfac::netlist_gen {

HardwareReport hardware_report(const Netlist& netlist) {
  HardwareReport r;
  r.encoding = netlist.encoding;
  r.size = netlist.summary.size;
  r.counts = count_components(netlist.circuit);
  r.elements = static_cast<int>(netlist.circuit.element_count());
  r.predicted_tau = netlist.summary.predicted_tau;
  r.sim_time = netlist.summary.sim_time;
  double r_min = std::numeric_limits<double>::infinity(), r_max = 0.0;
  double g_min = std::numeric_limits<double>::infinity(), g_max = 0.0;
  for (const Block& b : netlist.circuit.blocks) {
    for (const Element& e : b.elements) {
      if (e.kind == ElementKind::resistor && e.value > 0.0) {
        r_min = std::min(r_min, e.value);
        r_max = std::max(r_max, e.value);
      } else if (e.kind == ElementKind::vccs && e.value != 0.0) {
        g_min = std::min(g_min, std::abs(e.value));
        g_max = std::max(g_max, std::abs(e.value));
      }
    }
  }
  if (r_max > 0.0) {
    r.min_resistance = r_min;
    r.max_resistance = r_max;
  } else if (g_max > 0.0) {
    r.equivalent_resistance = true;
    r.min_resistance = 1.0 / g_max;
    r.max_resistance = 1.0 / g_min;
  }
  if (r.min_resistance > 0.0) {
    r.dynamic_range = r.max_resistance / r.min_resistance;
    r.dynamic_range_bits = std::log2(r.dynamic_range);
  }
  return r;
}

std::vector<std::string> report_lines(const HardwareReport& r) {
  std::vector<std::string> h;
  const ComponentCounts& c = r.counts;
  h.push_back(fmt::format("  encoding {}, n = {} unknowns, {} element cards", r.encoding, r.size,
                          r.elements));
  h.push_back(fmt::format(
      "  {} resistors, {} capacitors, {} amplifiers (op-amps), {} VCCS, {} independent sources",
      c.resistors, c.capacitors, c.amplifiers, c.controlled_sources, c.sources));
  if (r.min_resistance > 0.0) {
    h.push_back(fmt::format("  {}: smallest {:.6g} ohm, largest {:.6g} ohm",
                            r.equivalent_resistance ? "equivalent resistance 1/|g| of the VCCS"
                                                    : "resistance",
                            r.min_resistance, r.max_resistance));
    h.push_back(fmt::format("  dynamic range max/min = {:.6g} ({:.1f} bits)", r.dynamic_range,
                            r.dynamic_range_bits));
  } else {
    h.push_back("  no resistors or couplings");
  }
  h.push_back(fmt::format("  predicted tau = {:.6g} s; simulated analog time = {:.6g} s ({:.3g} tau)",
                          r.predicted_tau, r.sim_time,
                          r.predicted_tau > 0 ? r.sim_time / r.predicted_tau : 0.0));
  return h;
}

void append_hardware_report(Netlist& netlist) {
  const HardwareReport r = hardware_report(netlist);
  netlist.header.push_back("Hardware report:");
  for (const std::string& line : report_lines(r)) netlist.header.push_back(line);
  netlist.header.push_back("");
}

}  // namespace tkfac::netlist_gen
