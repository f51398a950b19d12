// netlist_gen: validation, rendering, golden netlists, and the netlists run by the `ngspice`
// program itself (`ngspice -b`), read back and compared with a direct solve.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "ngspice_helpers.hpp"
#include "test_util.hpp"
#include "tkfac/core/csv.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/netlist_gen/activation.hpp"
#include "tkfac/netlist_gen/encoding.hpp"
#include "tkfac/netlist_gen/netlist.hpp"
#include "tkfac/netlist_gen/report.hpp"

namespace ng = tkfac::netlist_gen;
using tkfac::test::contains;
using tkfac::test::lines_of;
using tkfac::test::read_text;
using tkfac::test::write_text;
using tkfac::test::run_ngspice_clean;
using tkfac::test::run_ngspice;
using tkfac::test::check_clean;
using tkfac::test::parse_unknowns;
using tkfac::test::parse_values;
using tkfac::test::solution_from_meas;
using tkfac::test::with_full_precision_readout;
using tkfac::test::solution_full_precision;

namespace {

// The message of the InputError that `f` throws; fails the test if it throws nothing or
// something else.
std::string input_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const tkfac::InputError& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL("expected tkfac::InputError, got another exception: " << e.what());
  }
  FAIL("expected tkfac::InputError, nothing was thrown");
  return {};
}

#define CHECK_INPUT_ERROR(expr, ...)                                               \
  do {                                                                             \
    const std::string tkfac_msg_ = input_error_of([&] { (void)(expr); });          \
    for (const std::string& tkfac_part_ : std::vector<std::string>{__VA_ARGS__}) { \
      INFO("message: " << tkfac_msg_ << "\nexpected to contain: " << tkfac_part_); \
      CHECK(contains(tkfac_msg_, tkfac_part_));                                    \
    }                                                                              \
  } while (0)

int count_prefix(const std::string& text, const std::string& prefix) {
  int n = 0;
  for (const std::string& line : lines_of(text)) n += line.rfind(prefix, 0) == 0 ? 1 : 0;
  return n;
}

// The element cards of a rendered netlist, in order: every line after the title that is not a
// comment (*) or a control line (.options, .tran, .meas, .end).
std::vector<std::string> element_cards(const std::string& text) {
  std::vector<std::string> out;
  const std::vector<std::string> lines = lines_of(text);
  for (std::size_t k = 1; k < lines.size(); ++k) {
    const std::string& line = lines[k];
    if (!line.empty() && line[0] != '*' && line[0] != '.') out.push_back(line);
  }
  return out;
}

// A card's whitespace-separated fields.
std::vector<std::string> fields_of(const std::string& card) {
  std::istringstream in(card);
  std::vector<std::string> out;
  for (std::string f; in >> f;) out.push_back(f);
  return out;
}

// The double a card field spells, all of it (NaN if it is not one number).
double number_of(const std::string& field) {
  char* end = nullptr;
  const double v = std::strtod(field.c_str(), &end);
  return end == field.c_str() + field.size() && !field.empty()
             ? v
             : std::numeric_limits<double>::quiet_NaN();
}

// A file in the temporary directory, unique across the processes ctest runs in parallel, removed
// when the test ends.
class TempFile {
 public:
  explicit TempFile(const std::string& stem) {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            fmt::format("tkfac_netlist_gen_{}_{}_{}.cir", stem, ::getpid(), counter++);
  }
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

Eigen::MatrixXd damped(const Eigen::MatrixXd& m, double damping) {
  Eigen::MatrixXd out = m;
  out.diagonal().array() += damping;
  return out;
}

// Where the integrator encoding settles with op-amps of finite gain A (derivation in
// encoding.cpp): Kirchhoff at each summing node s_i = -V_i / A, with the inverters giving
// -V_j / (1 + 2/A), gives M_eff V = b_hat with M_eff = M_hat (negative entries divided by
// 1 + 2/A) + diag(sum_j |m_hat_ij| + 1) / A.
Eigen::VectorXd integrator_equilibrium(const Eigen::MatrixXd& m, const Eigen::VectorXd& b,
                                       const ng::NetlistOptions& o, const ng::Netlist& nl) {
  const Eigen::MatrixXd m_hat = damped(m, o.damping) / nl.summary.matrix_scale;
  const double a = o.opamp_gain;
  Eigen::MatrixXd m_eff = m_hat;
  for (Eigen::Index i = 0; i < m_hat.rows(); ++i) {
    for (Eigen::Index j = 0; j < m_hat.cols(); ++j) {
      if (m_hat(i, j) < 0) m_eff(i, j) = m_hat(i, j) / (1.0 + 2.0 / a);
    }
    m_eff(i, i) += (m_hat.row(i).cwiseAbs().sum() + 1.0) / a;
  }
  const Eigen::VectorXd b_hat = b / nl.summary.rhs_scale;
  const Eigen::VectorXd v = m_eff.partialPivLu().solve(b_hat);
  return (nl.summary.rhs_scale / nl.summary.matrix_scale) * v;
}

const std::filesystem::path kCircuits = std::filesystem::path(TKFAC_SOURCE_DIR) / "circuits";

Eigen::MatrixXd golden_m() {
  return tkfac::read_csv_matrix((kCircuits / "system3_M.csv").string());
}
Eigen::VectorXd golden_b() {
  return tkfac::read_csv_matrix((kCircuits / "system3_b.csv").string()).col(0);
}

Eigen::MatrixXd tridiagonal4() {
  Eigen::MatrixXd m(4, 4);
  m << 2, -1, 0, 0,  //
      -1, 2, -1, 0,  //
      0, -1, 2, -1,  //
      0, 0, -1, 2;
  return m;
}

}  // namespace

