// bench/encodings: where does the activation encoding become cheaper than the matrix encodings?
//
// For N = 33 and 50 unknowns (the reference network's factor sizes) and batch b = 8, 32, 128,
// with a an N x b array of standard normal entries and damping 0.03 (M = a a^T / b + 0.03 I):
//   build      wall time to generate the netlist text (netlist_gen, median)
//   ngspice    wall time of `ngspice -b` on it: spawn, parse, one noiseless cold-start solve to
//              the default 1e-6 target, print (median of 3)
//   elements   element cards; resistors, op-amps (components to build)
//   error      relative error of the printed solution against Cholesky (7 printed digits)
// for behavioral, integrator and activation, and the ratios activation / integrator.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tkfac/core/spd.hpp"
#include "tkfac/netlist_gen/activation.hpp"
#include "tkfac/netlist_gen/encoding.hpp"
#include "tkfac/netlist_gen/netlist.hpp"
#include "tkfac/netlist_gen/report.hpp"

#include "bench_util.hpp"

namespace {

using tkfac::bench::median_seconds;

std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buf[4096];
  while (const std::size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  ::pclose(pipe);
  return out;
}

// x from the `tkfac_final_<i> = v` lines (i the unknown's index) and the netlist's read-out.
Eigen::VectorXd solution(const tkfac::netlist_gen::Netlist& nl, const std::string& output) {
  Eigen::VectorXd voltages = Eigen::VectorXd::Constant(nl.summary.size, std::nan(""));
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("tkfac_final_", 0) != 0) continue;
    const auto eq = line.find('=');
    voltages(std::stoi(line.substr(12, eq - 12))) = std::stod(line.substr(eq + 1));
  }
  return tkfac::netlist_gen::read_out(nl, voltages);
}

}  // namespace

int main() {
  namespace ng = tkfac::netlist_gen;
  const auto dir = std::filesystem::temp_directory_path() / "tkfac-bench-encodings";
  std::filesystem::create_directories(dir);
  std::mt19937_64 rng(1);
  const double damping = 0.03;
  std::puts(fmt::format("{:>3} {:>4} {:>11} {:>9} {:>9} {:>9} {:>8} {:>10} {:>10} {:>8}", "N",
                        "b", "encoding", "elements", "resistors", "op-amps", "bits", "build",
                        "ngspice", "error")
                .c_str());
  for (int n : {33, 50}) {
    for (int b : {8, 32, 128}) {
      const Eigen::MatrixXd a = tkfac::random_normal(n, b, rng);
      const Eigen::VectorXd rhs = tkfac::random_normal(n, 1, rng).col(0);
      Eigen::MatrixXd m = a * a.transpose() / static_cast<double>(b);
      m = 0.5 * (m + m.transpose());
      Eigen::MatrixXd md = m;
      md.diagonal().array() += damping;
      const Eigen::VectorXd exact = md.llt().solve(rhs);
      std::map<std::string, double> ngspice_time, elements;
      for (const char* enc : {"behavioral", "integrator", "activation"}) {
        ng::NetlistOptions o;
        o.damping = damping;
        const bool act = std::string(enc) == "activation";
        if (!act) o.encoding = ng::parse_encoding(enc);
        ng::Netlist nl;
        std::string text;
        const double build = median_seconds(5, [&] {
          nl = act ? ng::make_activation_netlist(a, rhs, o) : ng::make_netlist(m, rhs, o);
          text = ng::to_spice(nl);
        });
        const auto file = dir / fmt::format("n{}_b{}_{}.cir", n, b, enc);
        std::ofstream(file) << text;
        std::string output;
        const double wall = median_seconds(3, [&] {
          output = run(fmt::format("LC_ALL=C ngspice -b '{}' 2>&1", file.string()));
        });
        const Eigen::VectorXd x = solution(nl, output);
        const double err = (x - exact).norm() / exact.norm();
        const ng::HardwareReport r = ng::hardware_report(nl);
        ngspice_time[enc] = wall;
        elements[enc] = r.elements;
        std::puts(fmt::format("{:>3} {:>4} {:>11} {:>9} {:>9} {:>9} {:>8.1f} {:>8.2f}ms {:>8.1f}ms "
                              "{:>8.1e}",
                              n, b, enc, r.elements, r.counts.resistors, r.counts.amplifiers,
                              r.dynamic_range_bits, 1e3 * build, 1e3 * wall, err)
                      .c_str());
      }
      std::puts(fmt::format("{:>3} {:>4} activation / integrator: elements {:.2f}, ngspice time "
                            "{:.2f}",
                            n, b, elements["activation"] / elements["integrator"],
                            ngspice_time["activation"] / ngspice_time["integrator"])
                    .c_str());
    }
  }
  std::filesystem::remove_all(dir);
  return 0;
}
