#include "tkfac/netlist_gen/report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

namespace tkfac::netlist_gen {
namespace {

// The whitespace-separated fields of an element card.
std::vector<std::string> fields(const std::string& card) {
  std::istringstream in(card);
  std::vector<std::string> out;
  for (std::string f; in >> f;) out.push_back(f);
  return out;
}

bool parse_double(const std::string& text, double& out) {
  try {
    std::size_t used = 0;
    out = std::stod(text, &used);
    return used == text.size() && std::isfinite(out);
  } catch (...) {
    return false;
  }
}

}  // namespace

HardwareReport hardware_report(const Netlist& netlist) {
  HardwareReport r;
  r.encoding = netlist.encoding;
  r.size = netlist.summary.size;
  r.counts = netlist.counts;
  r.predicted_tau = netlist.summary.predicted_tau;
  r.sim_time = netlist.summary.sim_time;
  double r_min = std::numeric_limits<double>::infinity(), r_max = 0.0;
  double g_min = std::numeric_limits<double>::infinity(), g_max = 0.0;
  for (const std::string& card : netlist.elements) {
    if (card.empty() || card[0] == '*') continue;
    ++r.elements;
    const std::vector<std::string> f = fields(card);
    double v = 0.0;
    const char kind = static_cast<char>(std::toupper(static_cast<unsigned char>(card[0])));
    if (kind == 'R' && f.size() >= 4 && parse_double(f[3], v) && v > 0.0) {
      r_min = std::min(r_min, v);
      r_max = std::max(r_max, v);
    } else if (kind == 'G' && f.size() >= 6 && parse_double(f[5], v) && v != 0.0) {
      g_min = std::min(g_min, std::abs(v));
      g_max = std::max(g_max, std::abs(v));
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
