#include "tkfac/netlist_gen/netlist.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <stdexcept>

#include "tkfac/core/error.hpp"
#include "tkfac/core/text.hpp"

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

namespace {

// The writer's guard: a value a simulator cannot use (inf, NaN; a zero or negative R or C; a
// zero time) means the matrix, right-hand side or options went beyond double precision upstream
// (a subnormal entry's resistor R / |m| is inf; 1e300 ohms * 1e300 farads is an inf time
// constant). Refused here, where every netlist passes, rather than written as `inf` or `.tran 0 0`.
void check_values(const Netlist& netlist) {
  const auto refuse = [](const std::string& what, double v) {
    throw InputError(fmt::format(
        "netlist: {} would be {:g}; expected a finite positive value (the matrix, the "
        "right-hand side or the circuit's resistance and capacitance are beyond double "
        "precision: rescale them)",
        what, v));
  };
  for (const Block& b : netlist.circuit.blocks) {
    for (const Element& e : b.elements) {
      const bool positive =
          e.kind == ElementKind::resistor || e.kind == ElementKind::capacitor;
      if (!std::isfinite(e.value) || (positive && !(e.value > 0.0))) {
        refuse(fmt::format("element {}'s value", e.name), e.value);
      }
      if (e.kind == ElementKind::noise_current &&
          !(std::isfinite(e.sample_time) && e.sample_time > 0.0)) {
        refuse(fmt::format("element {}'s noise sample time", e.name), e.sample_time);
      }
    }
  }
  for (const Unknown& u : netlist.unknowns) {
    if (!std::isfinite(u.scale) || u.scale == 0.0) {
      refuse(fmt::format("the read-out scale of unknown {}", u.index), u.scale);
    }
  }
  for (const auto& [what, v] : {std::pair<const char*, double>{"the simulated time (.tran stop)",
                                                               netlist.tran_stop},
                                {"the .tran step", netlist.tran_step}}) {
    if (!std::isfinite(v) || !(v > 0.0)) refuse(what, v);
  }
  if (!std::isfinite(netlist.tran_max_step) || netlist.tran_max_step < 0.0) {
    refuse("the maximum time step", netlist.tran_max_step);
  }
}

// The analysis cards every runnable form ends with: .options, .tran and the read-out .meas lines.
void top_level_analysis(std::back_insert_iterator<std::string> line, const Netlist& netlist);
}  // namespace

std::string to_spice(const Netlist& netlist) {
  check_values(netlist);
  std::string out;
  auto line = std::back_inserter(out);
  // Title, header and comments hold outside text (a checkpoint's path): printable_text keeps
  // each one line, so none can start a card of its own (.control, shell, an element).
  fmt::format_to(line, "{}\n", printable_text(netlist.title));
  for (const std::string& h : netlist.header) {
    if (h.empty()) {
      fmt::format_to(line, "*\n");
    } else {
      fmt::format_to(line, "* {}\n", printable_text(h));
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
        fmt::format_to(line, "* {}\n", printable_text(c));
      }
    }
    for (const Element& e : b.elements) fmt::format_to(line, "{}\n", to_spice(e));
  }
  top_level_analysis(line, netlist);
  fmt::format_to(line, ".end\n");
  return out;
}

NetlistForm parse_netlist_form(const std::string& text, const std::string& option) {
  if (text == "flat") return NetlistForm::flat;
  if (text == "subckt") return NetlistForm::subckt;
  if (text == "library") return NetlistForm::library;
  throw InputError(fmt::format("{}: '{}' is not flat, subckt or library", option, text));
}

std::string subckt_name(const Netlist& netlist) {
  return fmt::format("tkfac_{}_{}", netlist.encoding, netlist.summary.size);
}