TEST_CASE("netlist_gen: validate_spd rejects bad matrices with a message naming the problem") {
  Eigen::MatrixXd spd(2, 2);
  spd << 2, 0.5, 0.5, 1;
  CHECK_NOTHROW(ng::validate_spd(spd, 0.0, "M"));

  CHECK_INPUT_ERROR(ng::validate_spd(Eigen::MatrixXd::Ones(2, 3), 0.0, "M_factor"), "M_factor",
                    "2x3", "square");
  CHECK_INPUT_ERROR(ng::validate_spd(Eigen::MatrixXd(0, 0), 0.0, "M"), "M:", "square");

  Eigen::MatrixXd nan = spd;
  nan(1, 0) = std::nan("");
  CHECK_INPUT_ERROR(ng::validate_spd(nan, 0.0, "M"), "M:", "(1, 0)", "nan", "finite");
  Eigen::MatrixXd inf = spd;
  inf(0, 0) = std::numeric_limits<double>::infinity();
  CHECK_INPUT_ERROR(ng::validate_spd(inf, 0.0, "M"), "M:", "inf", "finite");

  // Symmetric within 1e-12 relative: |m_ij - m_ji| <= 1e-12 * max|m| (max|m| = 2 here).
  Eigen::MatrixXd nearly = spd;
  nearly(0, 1) += 1e-12;
  CHECK_NOTHROW(ng::validate_spd(nearly, 0.0, "M"));
  Eigen::MatrixXd asym = spd;
  asym(0, 1) += 1e-11;
  CHECK_INPUT_ERROR(ng::validate_spd(asym, 0.0, "M"), "M:", "not symmetric", "1e-12");

  Eigen::MatrixXd indefinite(2, 2);
  indefinite << 1, 2, 2, 1;  // eigenvalues 3 and -1
  CHECK_INPUT_ERROR(ng::validate_spd(indefinite, 0.0, "M"), "M:", "not positive definite", "-1");
  CHECK_INPUT_ERROR(ng::validate_spd(indefinite, 1.0, "M"), "not positive definite");  // 0
  CHECK_NOTHROW(ng::validate_spd(indefinite, 1.5, "M"));  // damping makes it PD
  CHECK_INPUT_ERROR(ng::validate_spd(spd, -1.0, "M"), "damping");
}

TEST_CASE("netlist_gen: make_netlist checks M, b and the options") {
  Eigen::MatrixXd m(2, 2);
  m << 2, 0.5, 0.5, 1;
  const ng::NetlistOptions o;
  CHECK_INPUT_ERROR(ng::make_netlist(m, Eigen::VectorXd::Ones(3), o), "b:", "3 entries",
                    "expected 2");
  Eigen::VectorXd b_nan = Eigen::VectorXd::Ones(2);
  b_nan(1) = std::nan("");
  CHECK_INPUT_ERROR(ng::make_netlist(m, b_nan, o), "b:", "entry 1", "finite");
  CHECK_INPUT_ERROR(ng::make_netlist(Eigen::MatrixXd::Ones(2, 3), Eigen::VectorXd(), o),
                    "M:", "square");
  Eigen::MatrixXd indefinite(2, 2);
  indefinite << 1, 2, 2, 1;
  CHECK_INPUT_ERROR(ng::make_netlist(indefinite, Eigen::VectorXd(), o), "not positive definite");
  ng::NetlistOptions damped_options;
  damped_options.damping = 1.5;
  CHECK_NOTHROW(ng::make_netlist(indefinite, Eigen::VectorXd(), damped_options));
  ng::NetlistOptions bad;
  bad.resistance = 0;
  CHECK_INPUT_ERROR(ng::make_netlist(m, Eigen::VectorXd(), bad), "resistance");
  // Noise is implemented (thermo_test covers it); a time step above the noise sample time is not.
  ng::NetlistOptions noisy;
  noisy.noise_variance = 1e-3;
  noisy.noise_sample_time = 1e-8;
  noisy.max_step = 2e-8;
  CHECK_INPUT_ERROR(ng::make_netlist(m, Eigen::VectorXd(), noisy), "max_step",
                    "noise sample time");
}

TEST_CASE("netlist_gen: make_netlist refuses the activation encoding and says where it is built") {
  // A valid option (validate() accepts it), but make_netlist has a matrix, not an array: every
  // caller (tkfac netlist --matrix, tkfac solve, the spice backend, K-FAC) gets this message.
  Eigen::MatrixXd m(2, 2);
  m << 2, 0.5, 0.5, 1;
  ng::NetlistOptions o;
  o.encoding = ng::Encoding::activation;
  CHECK_NOTHROW(o.validate());
  CHECK_INPUT_ERROR(ng::make_netlist(m, Eigen::VectorXd(), o), "activation array",
                    "make_activation_netlist", "--activations", "--model");
}

TEST_CASE("netlist_gen: NetlistOptions::validate names the field") {
  CHECK_NOTHROW(ng::NetlistOptions{}.validate());
  const double nan = std::nan("");
  const double inf = std::numeric_limits<double>::infinity();
  struct Case {
    std::function<void(ng::NetlistOptions&)> set;
    std::string field;
  };
  const std::vector<Case> cases = {
      {[](auto& o) { o.resistance = 0; }, "resistance"},
      {[](auto& o) { o.resistance = -1e3; }, "resistance"},
      {[&](auto& o) { o.resistance = nan; }, "resistance"},
      {[](auto& o) { o.capacitance = 0; }, "capacitance"},
      {[&](auto& o) { o.capacitance = inf; }, "capacitance"},
      {[](auto& o) { o.opamp_gain = 0; }, "opamp_gain"},
      {[](auto& o) { o.target_rel_error = 0; }, "target_rel_error"},
      {[](auto& o) { o.target_rel_error = 1; }, "target_rel_error"},
      {[](auto& o) { o.sim_time = -1e-6; }, "sim_time"},
      {[&](auto& o) { o.sim_time = inf; }, "sim_time"},
      {[](auto& o) { o.damping = -0.1; }, "damping"},
      {[&](auto& o) { o.damping = inf; }, "damping"},
      {[](auto& o) { o.input_full_scale = 0; }, "input_full_scale"},
      {[](auto& o) { o.noise_variance = -1; }, "noise_variance"},
      {[&](auto& o) { o.noise_variance = nan; }, "noise_variance"},
  };
  for (const Case& c : cases) {
    ng::NetlistOptions o;
    c.set(o);
    CHECK_INPUT_ERROR(o.validate(), c.field, "expected");
  }
}

