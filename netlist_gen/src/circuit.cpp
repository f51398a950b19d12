#include "tkfac/netlist_gen/circuit.hpp"

#include <utility>

namespace tkfac::netlist_gen {

const char* to_string(ElementKind kind) {
  switch (kind) {
    case ElementKind::resistor:
      return "resistor";
    case ElementKind::capacitor:
      return "capacitor";
    case ElementKind::vccs:
      return "vccs";
    case ElementKind::opamp:
      return "opamp";
    case ElementKind::current_source:
      return "current_source";
    case ElementKind::voltage_source:
      return "voltage_source";
    case ElementKind::noise_current:
      return "noise_current";
  }
  return "unknown";
}

Element Element::resistor(std::string name, std::string a, std::string b, double ohms) {
  Element e;
  e.kind = ElementKind::resistor;
  e.name = std::move(name);
  e.n_plus = std::move(a);
  e.n_minus = std::move(b);
  e.value = ohms;
  return e;
}

Element Element::capacitor(std::string name, std::string a, std::string b, double farads,
                           std::optional<double> initial_voltage) {
  Element e;
  e.kind = ElementKind::capacitor;
  e.name = std::move(name);
  e.n_plus = std::move(a);
  e.n_minus = std::move(b);
  e.value = farads;
  e.initial_voltage = initial_voltage;
  return e;
}

Element Element::vccs(std::string name, std::string out_p, std::string out_n, std::string in_p,
                      std::string in_n, double siemens) {
  Element e;
  e.kind = ElementKind::vccs;
  e.name = std::move(name);
  e.n_plus = std::move(out_p);
  e.n_minus = std::move(out_n);
  e.c_plus = std::move(in_p);
  e.c_minus = std::move(in_n);
  e.value = siemens;
  return e;
}

Element Element::opamp(std::string name, std::string out, std::string in_p, std::string in_n,
                       double gain) {
  Element e;
  e.kind = ElementKind::opamp;
  e.name = std::move(name);
  e.n_plus = std::move(out);
  // Constructed, not assigned from the literal: GCC 12 warns (-Wrestrict, a false positive of its
  // inlined string assignment) on `e.n_minus = "0"`.
  e.n_minus = std::string("0");
  e.c_plus = std::move(in_p);
  e.c_minus = std::move(in_n);
  e.value = gain;
  return e;
}

Element Element::current_source(std::string name, std::string from, std::string into,
                                double amps) {
  Element e;
  e.kind = ElementKind::current_source;
  e.name = std::move(name);
  e.n_plus = std::move(from);
  e.n_minus = std::move(into);
  e.value = amps;
  return e;
}

Element Element::voltage_source(std::string name, std::string plus, std::string minus,
                                double volts) {
  Element e;
  e.kind = ElementKind::voltage_source;
  e.name = std::move(name);
  e.n_plus = std::move(plus);
  e.n_minus = std::move(minus);
  e.value = volts;
  return e;
}

Element Element::noise_current(std::string name, std::string from, std::string into,
                               double rms_amps, double sample_time) {
  Element e;
  e.kind = ElementKind::noise_current;
  e.name = std::move(name);
  e.n_plus = std::move(from);
  e.n_minus = std::move(into);
  e.value = rms_amps;
  e.sample_time = sample_time;
  return e;
}

Block& Circuit::add_block(std::vector<std::string> comments) {
  blocks.push_back(Block{std::move(comments), {}});
  return blocks.back();
}

std::size_t Circuit::element_count() const {
  std::size_t n = 0;
  for (const Block& b : blocks) n += b.elements.size();
  return n;
}

std::vector<const Element*> Circuit::all_elements() const {
  std::vector<const Element*> out;
  for (const Block& b : blocks) {
    for (const Element& e : b.elements) out.push_back(&e);
  }
  return out;
}

const Element* Circuit::find(const std::string& name) const {
  for (const Block& b : blocks) {
    for (const Element& e : b.elements) {
      if (e.name == name) return &e;
    }
  }
  return nullptr;
}

Element* Circuit::find(const std::string& name) {
  return const_cast<Element*>(static_cast<const Circuit&>(*this).find(name));
}

ComponentCounts count_components(const Circuit& circuit) {
  ComponentCounts c;
  for (const Block& b : circuit.blocks) {
    for (const Element& e : b.elements) {
      switch (e.kind) {
        case ElementKind::resistor:
          ++c.resistors;
          break;
        case ElementKind::capacitor:
          ++c.capacitors;
          break;
        case ElementKind::opamp:
          ++c.amplifiers;
          break;
        case ElementKind::vccs:
          ++c.controlled_sources;
          break;
        case ElementKind::current_source:
        case ElementKind::voltage_source:
        case ElementKind::noise_current:
          ++c.sources;
          break;
      }
    }
  }
  return c;
}

}  // namespace tkfac::netlist_gen
