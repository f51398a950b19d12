#pragma once
// A circuit as data: typed elements (kind, nodes, value) grouped in commented blocks. Encoders
// emit elements; one writer (netlist.hpp, to_spice) renders them as SPICE cards; the hardware
// report counts them; quantization and mismatch act on their values; the `ou` twin reads its
// linear dynamics from them (circuit_dynamics.hpp).
//
//   tkfac::netlist_gen::Circuit c;
//   auto& blk = c.add_block({"--- capacitors: C_i from x_i to ground"});
//   blk.elements.push_back(tkfac::netlist_gen::Element::capacitor("C_0", "x_0", "0", 1e-9));
//   for (const auto* e : c.all_elements()) { /* e->kind, e->n_plus, e->value */ }
//   int capacitors = tkfac::netlist_gen::count_components(c).capacitors;   // 1
//
// Node "0" is ground. Values are SI: ohms, farads, siemens, volts/volt, amps, volts.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace tkfac::netlist_gen {

enum class ElementKind {
  resistor,        // R name n+ n- value(ohms)
  capacitor,       // C name n+ n- value(farads) [IC=initial_voltage]
  vccs,            // G name n+ n- c+ c- value(siemens): current value*(V(c+)-V(c-)) from n+ to n-
                   //   through the element (i.e. drawn out of n+, injected into n-)
  opamp,           // E name out 0 c+ c- value(gain): V(out) - V(0) = value*(V(c+)-V(c-)), an ideal
                   //   voltage-controlled voltage source (the encodings' op-amps)
  current_source,  // I name n+ n- dc value(amps): flows from n+ through the source into n-
  voltage_source,  // V name n+ n- dc value(volts): V(n+) - V(n-) = value
  noise_current,   // I name n+ n- dc 0 trrandom(2 sample_time 0 value 0): a Gaussian current of
                   //   rms `value` amps held for sample_time seconds, from n+ into n-
};

// Element kinds as words (for reports and messages): "resistor", "capacitor", ...
const char* to_string(ElementKind kind);

struct Element {
  ElementKind kind = ElementKind::resistor;
  std::string name;         // full SPICE name, first letter matching the kind: R_3_7, C_3, ...
  std::string n_plus;       // first terminal (output + for opamp)
  std::string n_minus;      // second terminal (output - for opamp: always "0" in our encodings)
  std::string c_plus;       // controlling + node (vccs, opamp only)
  std::string c_minus;      // controlling - node (vccs, opamp only)
  double value = 0.0;       // see ElementKind
  std::optional<double> initial_voltage;  // capacitor only: IC=, V(n+) - V(n-) at t = 0 (uic)
  double sample_time = 0.0;               // noise_current only: TRRANDOM hold time, seconds

  static Element resistor(std::string name, std::string a, std::string b, double ohms);
  static Element capacitor(std::string name, std::string a, std::string b, double farads,
                           std::optional<double> initial_voltage = std::nullopt);
  static Element vccs(std::string name, std::string out_p, std::string out_n, std::string in_p,
                      std::string in_n, double siemens);
  static Element opamp(std::string name, std::string out, std::string in_p, std::string in_n,
                       double gain);
  static Element current_source(std::string name, std::string from, std::string into,
                                double amps);
  static Element voltage_source(std::string name, std::string plus, std::string minus,
                                double volts);
  static Element noise_current(std::string name, std::string from, std::string into,
                               double rms_amps, double sample_time);
};

// A group of elements opened by comment lines (rendered "*", then "* <line>" each, an empty line
// as "*"), e.g. {"--- capacitors: ...", "    (continued)"}.
struct Block {
  std::vector<std::string> comments;
  std::vector<Element> elements;
};

struct Circuit {
  std::vector<Block> blocks;

  // The new last block (the reference, like those to earlier blocks, is invalidated by the next
  // add_block: fill one block before opening the next).
  Block& add_block(std::vector<std::string> comments);
  // Number of elements over all blocks (the element cards of the rendered file).
  std::size_t element_count() const;
  // Every element, in file order (copies of pointers into blocks; invalidated by add_block).
  std::vector<const Element*> all_elements() const;
  // The element named `name`, or nullptr.
  const Element* find(const std::string& name) const;
  Element* find(const std::string& name);
};

// The components a builder of the circuit buys, by kind.
struct ComponentCounts {
  int resistors = 0;   // resistor
  int capacitors = 0;  // capacitor
  int amplifiers = 0;  // opamp: the op-amps (VCVS) of the integrator and activation encodings
  int controlled_sources = 0;  // vccs: the couplings of the behavioral encoding
  int sources = 0;             // current_source, voltage_source, noise_current (inputs, noise)
};

// The one count of a circuit's components: every element by its kind, as listed above.
ComponentCounts count_components(const Circuit& circuit);

}  // namespace tkfac::netlist_gen