TEST_CASE("netlist_gen: parse_encoding and parse_scaling") {
  CHECK(ng::parse_encoding("behavioral") == ng::Encoding::behavioral);
  CHECK(ng::parse_encoding("integrator") == ng::Encoding::integrator);
  CHECK(ng::to_string(ng::Encoding::integrator) == "integrator");
  CHECK(ng::parse_encoding(ng::to_string(ng::Encoding::behavioral)) == ng::Encoding::behavioral);
  CHECK(ng::parse_encoding("activation") == ng::Encoding::activation);
  CHECK(ng::to_string(ng::Encoding::activation) == "activation");
  CHECK_INPUT_ERROR(ng::parse_encoding("resistive"), "--encoding", "resistive", "behavioral",
                    "integrator", "activation");
  CHECK_INPUT_ERROR(ng::parse_encoding("Behavioral", "encoding="), "encoding=");
  CHECK(ng::parse_scaling("max_entry") == ng::Scaling::max_entry);
  CHECK(ng::parse_scaling("none") == ng::Scaling::none);
  CHECK(ng::to_string(ng::Scaling::none) == "none");
  CHECK_INPUT_ERROR(ng::parse_scaling("trace"), "--scaling", "trace", "max_entry", "none");
}

TEST_CASE("netlist_gen: rendering is deterministic and carries the read-out lines") {
  std::mt19937_64 rng(11);
  const Eigen::MatrixXd m = tkfac::test::random_spd(5, 20.0, rng, 3.0);
  const Eigen::VectorXd b = tkfac::test::random_vector(5, rng);
  for (const auto encoding : {ng::Encoding::behavioral, ng::Encoding::integrator}) {
    CAPTURE(ng::to_string(encoding));
    ng::NetlistOptions o;
    o.encoding = encoding;
    const ng::Netlist nl = ng::make_netlist(m, b, o);
    const std::string text = ng::to_spice(nl);
    const Eigen::MatrixXd m_copy = m;
    const Eigen::VectorXd b_copy = b;
    CHECK(ng::to_spice(ng::make_netlist(m_copy, b_copy, o)) == text);

    const auto lines = lines_of(text);
    REQUIRE(!lines.empty());
    CHECK(lines.front() == nl.title);
    CHECK(lines.back() == ".end");
    const double scale = nl.summary.rhs_scale / nl.summary.matrix_scale;
    CHECK(scale == doctest::Approx(b.cwiseAbs().maxCoeff() / m.cwiseAbs().maxCoeff()));
    const std::string node = encoding == ng::Encoding::behavioral ? "x" : "o";
    for (int i = 0; i < 5; ++i) {
      CHECK(contains(text, fmt::format("\n* tkfac-unknown {} {}_{} {:.17g}\n", i, node, i, scale)));
      CHECK(
          contains(text, fmt::format("\n.meas tran tkfac_final_{} FIND v({}_{}) AT=", i, node, i)));
      CHECK(nl.unknowns[static_cast<std::size_t>(i)].scale == scale);
    }
    CHECK(count_prefix(text, "* tkfac-unknown ") == 5);
    // Read-out lines come before the elements, the .meas lines after the .tran card.
    CHECK(text.find("* tkfac-unknown") < text.find("\nC_0 "));
    CHECK(text.find(".tran ") < text.find(".meas "));
    CHECK(contains(
        text, fmt::format(".tran {} {} 0 {} uic\n", nl.tran_step, nl.tran_stop, nl.tran_max_step)));
    // Header: what is encoded, scales, tau, sim time, counts.
    for (const char* part : {"Encoding: ", "condition number", "alpha_min",
                             "s_M = ", "s_b = ", "x_i = scale * V(node_i)",
                             "Predicted tau = R C / alpha_min", "Simulated time", "Components: "}) {
      CHECK_MESSAGE(contains(text, part), part);
    }
    CHECK(nl.summary.predicted_tau == doctest::Approx(1e-6 / nl.summary.alpha_min));
    CHECK(nl.summary.sim_time >= nl.summary.predicted_tau * std::log(1e6));
    CHECK(nl.tran_max_step <= 0.25 * nl.summary.predicted_tau);
    if (encoding == ng::Encoding::behavioral) {
      CHECK(nl.summary.finite_gain_error == 0.0);
    } else {
      // Trimmed for the gain by default: no finite-gain error left to report.
      CHECK(nl.summary.finite_gain_error == 0.0);
      CHECK(contains(text, "Op-amp gain A = 1e+06: resistors trimmed for it"));
    }
    CHECK(ng::read_out_time(nl) < nl.tran_stop);
    CHECK(ng::read_out_time(nl) > nl.tran_stop - 1e-2 * nl.tran_max_step);
  }
}

TEST_CASE("netlist_gen: every header ends with the hardware report of its own elements") {
  std::mt19937_64 rng(5);
  const Eigen::MatrixXd m = tkfac::test::random_spd(3, 10.0, rng, 3.0);
  const Eigen::VectorXd b = tkfac::test::random_vector(3, rng);
  for (const auto encoding : {ng::Encoding::behavioral, ng::Encoding::integrator}) {
    for (const double beta_inv : {0.0, 1e-3}) {
      CAPTURE(ng::to_string(encoding));
      CAPTURE(beta_inv);
      ng::NetlistOptions o;
      o.encoding = encoding;
      o.noise_variance = beta_inv;
      const ng::Netlist nl = ng::make_netlist(m, b, o);
      const std::vector<std::string> expected = ng::report_lines(ng::hardware_report(nl));
      const auto at = std::find(nl.header.begin(), nl.header.end(), "Hardware report:");
      REQUIRE(at != nl.header.end());
      // The report is last (followed by one blank line) and counts every element card.
      CHECK(std::vector<std::string>(at + 1, nl.header.end() - 1) == expected);
      CHECK(nl.header.back().empty());
      CHECK(contains(ng::to_spice(nl), "* Hardware report:\n*   encoding " + nl.encoding));
      const long cards = static_cast<long>(element_cards(ng::to_spice(nl)).size());
      CHECK(ng::hardware_report(nl).elements == cards);
    }
  }
}

