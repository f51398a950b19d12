#include "tkfac/netlist_gen/netlist.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

namespace tkfac::netlist_gen {

namespace {
// Same rule as the element values: shortest round-trip text of the double.
std::string spice_number(double value) { return fmt::format("{}", value); }
}  // namespace

double read_out_time(const Netlist& netlist) {
  // ngspice ends the transient once it is within its minimum break (5e-5 TMAX, or 1e-10 TMAX
  // with XSPICE) of TSTOP, and its accumulated time can fall an ulp short of TSTOP: a `.meas`
  // AT=TSTOP then fails with "out of interval" (seen for n = 64). Reading 1e-3 TMAX earlier is
  // always inside the last step and changes the relaxed voltage by a negligible ~1e-3 TMAX / tau.
  const double max_step = netlist.tran_max_step > 0
                              ? netlist.tran_max_step
                              : std::min(netlist.tran_step, netlist.tran_stop / 50.0);
  return netlist.tran_stop - 1e-3 * max_step;
}

std::vector<std::string> unknown_nodes(const Netlist& netlist) {
  std::vector<std::string> nodes;
  nodes.reserve(netlist.unknowns.size());
  for (const Unknown& u : netlist.unknowns) nodes.push_back(u.node);
  return nodes;
}

Eigen::VectorXd read_out(const Netlist& netlist, const Eigen::VectorXd& voltages) {
  Eigen::VectorXd x(static_cast<Eigen::Index>(netlist.unknowns.size()));
  for (std::size_t k = 0; k < netlist.unknowns.size(); ++k) {
    const Unknown& u = netlist.unknowns[k];
    x(u.index) = u.scale * voltages(static_cast<Eigen::Index>(k));
  }
  return x;
}

Eigen::VectorXd read_out(const Netlist& netlist, const Eigen::VectorXd& voltages,
                         const Eigen::VectorXd& scales) {
  Eigen::VectorXd x(static_cast<Eigen::Index>(netlist.unknowns.size()));
  for (std::size_t k = 0; k < netlist.unknowns.size(); ++k) {
    const Unknown& u = netlist.unknowns[k];
    x(u.index) = scales(u.index) * voltages(static_cast<Eigen::Index>(k));
  }
  return x;
}

std::string to_spice(const Netlist& netlist) {
  std::string out;
  auto line = std::back_inserter(out);
  fmt::format_to(line, "{}\n", netlist.title);
  for (const std::string& h : netlist.header) {
    if (h.empty()) {
      fmt::format_to(line, "*\n");
    } else {
      fmt::format_to(line, "* {}\n", h);
    }
  }
  // Machine-readable read-out rule, one line per unknown: x[index] = scale * V(node).
  for (const Unknown& u : netlist.unknowns) {
    fmt::format_to(line, "* tkfac-unknown {} {} {:.17g}\n", u.index, u.node, u.scale);
  }
  for (const std::string& e : netlist.elements) fmt::format_to(line, "{}\n", e);
  fmt::format_to(line, "*\n* --- simulator settings\n");
  for (const std::string& o : netlist.options) fmt::format_to(line, ".options {}\n", o);
  // `uic`: start from 0 V everywhere. Without it ngspice would first solve the DC operating
  // point, which is the answer itself, and nothing would relax.
  if (netlist.tran_max_step > 0) {
    fmt::format_to(line, ".tran {} {} 0 {} uic\n", spice_number(netlist.tran_step),
                   spice_number(netlist.tran_stop), spice_number(netlist.tran_max_step));
  } else {
    fmt::format_to(line, ".tran {} {} uic\n", spice_number(netlist.tran_step),
                   spice_number(netlist.tran_stop));
  }
  fmt::format_to(line, "*\n* --- read-out: final voltages (`ngspice -b` prints them)\n");
  const std::string at = spice_number(read_out_time(netlist));
  for (const Unknown& u : netlist.unknowns) {
    fmt::format_to(line, ".meas tran tkfac_final_{} FIND v({}) AT={}\n", u.index, u.node, at);
  }
  fmt::format_to(line, ".end\n");
  return out;
}

}  // namespace tkfac::netlist_gen
