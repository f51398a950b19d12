#include "tkfac/netlist_gen/netlist.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <stdexcept>

namespace tkfac::netlist_gen {

namespace {
// Shortest round-trip text of the double (see to_spice(Element)); zero as 0, never -0 (a DAC at
// -b_hat with b_hat = 0).
std::string num(double value) { return fmt::format("{}", value == 0.0 ? 0.0 : value); }
}  // namespace

std::string to_spice(const Element& e) {
  switch (e.kind) {
    case ElementKind::resistor:
      return fmt::format("{} {} {} {}", e.name, e.n_plus, e.n_minus, num(e.value));
    case ElementKind::capacitor:
      // IC= is the capacitor's voltage at t = 0 under `uic` (a warm start); none: 0 V.
      return e.initial_voltage
                 ? fmt::format("{} {} {} {} IC={}", e.name, e.n_plus, e.n_minus, num(e.value),
                               num(*e.initial_voltage))
                 : fmt::format("{} {} {} {}", e.name, e.n_plus, e.n_minus, num(e.value));
    case ElementKind::vccs:
    case ElementKind::opamp:
      return fmt::format("{} {} {} {} {} {}", e.name, e.n_plus, e.n_minus, e.c_plus, e.c_minus,
                         num(e.value));
    case ElementKind::current_source:
    case ElementKind::voltage_source:
      return fmt::format("{} {} {} dc {}", e.name, e.n_plus, e.n_minus, num(e.value));
    case ElementKind::noise_current:
      // TRRANDOM type 2: Gaussian, held TS = sample_time, no delay TD, standard deviation
      // `value`, mean 0; the DC value 0 is what an operating point would see.
      return fmt::format("{} {} {} dc 0 trrandom(2 {} 0 {} 0)", e.name, e.n_plus, e.n_minus,
                         num(e.sample_time), num(e.value));
  }
  return {};
}

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
  std::vector<std::string> nodes(netlist.unknowns.size());
  for (const Unknown& u : netlist.unknowns) nodes.at(static_cast<std::size_t>(u.index)) = u.node;
  return nodes;
}

Eigen::VectorXd read_out(const Netlist& netlist, const Eigen::VectorXd& voltages) {
  Eigen::VectorXd scales(static_cast<Eigen::Index>(netlist.unknowns.size()));
  for (const Unknown& u : netlist.unknowns) scales(u.index) = u.scale;
  return read_out(netlist, voltages, scales);
}

Eigen::VectorXd read_out(const Netlist& netlist, const Eigen::VectorXd& voltages,
                         const Eigen::VectorXd& scales) {
  if (voltages.size() != scales.size() ||
      voltages.size() != static_cast<Eigen::Index>(netlist.unknowns.size())) {
    throw std::logic_error("read_out: one voltage and one scale per unknown expected");
  }
  return scales.cwiseProduct(voltages);
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
  for (const Block& b : netlist.circuit.blocks) {
    fmt::format_to(line, "*\n");
    for (const std::string& c : b.comments) {
      if (c.empty()) {
        fmt::format_to(line, "*\n");
      } else {
        fmt::format_to(line, "* {}\n", c);
      }
    }
    for (const Element& e : b.elements) fmt::format_to(line, "{}\n", to_spice(e));
  }
  fmt::format_to(line, "*\n* --- simulator settings\n");
  for (const std::string& o : netlist.options) fmt::format_to(line, ".options {}\n", o);
  // `uic`: start from 0 V everywhere. Without it ngspice would first solve the DC operating
  // point, which is the answer itself, and nothing would relax.
  if (netlist.tran_max_step > 0) {
    fmt::format_to(line, ".tran {} {} 0 {} uic\n", num(netlist.tran_step), num(netlist.tran_stop),
                   num(netlist.tran_max_step));
  } else {
    fmt::format_to(line, ".tran {} {} uic\n", num(netlist.tran_step), num(netlist.tran_stop));
  }
  fmt::format_to(line, "*\n* --- read-out: final voltages (`ngspice -b` prints them)\n");
  const std::string at = num(read_out_time(netlist));
  for (const Unknown& u : netlist.unknowns) {
    fmt::format_to(line, ".meas tran tkfac_final_{} FIND v({}) AT={}\n", u.index, u.node, at);
  }
  fmt::format_to(line, ".end\n");
  return out;
}

}  // namespace tkfac::netlist_gen