TEST_CASE("netlist_gen: each element card renders one typed element, value exact, counts equal") {
  // n = 3 (odd: the noise pad), negative and zero entries (inverters, missing elements).
  Eigen::MatrixXd m(3, 3);
  m << 3.1, -0.7, 0.0, -0.7, 2.3, 0.45, 0.0, 0.45, 1.7;
  Eigen::VectorXd b(3);
  b << 0.3, 0.0, -1.9;
  Eigen::MatrixXd a(3, 4);  // the activation array: negative, zero and positive entries
  a << 0.8, -0.3, 0.0, 1.1, 0.0, 0.6, -0.9, 0.2, -0.4, 0.0, 0.7, 0.5;
  Eigen::VectorXd v0(3);
  v0 << 0.25, 0.0, -0.6;
  struct Case {
    ng::Encoding encoding;
    double noise;
    bool warm;
  };
  std::vector<Case> cases;
  for (const auto e :
       {ng::Encoding::behavioral, ng::Encoding::integrator, ng::Encoding::activation}) {
    cases.push_back({e, 0.0, false});
    cases.push_back({e, 1e-3, false});
    cases.push_back({e, 0.0, true});
  }
  for (const Case& c : cases) {
    CAPTURE(ng::to_string(c.encoding));
    CAPTURE(c.noise);
    CAPTURE(c.warm);
    ng::NetlistOptions o;
    o.encoding = c.encoding;
    o.noise_variance = c.noise;
    o.damping = 0.05;
    if (c.warm) o.initial_state = v0;
    const ng::Netlist nl = c.encoding == ng::Encoding::activation
                               ? ng::make_activation_netlist(a, b, o)
                               : ng::make_netlist(m, b, o);
    const std::string text = ng::to_spice(nl);
    const std::vector<std::string> cards = element_cards(text);
    const std::vector<const ng::Element*> elements = nl.circuit.all_elements();
    REQUIRE(cards.size() == elements.size());
    ng::ComponentCounts from_text;
    int with_ic = 0, noise_cards = 0;
    for (std::size_t k = 0; k < cards.size(); ++k) {
      const ng::Element& e = *elements[k];
      const std::vector<std::string> f = fields_of(cards[k]);
      CAPTURE(cards[k]);
      REQUIRE(f.size() >= 4);
      CHECK(f[0] == e.name);
      CHECK(f[1] == e.n_plus);
      CHECK(f[2] == e.n_minus);
      // The kind as SPICE reads it: the first letter, and the card's form.
      switch (f[0][0]) {
        case 'R':
          CHECK(e.kind == ng::ElementKind::resistor);
          REQUIRE(f.size() == 4);
          CHECK(number_of(f[3]) == e.value);
          ++from_text.resistors;
          break;
        case 'C':
          CHECK(e.kind == ng::ElementKind::capacitor);
          CHECK(number_of(f[3]) == e.value);
          REQUIRE(f.size() == (e.initial_voltage ? 5u : 4u));
          if (e.initial_voltage) {
            REQUIRE(f[4].rfind("IC=", 0) == 0);
            CHECK(number_of(f[4].substr(3)) == *e.initial_voltage);
            ++with_ic;
          }
          ++from_text.capacitors;
          break;
        case 'G':
        case 'E':
          CHECK(e.kind == (f[0][0] == 'G' ? ng::ElementKind::vccs : ng::ElementKind::opamp));
          REQUIRE(f.size() == 6);
          CHECK(f[3] == e.c_plus);
          CHECK(f[4] == e.c_minus);
          CHECK(number_of(f[5]) == e.value);
          ++(f[0][0] == 'G' ? from_text.controlled_sources : from_text.amplifiers);
          break;
        case 'V':
        case 'I':
          CHECK(f[3] == "dc");
          if (contains(cards[k], "trrandom")) {
            CHECK(e.kind == ng::ElementKind::noise_current);
            REQUIRE(f.size() == 10);
            CHECK(f[4] == "0");
            CHECK(f[5] == "trrandom(2");
            CHECK(number_of(f[6]) == e.sample_time);
            CHECK(f[7] == "0");
            CHECK(number_of(f[8]) == e.value);
            CHECK(f[9] == "0)");
            ++noise_cards;
          } else {
            CHECK(e.kind == (f[0][0] == 'V' ? ng::ElementKind::voltage_source
                                            : ng::ElementKind::current_source));
            REQUIRE(f.size() == 5);
            CHECK(number_of(f[4]) == e.value);
          }
          ++from_text.sources;
          break;
        default:
          FAIL("unexpected element card: " << cards[k]);
      }
    }
    // Not vacuous: the variant's elements are there.
    CHECK(with_ic == (c.warm ? 3 : 0));
    CHECK(noise_cards == (c.noise > 0 ? 3 + 1 : 0));  // one per unknown, the pad for odd n
    const ng::ComponentCounts counts = ng::count_components(nl.circuit);
    CHECK(counts.resistors == from_text.resistors);
    CHECK(counts.capacitors == from_text.capacitors);
    CHECK(counts.amplifiers == from_text.amplifiers);
    CHECK(counts.controlled_sources == from_text.controlled_sources);
    CHECK(counts.sources == from_text.sources);
    const ng::HardwareReport r = ng::hardware_report(nl);
    CHECK(r.elements == static_cast<int>(cards.size()));
    CHECK(r.counts.resistors == from_text.resistors);
    CHECK(r.counts.sources == from_text.sources);
  }
}