namespace {

// A value as a multiple of a parameter: {res*1.5}, {cap}, ... (the factor in shortest
// round-trip form; exactly the parameter when the factor is 1).
std::string scaled(const std::string& param, double factor) {
  if (factor == 1.0) return fmt::format("{{{}}}", param);
  return fmt::format("{{{}*{}}}", param, num(factor));
}

// The card of an element inside the subcircuit: R, C, the op-amps' gain and the conductances
// and currents set by g0 = 1/R follow the parameters res, cap and gain.
std::string subckt_card(const Element& e, double r0, double c0, double a0) {
  switch (e.kind) {
    case ElementKind::resistor:
      return fmt::format("{} {} {} {}", e.name, e.n_plus, e.n_minus, scaled("res", e.value / r0));
    case ElementKind::capacitor:
      return e.initial_voltage
                 ? fmt::format("{} {} {} {} IC={}", e.name, e.n_plus, e.n_minus,
                               scaled("cap", e.value / c0), num(*e.initial_voltage))
                 : fmt::format("{} {} {} {}", e.name, e.n_plus, e.n_minus,
                               scaled("cap", e.value / c0));
    case ElementKind::vccs:
      // g0 m_hat_ij = m_hat_ij / R
      return fmt::format("{} {} {} {} {} {{{}/res}}", e.name, e.n_plus, e.n_minus, e.c_plus,
                         e.c_minus, num(e.value * r0));
    case ElementKind::opamp:
      return fmt::format("{} {} {} {} {} {}", e.name, e.n_plus, e.n_minus, e.c_plus, e.c_minus,
                         a0 > 0 ? scaled("gain", e.value / a0) : num(e.value));
    case ElementKind::current_source:
      // g0 b_hat_i = b_hat_i / R
      return fmt::format("{} {} {} dc {{{}/res}}", e.name, e.n_plus, e.n_minus, num(e.value * r0));
    case ElementKind::voltage_source:
    case ElementKind::noise_current:
      return to_spice(e);  // DAC volts; noise rms (set for the generated R, C: see the header)
  }
  return {};
}

void comment_lines(std::back_insert_iterator<std::string> line,
                   const std::vector<std::string>& lines) {
  for (const std::string& c : lines) {
    if (c.empty()) {
      fmt::format_to(line, "*\n");
    } else {
      fmt::format_to(line, "* {}\n", printable_text(c));
    }
  }
}

void control_block(std::back_insert_iterator<std::string> line, const Netlist& netlist,
                   const std::string& file) {
  fmt::format_to(line, "*\n* --- control: run, then write time and the unknowns' voltages\n");
  fmt::format_to(line, "*     (columns: t, V(node) per unknown, in index order; x = scale * V)\n");
  fmt::format_to(line, ".control\nrun\nset wr_singlescale\nset wr_vecnames\nwrdata {}",
                 printable_text(file));
  for (const std::string& node : unknown_nodes(netlist)) fmt::format_to(line, " v({})", node);
  // quit: ngspice -b would otherwise run the .tran a second time after the control block.
  fmt::format_to(line, "\nquit\n.endc\n");
}

void top_level_analysis(std::back_insert_iterator<std::string> line, const Netlist& netlist) {
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
}

}  // namespace

std::string to_spice(const Netlist& netlist, const RenderOptions& render) {
  check_values(netlist);
  if (render.form == NetlistForm::flat) {
    std::string text = to_spice(netlist);
    if (!render.control) return text;
    // Before .end.
    text.resize(text.size() - std::string(".end\n").size());
    std::string tail;
    control_block(std::back_inserter(tail), netlist, render.wrdata_file);
    return text + tail + ".end\n";
  }
  const double r0 = netlist.summary.resistance, c0 = netlist.summary.capacitance;
  double a0 = 0.0;  // the op-amps' gain (every op-amp of an encoding has the same)
  for (const Element* e : netlist.circuit.all_elements()) {
    if (e->kind == ElementKind::opamp) {
      a0 = e->value;
      break;
    }
  }
  const std::vector<std::string> nodes = unknown_nodes(netlist);
  const std::string name = subckt_name(netlist);
  std::string out;
  auto line = std::back_inserter(out);
  // A comment first: the title when run, a comment when `.include`d.
  fmt::format_to(line, "* {}\n", printable_text(netlist.title));
  comment_lines(line, netlist.header);
  fmt::format_to(line, "*\n* Composable form: the circuit is the subcircuit {} with ports the\n", name);
  fmt::format_to(line, "* unknowns' nodes ({}) and parameters res (R, ohms), cap (C, farads)\n",
                 fmt::join(nodes, " "));
  fmt::format_to(line, "* and gain (op-amp gain A); ground is node 0. Resistances, conductances\n");
  fmt::format_to(line, "* and input currents scale with res, capacitors with cap, op-amps with\n");
  fmt::format_to(line, "* gain; the resistor trimming for the finite gain and any noise sources\n");
  fmt::format_to(line, "* are those of the generated values (res={}, cap={}, gain={}).\n", num(r0),
                 num(c0), num(a0));
  fmt::format_to(line, "* Use: .include this file, then  X1 {} {}\n", fmt::join(nodes, " "), name);
  for (const Unknown& u : netlist.unknowns) {
    fmt::format_to(line, "* tkfac-unknown {} {} {:.17g}\n", u.index, u.node, u.scale);
  }
  fmt::format_to(line, "*\n.subckt {} {} params: res={} cap={} gain={}\n", name,
                 fmt::join(nodes, " "), num(r0), num(c0), num(a0 > 0 ? a0 : 1.0));
  for (const Block& b : netlist.circuit.blocks) {
    fmt::format_to(line, "*\n");
    comment_lines(line, b.comments);
    for (const Element& e : b.elements) {
      fmt::format_to(line, "{}\n", subckt_card(e, r0, c0, a0));
    }
  }
  fmt::format_to(line, ".ends {}\n", name);
  if (render.form == NetlistForm::library) return out;
  fmt::format_to(line, "*\n* --- top level: the subcircuit on nodes named as the unknowns\n");
  fmt::format_to(line, "X_tkfac {} {}\n", fmt::join(nodes, " "), name);
  top_level_analysis(line, netlist);
  if (render.control) control_block(line, netlist, render.wrdata_file);
  fmt::format_to(line, ".end\n");
  return out;
}

}  // namespace tkfac::netlist_gen
