#pragma once
// Real parts instead of ideal ones (issue 12, docs/DESIGN.md section 6a): programmable
// conductances of B bits, B-bit DACs and ADCs, component mismatch and a single-pole op-amp.
// make_netlist and make_activation_netlist apply them from NetlistOptions; the functions here
// are the rules themselves, for tests and for people who want them alone.
//
//   auto q = tkfac::netlist_gen::quantize_matrix(m_hat, 8, Quantizer::conservative);
//   // q.matrix: every entry k / 255 (k integer), q.matrix - m_hat positive semidefinite
//   tkfac::netlist_gen::Converter adc{10, 2.0};         // 10 bits over [-2, 2] volts
//   double v = adc.convert(1.2345);                      // nearest of 1023 levels, |error| <= lsb/2
//
// Grids. A conductance of B bits is k g0 / (2^B - 1), k = 0 .. 2^B - 1 (binary-weighted unit
// conductances; k = 0 is no resistor): the entries of M_hat (|m_hat_ij| <= 1 under max_entry
// scaling) become multiples of delta = 1 / (2^B - 1). A converter of B bits has the 2^B - 1
// levels k lsb, |k| <= 2^(B-1) - 1, lsb = full_scale / (2^(B-1) - 1) (sign-magnitude, so 0 and
// +-full_scale are exact); values beyond +-full_scale clip to it and are counted.
#include <Eigen/Dense>
#include <cstdint>
#include <string_view>

namespace tkfac::netlist_gen {

struct Circuit;

enum class Quantizer {
  nearest,       // every entry to the nearest grid value (may lose definiteness)
  conservative,  // Funk et al. 2021: off-diagonals to the nearest value, each row's absolute
                 // rounding error added to its diagonal, the diagonal rounded up
};
Quantizer parse_quantizer(std::string_view text, std::string_view option = {});
std::string_view to_string(Quantizer quantizer);

struct QuantizedMatrix {
  Eigen::MatrixXd matrix;  // grid values (multiples of delta), symmetric if the input is
  double delta = 0.0;      // 1 / (2^bits - 1)
  int largest_code = 0;    // max_ij |matrix_ij| / delta (may exceed 2^bits - 1: see scale loop)
};

// Quantizes a symmetric matrix (entries in units of g0) to `bits` bits. Conservative: E =
// matrix - m is symmetric, |E_ij| <= delta / 2 off the diagonal, and its diagonal is at least
// the row's absolute off-diagonal sum (E_ii >= sum_{j != i} |E_ij|, below it by less than delta),
// so E is positive semidefinite (Gershgorin) with ||E||_2 <= (n - 1) delta + delta: the quantized
// matrix is never less definite than m, lambda_min(matrix) >= lambda_min(m). Nearest: |E_ij| <=
// delta / 2, ||E||_2 <= n delta / 2, and nothing more.
QuantizedMatrix quantize_matrix(const Eigen::MatrixXd& m, int bits, Quantizer quantizer);

// A B-bit converter over [-full_scale, full_scale] (see the grid above). bits 0: ideal (no
// rounding, no clipping).
struct Converter {
  int bits = 0;
  double full_scale = 1.0;

  bool ideal() const { return bits == 0; }
  double lsb() const;
  // The level nearest to v (v clipped to +-full_scale first).
  double convert(double v) const;
  bool clips(double v) const { return !ideal() && std::abs(v) > full_scale; }
  // Converts every entry in place; returns how many clipped.
  long convert_all(Eigen::Ref<Eigen::VectorXd> v) const;
};

// Multiplies the value of every resistor, capacitor and VCCS (a behavioral coupling stands for a
// conductance) by 1 + sigma z, z standard normal, drawn in file order from `seed` (a 64-bit
// Mersenne twister and a Box-Muller transform written out, so the draws do not depend on the
// standard library). sigma 0 changes nothing. Returns how many values changed.
long apply_mismatch(Circuit& circuit, double sigma, std::uint64_t seed);

// Replaces every op-amp (an ideal VCVS out = A (V(c+) - V(c-))) by a single-pole macromodel of
// DC gain A and gain-bandwidth product gbw (Hz): a transconductance G_<name>_gm = A / R into an
// internal node <name>_p loaded by R_<name>_p = R and C_<name>_p = A / (2 pi gbw R) (the pole at
// gbw / A), an input offset `offset` volts as the current A offset / R into the same node, and a
// unit-gain output buffer (the op-amp element itself, now from <name>_p). `resistance` is R.
// Returns how many op-amps it replaced.
int apply_opamp_macromodel(Circuit& circuit, double gbw, double offset, double resistance);

}  // namespace tkfac::netlist_gen