TEST_CASE("netlist_gen: element names and component counts of a sparse matrix") {
  const Eigen::MatrixXd m = tridiagonal4();  // 10 nonzeros, negative off-diagonals
  Eigen::VectorXd b(4);
  b << 1, 0, 0, -1;

  ng::NetlistOptions o;
  const ng::Netlist beh = ng::make_netlist(m, b, o);
  const std::string bt = ng::to_spice(beh);
  const ng::ComponentCounts bc = ng::count_components(beh.circuit);
  CHECK(bc.capacitors == 4);
  CHECK(bc.controlled_sources == 10);
  CHECK(bc.sources == 4);
  CHECK(bc.resistors == 0);
  CHECK(bc.amplifiers == 0);
  CHECK(count_prefix(bt, "C_") == 4);
  CHECK(count_prefix(bt, "G_") == 10);
  CHECK(count_prefix(bt, "I_b_") == 4);
  CHECK(contains(bt, "\nC_3 x_3 0 1e-09\n"));
  CHECK(contains(bt, "\nG_0_0 x_0 0 x_0 0 0.001\n"));    // m_hat = 1 -> g0
  CHECK(contains(bt, "\nG_2_3 x_2 0 x_3 0 -0.0005\n"));  // m_hat = -0.5
  CHECK_FALSE(contains(bt, "G_0_2"));                    // zero entry: no element
  CHECK(contains(bt, "\nI_b_3 0 x_3 dc -0.001\n"));      // g0 * b_hat, b_hat = -1
  CHECK(beh.inputs.size() == 4);
  CHECK(beh.inputs[3].element == "I_b_3");
  CHECK(beh.inputs[3].gain == doctest::Approx(1e-3));

  o.encoding = ng::Encoding::integrator;
  const ng::Netlist itg = ng::make_netlist(m, b, o);
  const std::string it = ng::to_spice(itg);
  const ng::ComponentCounts ic = ng::count_components(itg.circuit);
  CHECK(ic.capacitors == 4);
  CHECK(ic.amplifiers == 8);          // 4 integrators + 4 inverters
  CHECK(ic.resistors == 10 + 4 + 8);  // array + inputs + inverter pairs
  CHECK(ic.sources == 4);
  CHECK(ic.controlled_sources == 0);
  CHECK(count_prefix(it, "R_") == 22);
  CHECK(count_prefix(it, "E_") == 8);
  CHECK(contains(it, "\nC_1 s_1 o_1 1e-09\n"));
  CHECK(contains(it, "\nE_int_1 o_1 0 0 s_1 1000000\n"));
  CHECK(contains(it, "\nE_inv_2 neg_2 0 0 sn_2 1000000\n"));
  CHECK(contains(it, "\nR_inv_in_2 o_2 sn_2 1000\n"));
  CHECK(contains(it, "\nR_inv_fb_2 sn_2 neg_2 1000\n"));
  // Trimmed for A = 1e6 (see array_conductances): negative entries by the inverter's gain
  // rho = A / (A + 2), the diagonal for the summing node's offset -V_1 / A.
  auto value_of = [&](const std::string& text, const std::string& card) {
    const auto at = text.find("\n" + card + " ");
    REQUIRE(at != std::string::npos);
    return std::stod(text.substr(at + card.size() + 2));
  };
  const double a = 1e6;
  const double g_off = 0.5e-3 * (a + 2) / a;
  const double g_diag = (1e-3 - (2 * g_off + 1e-3) / a) / (1 + 1 / a);
  CHECK(value_of(it, "R_1_2 neg_2 s_1") == doctest::Approx(1 / g_off).epsilon(1e-14));
  CHECK(value_of(it, "R_1_1 o_1 s_1") == doctest::Approx(1 / g_diag).epsilon(1e-14));
  CHECK(value_of(it, "R_1_1 o_1 s_1") != 1000.0);
  o.gain_compensation = false;
  const std::string untrimmed = ng::to_spice(ng::make_netlist(m, b, o));
  o.gain_compensation = true;
  CHECK(contains(untrimmed, "\nR_1_1 o_1 s_1 1000\n"));    // positive: from +V_1
  CHECK(contains(untrimmed, "\nR_1_2 neg_2 s_1 2000\n"));  // negative: from -V_2, R / 0.5
  CHECK_FALSE(contains(it, "R_0_2"));
  CHECK(contains(it, "\nV_dac_0 dac_0 0 dc -1\n"));  // -b_hat
  CHECK(contains(it, "\nR_b_0 dac_0 s_0 1000\n"));
  CHECK(itg.inputs[0].element == "V_dac_0");
  CHECK(itg.inputs[0].gain == -1.0);

  // Without negative entries no inverter is built.
  Eigen::MatrixXd positive(2, 2);
  positive << 2, 0.5, 0.5, 1;
  const ng::Netlist pos = ng::make_netlist(positive, Eigen::VectorXd(), o);
  const ng::ComponentCounts pc = ng::count_components(pos.circuit);
  CHECK(pc.amplifiers == 2);
  CHECK(pc.resistors == 4 + 2);
  CHECK_FALSE(contains(ng::to_spice(pos), "E_inv"));
  CHECK(pos.summary.rhs_scale == 1.0);  // no b: inputs at 0 V, s_b = 1
  CHECK(contains(ng::to_spice(pos), "\nV_dac_1 dac_1 0 dc 0\n"));
}

TEST_CASE("netlist_gen: scaling, damping and input_values") {
  Eigen::MatrixXd m(2, 2);
  m << 4, -1, -1, 3;
  Eigen::VectorXd b(2);
  b << 2, -6;
  ng::NetlistOptions o;
  o.damping = 1.0;
  o.input_full_scale = 0.5;
  const ng::Netlist nl = ng::make_netlist(m, b, o);
  CHECK(nl.summary.matrix_scale == 5.0);  // max |M + I| = 5
  CHECK(nl.summary.rhs_scale == 12.0);    // max |b| / 0.5
  CHECK(nl.unknowns[1].scale == 12.0 / 5.0);
  CHECK(nl.summary.damping == 1.0);
  // M + I = [[5,-1],[-1,4]]: eigenvalues (9 -+ sqrt(5)) / 2.
  CHECK(nl.summary.alpha_min == doctest::Approx((9 - std::sqrt(5.0)) / 2 / 5));
  CHECK(nl.summary.condition_number ==
        doctest::Approx((9 + std::sqrt(5.0)) / (9 - std::sqrt(5.0))));

  ng::NetlistOptions none = o;
  none.scaling = ng::Scaling::none;
  const ng::Netlist raw = ng::make_netlist(m, b, none);
  CHECK(raw.summary.matrix_scale == 1.0);
  CHECK(raw.summary.rhs_scale == 1.0);
  CHECK(raw.unknowns[0].scale == 1.0);
  CHECK(contains(ng::to_spice(raw), "\nG_0_0 x_0 0 x_0 0 0.005\n"));  // g0 * 5

  // input_values for another b equals the DC values of a netlist built with it.
  for (const auto encoding : {ng::Encoding::behavioral, ng::Encoding::integrator}) {
    CAPTURE(ng::to_string(encoding));
    ng::NetlistOptions e = o;
    e.encoding = encoding;
    const ng::Netlist base = ng::make_netlist(m, b, e);
    Eigen::VectorXd b2(2);
    b2 << -0.25, 0.125;
    const ng::Netlist direct = ng::make_netlist(m, b2, e);
    const ng::InputValues values = ng::input_values(base, b2, e);
    REQUIRE(values.sources.size() == 2);
    for (std::size_t i = 0; i < 2; ++i) {
      CHECK(values.sources[i].first == direct.inputs[i].element);
      const std::string card = fmt::format("\n{} ", values.sources[i].first);
      const std::string text = ng::to_spice(direct);
      const auto at = text.find(card);
      REQUIRE(at != std::string::npos);
      const auto dc = text.find(" dc ", at);
      CHECK(std::stod(text.substr(dc + 4)) == values.sources[i].second);
      CHECK(values.unknown_scales(static_cast<Eigen::Index>(i)) == direct.unknowns[i].scale);
    }
    const ng::InputValues zero = ng::input_values(base, Eigen::VectorXd(), e);
    CHECK(zero.sources[1].second == 0.0);
    CHECK_INPUT_ERROR(ng::input_values(base, Eigen::VectorXd::Ones(3), e), "b:", "expected 2");
  }

  ng::NetlistOptions fixed;
  fixed.sim_time = 2.5e-5;
  const ng::Netlist short_run = ng::make_netlist(m, b, fixed);
  CHECK(short_run.tran_stop == 2.5e-5);
  CHECK(contains(ng::to_spice(short_run), " 2.5e-05 0 "));
}

TEST_CASE("netlist_gen: golden netlists in circuits/ are reproduced byte for byte") {
  const Eigen::MatrixXd m = golden_m();
  const Eigen::VectorXd b = golden_b();
  const char* env = std::getenv("TKFAC_REGENERATE_GOLDEN");
  const bool regenerate = env != nullptr && std::string(env) == "1";
  for (const auto encoding : {ng::Encoding::behavioral, ng::Encoding::integrator}) {
    ng::NetlistOptions o;
    o.encoding = encoding;
    const std::string text = ng::to_spice(ng::make_netlist(m, b, o));
    const auto path = kCircuits / fmt::format("system3_{}.cir", ng::to_string(encoding));
    if (regenerate) {
      write_text(path, text);
      MESSAGE("rewrote " << path.string());
      continue;
    }
    INFO(
        "regenerate with TKFAC_REGENERATE_GOLDEN=1 if the change is intended; see "
        "circuits/README.md");
    const std::string golden = read_text(path);
    CHECK_MESSAGE(golden == text, path.string() << " differs from the generated netlist:\n"
                                                << text);
  }
}

TEST_CASE("netlist_gen: ngspice -b runs the golden netlists and they solve M x = b") {
  const Eigen::MatrixXd m = golden_m();
  const Eigen::VectorXd b = golden_b();
  const Eigen::VectorXd exact = m.llt().solve(b);
  for (const auto encoding : {ng::Encoding::behavioral, ng::Encoding::integrator}) {
    CAPTURE(ng::to_string(encoding));
    const auto path = kCircuits / fmt::format("system3_{}.cir", ng::to_string(encoding));
    const std::string netlist = read_text(path);
    const std::string output = run_ngspice(path);
    check_clean(output);
    const Eigen::VectorXd x = solution_from_meas(netlist, output);
    // Error budget: relaxation (target 1e-6), 7 printed digits (<= 5e-7 relative per value),
    // and for the integrator the finite-gain bias the header states.
    ng::NetlistOptions o;
    o.encoding = encoding;
    const ng::Netlist nl = ng::make_netlist(m, b, o);
    const double tol = 1e-6 + 1e-6 + nl.summary.finite_gain_error;
    TKFAC_CHECK_REL_NEAR(x, exact, tol);
  }
}

TEST_CASE("netlist_gen: random systems through ngspice -b solve M x = b in both encodings") {
  struct System {
    int n;
    double kappa;
    double damping;
  };
  // Sizes 2..10 and kappa up to 1e3 (plus one n = 64 case, where ngspice once stopped an ulp
  // short of TSTOP and a `.meas AT=TSTOP` failed).
  const std::vector<System> systems = {{2, 1.0, 0.0},   {3, 30.0, 0.0}, {5, 1e3, 0.0},
                                       {7, 100.0, 0.1}, {10, 1e3, 0.0}, {64, 1e3, 0.0}};
  std::mt19937_64 rng(2024);
  for (const System& s : systems) {
    const Eigen::MatrixXd m = tkfac::test::random_spd(s.n, s.kappa, rng, 0.5);
    const Eigen::VectorXd b = tkfac::test::random_vector(s.n, rng);
    const Eigen::VectorXd exact = damped(m, s.damping).llt().solve(b);
    for (const auto encoding : {ng::Encoding::behavioral, ng::Encoding::integrator}) {
      CAPTURE(s.n);
      CAPTURE(s.kappa);
      CAPTURE(ng::to_string(encoding));
      ng::NetlistOptions o;
      o.encoding = encoding;
      o.damping = s.damping;
      const ng::Netlist nl = ng::make_netlist(m, b, o);
      const std::string netlist = ng::to_spice(nl);
      TempFile file(fmt::format("n{}_{}", s.n, ng::to_string(encoding)));
      write_text(file.path(), with_full_precision_readout(netlist));
      const std::string output = run_ngspice(file.path());
      check_clean(output);
      // The .meas lines printed every unknown (7 digits)...
      const Eigen::VectorXd x7 = solution_from_meas(netlist, output);
      // ...and the .control block the same voltages with 16 digits.
      const Eigen::VectorXd x = solution_full_precision(netlist, output);
      if (encoding == ng::Encoding::behavioral) {
        TKFAC_CHECK_REL_NEAR(x, exact, o.target_rel_error);
        TKFAC_CHECK_REL_NEAR(x7, exact, o.target_rel_error + 1e-6);
      } else {
        // Op-amps of gain A = 1e6 with the resistors trimmed for it: the exact solution.
        TKFAC_CHECK_REL_NEAR(x, exact, o.target_rel_error);
        TKFAC_CHECK_REL_NEAR(x7, exact, o.target_rel_error + 1e-6);
        // Untrimmed, the circuit settles where the finite-gain model says (to the relaxation
        // target), within the stated bound of the exact solution.
        o.gain_compensation = false;
        const ng::Netlist raw = ng::make_netlist(m, b, o);
        CHECK(raw.summary.finite_gain_error > 0.0);
        const std::string raw_netlist = ng::to_spice(raw);
        write_text(file.path(), with_full_precision_readout(raw_netlist));
        const std::string raw_output = run_ngspice(file.path());
        check_clean(raw_output);
        const Eigen::VectorXd xr = solution_full_precision(raw_netlist, raw_output);
        TKFAC_CHECK_REL_NEAR(xr, integrator_equilibrium(m, b, o, raw), o.target_rel_error);
        TKFAC_CHECK_REL_NEAR(xr, exact, o.target_rel_error + raw.summary.finite_gain_error);
      }
    }
  }
}

TEST_CASE("netlist_gen: plan_final_state keeps the simulated time and still reaches 1e-6") {
  // Gear-2 with steps of 3/4 tau damps every mode at least as fast as the circuit (see
  // kFinalStateStepPerTau), so the cold start's simulated time still bounds the error. kappa up
  // to 1e4, both encodings, through `ngspice -b`, at 1e-6 like the plain plan.
  struct System {
    int n;
    double kappa;
  };
  const std::vector<System> systems = {{3, 1.0}, {8, 100.0}, {20, 1e4}, {50, 100.0}};
  std::mt19937_64 rng(77);
  for (const System& s : systems) {
    const Eigen::MatrixXd m = tkfac::test::random_spd(s.n, s.kappa, rng, 2.0);
    const Eigen::VectorXd b = tkfac::test::random_vector(s.n, rng);
    const Eigen::VectorXd exact = m.llt().solve(b);
    for (const auto encoding : {ng::Encoding::behavioral, ng::Encoding::integrator}) {
      CAPTURE(s.n);
      CAPTURE(s.kappa);
      CAPTURE(ng::to_string(encoding));
      ng::NetlistOptions o;
      o.encoding = encoding;
      const ng::Netlist plain = ng::make_netlist(m, b, o);
      ng::Netlist nl = plain;
      ng::plan_final_state(o, nl);
      CHECK(nl.tran_stop == plain.tran_stop);  // the same simulated time
      CHECK(nl.tran_step == nl.tran_stop);
      CHECK(nl.tran_max_step <= 0.75 * nl.summary.predicted_tau);
      CHECK(nl.tran_max_step >= 0.74 * nl.summary.predicted_tau);
      CHECK(std::find(nl.options.begin(), nl.options.end(), "trtol=1000") != nl.options.end());
      const std::string netlist = ng::to_spice(nl);
      CHECK(contains(netlist, "* Final-state plan"));
      TempFile file(fmt::format("final_n{}_{}", s.n, ng::to_string(encoding)));
      write_text(file.path(), with_full_precision_readout(netlist));
      const std::string output = run_ngspice(file.path());
      check_clean(output);
      TKFAC_CHECK_REL_NEAR(solution_full_precision(netlist, output), exact, o.target_rel_error);
    }
  }
  // A given --max-step is kept; noise and warm starts are refused (their trajectory matters).
  const Eigen::MatrixXd m = Eigen::Matrix2d{{2.0, 0.5}, {0.5, 1.0}};
  const Eigen::VectorXd b = Eigen::Vector2d{1.0, -1.0};
  ng::NetlistOptions o;
  o.max_step = 1e-8;
  ng::Netlist nl = ng::make_netlist(m, b, o);
  ng::plan_final_state(o, nl);
  CHECK(nl.tran_max_step == 1e-8);
  ng::NetlistOptions noisy;
  noisy.noise_variance = 1e-3;
  ng::Netlist nn = ng::make_netlist(m, b, noisy);
  CHECK_THROWS_AS(ng::plan_final_state(noisy, nn), tkfac::InputError);
  ng::NetlistOptions warm;
  warm.initial_state = Eigen::Vector2d{0.1, 0.1};
  ng::Netlist nw = ng::make_netlist(m, b, warm);
  CHECK_THROWS_AS(ng::plan_final_state(warm, nw), tkfac::InputError);
}

TEST_CASE("netlist_gen: integrator with a near-ideal op-amp gain reaches the 1e-6 target") {
  std::mt19937_64 rng(7);
  const Eigen::MatrixXd m = tkfac::test::random_spd(8, 1e3, rng);
  const Eigen::VectorXd b = tkfac::test::random_vector(8, rng);
  ng::NetlistOptions o;
  o.encoding = ng::Encoding::integrator;
  o.opamp_gain = 1e12;  // finite-gain bias ~1e-9 here
  const ng::Netlist nl = ng::make_netlist(m, b, o);
  const std::string netlist = ng::to_spice(nl);
  TempFile file("ideal_gain");
  write_text(file.path(), with_full_precision_readout(netlist));
  const std::string output = run_ngspice(file.path());
  check_clean(output);
  TKFAC_CHECK_REL_NEAR(solution_full_precision(netlist, output), m.llt().solve(b), 1e-6);
}

namespace {

struct CleanDir {
  std::filesystem::path path;
  explicit CleanDir(const std::string& stem)
      : path(std::filesystem::temp_directory_path() /
             fmt::format("tkfac_compose_{}_{}", stem, ::getpid())) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~CleanDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// The last row of a wrdata file (header line `time v(...) ...`, then t and one voltage per
// unknown) read back as x = scale * V.
Eigen::VectorXd last_wrdata_row(const std::filesystem::path& file, const ng::Netlist& nl) {
  const std::vector<std::string> lines = tkfac::test::lines_of(read_text(file));
  REQUIRE(lines.size() >= 3);
  CHECK(lines.front().find("time") != std::string::npos);
  std::istringstream last(lines.back());
  double t = 0.0;
  last >> t;
  CHECK(t == doctest::Approx(nl.tran_stop).epsilon(1e-9));
  Eigen::VectorXd v(static_cast<Eigen::Index>(nl.unknowns.size()));
  for (Eigen::Index i = 0; i < v.size(); ++i) last >> v(i);
  REQUIRE(!last.fail());
  return ng::read_out(nl, v);
}

}  // namespace

TEST_CASE("netlist_gen: the composable golden netlist in circuits/ is reproduced byte for byte") {
  ng::NetlistOptions o;
  o.encoding = ng::Encoding::integrator;
  const ng::Netlist nl = ng::make_netlist(golden_m(), golden_b(), o);
  const std::string text = ng::to_spice(nl, {.form = ng::NetlistForm::subckt, .control = true});
  const auto path = kCircuits / "system3_integrator_subckt.cir";
  const char* env = std::getenv("TKFAC_REGENERATE_GOLDEN");
  if (env != nullptr && std::string(env) == "1") {
    write_text(path, text);
    MESSAGE("rewrote " << path.string());
    return;
  }
  INFO("regenerate with TKFAC_REGENERATE_GOLDEN=1 if the change is intended; see circuits/README.md");
  CHECK_MESSAGE(read_text(path) == text, path.string() << " differs:\n" << text);
}

TEST_CASE("netlist_gen: a hand-written top level .includes a generated library and ngspice runs it") {
  // The library form (.subckt only, first line a comment) included twice under other node
  // names and with res = 2 kOhm, cap = 0.5 nF on the second instance (same R C: same tau), run
  // by the ngspice program in batch mode in an empty directory with HOME there.
  std::mt19937_64 rng(15);
  const Eigen::MatrixXd m = tkfac::test::random_spd(4, 20.0, rng, 0.5);
  const Eigen::VectorXd b = tkfac::test::random_vector(4, rng);
  const Eigen::VectorXd exact = m.llt().solve(b);
  for (const auto encoding : {ng::Encoding::behavioral, ng::Encoding::integrator}) {
    CAPTURE(ng::to_string(encoding));
    ng::NetlistOptions o;
    o.encoding = encoding;
    const ng::Netlist nl = ng::make_netlist(m, b, o);
    const std::string library = ng::to_spice(nl, {.form = ng::NetlistForm::library});
    CHECK(library.rfind("* ", 0) == 0);
    CHECK(library.find(".end\n") == std::string::npos);
    CleanDir dir(std::string(ng::to_string(encoding)));
    write_text(dir.path / "solver.lib", library);
    const std::string name = ng::subckt_name(nl);
    const std::string top = fmt::format(
        "my circuit around a tkfac solver\n"
        ".include solver.lib\n"
        "Xa a0 a1 a2 a3 {0}\n"
        "Xb b0 b1 b2 b3 {0} res=2000 cap=0.5e-9\n"
        "Rload a0 0 1e12\n"
        ".options method=gear maxord=2\n"
        ".tran {1} {2} 0 {3} uic\n"
        ".meas tran va0 FIND v(a0) AT={4}\n.meas tran va1 FIND v(a1) AT={4}\n"
        ".meas tran va2 FIND v(a2) AT={4}\n.meas tran va3 FIND v(a3) AT={4}\n"
        ".meas tran vb0 FIND v(b0) AT={4}\n.meas tran vb1 FIND v(b1) AT={4}\n"
        ".meas tran vb2 FIND v(b2) AT={4}\n.meas tran vb3 FIND v(b3) AT={4}\n"
        ".end\n",
        name, nl.tran_step, nl.tran_stop, nl.tran_max_step, ng::read_out_time(nl));
    write_text(dir.path / "top.cir", top);
    const std::string output = run_ngspice_clean(dir.path, "top.cir");
    check_clean(output);
    const auto va = parse_values(output, "va");
    const auto vb = parse_values(output, "vb");
    REQUIRE(va.size() == 4);
    REQUIRE(vb.size() == 4);
    Eigen::VectorXd xa(4), xb(4);
    for (int i = 0; i < 4; ++i) {
      xa(i) = nl.unknowns[static_cast<std::size_t>(i)].scale * va.at(std::to_string(i));
      xb(i) = nl.unknowns[static_cast<std::size_t>(i)].scale * vb.at(std::to_string(i));
    }
    // 7 printed digits (5e-7), relaxation 1e-6; the 1e12 ohm load on a0 draws 1e-9 of g0.
    TKFAC_CHECK_REL_NEAR(xa, exact, 3e-6);
    TKFAC_CHECK_REL_NEAR(xb, exact, 3e-6);
  }
}

TEST_CASE("netlist_gen: --control netlists run unchanged with ngspice -b and write the unknowns") {
  std::mt19937_64 rng(16);
  const Eigen::MatrixXd m = tkfac::test::random_spd(5, 100.0, rng, 0.5);
  const Eigen::VectorXd b = tkfac::test::random_vector(5, rng);
  const Eigen::VectorXd exact = m.llt().solve(b);
  for (const auto encoding : {ng::Encoding::behavioral, ng::Encoding::integrator}) {
    for (const auto form : {ng::NetlistForm::flat, ng::NetlistForm::subckt}) {
      CAPTURE(ng::to_string(encoding));
      CAPTURE(form == ng::NetlistForm::flat);
      ng::NetlistOptions o;
      o.encoding = encoding;
      const ng::Netlist nl = ng::make_netlist(m, b, o);
      const std::string text =
          ng::to_spice(nl, {.form = form, .control = true, .wrdata_file = "x.txt"});
      CleanDir dir("control");
      write_text(dir.path / "c.cir", text);
      const std::string output = run_ngspice_clean(dir.path, "c.cir");
      check_clean(output);
      // One transient (the control block's run, then quit): each .meas printed once.
      CHECK(parse_values(output, "tkfac_final_").size() == 5);
      const Eigen::VectorXd x = last_wrdata_row(dir.path / "x.txt", nl);
      // wrdata's 9 significant digits (5e-9) and the relaxation target 1e-6.
      TKFAC_CHECK_REL_NEAR(x, exact, 2e-6);
    }
  }
}

TEST_CASE("netlist_gen: activation netlists compose too: subckt and --control run with ngspice -b") {
  std::mt19937_64 rng(17);
  const Eigen::MatrixXd a = tkfac::random_normal(5, 3, rng);
  const Eigen::VectorXd b = tkfac::test::random_vector(5, rng);
  const double damping = 0.3;
  Eigen::MatrixXd m = a * a.transpose() / 3.0;
  m.diagonal().array() += damping;
  const Eigen::VectorXd exact = m.llt().solve(b);
  ng::NetlistOptions o;
  o.encoding = ng::Encoding::activation;
  o.damping = damping;
  const ng::Netlist nl = ng::make_activation_netlist(a, b, o);
  for (const auto form : {ng::NetlistForm::flat, ng::NetlistForm::subckt}) {
    CAPTURE(form == ng::NetlistForm::flat);
    const std::string text =
        ng::to_spice(nl, {.form = form, .control = true, .wrdata_file = "x.txt"});
    CleanDir dir("control-activation");
    write_text(dir.path / "c.cir", text);
    const std::string output = run_ngspice_clean(dir.path, "c.cir");
    check_clean(output);
    CHECK(parse_values(output, "tkfac_final_").size() == 5);
    const Eigen::VectorXd x = last_wrdata_row(dir.path / "x.txt", nl);
    TKFAC_CHECK_REL_NEAR(x, exact, 2e-6);
  }
}
