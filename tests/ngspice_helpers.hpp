#pragma once
// Reading netlists and running them with the `ngspice` program, for the test suites that check
// generated circuits (netlist_gen_test, layer_test).
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <sys/wait.h>

#include <Eigen/Dense>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tkfac/netlist_gen/netlist.hpp"

namespace tkfac::test {

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  REQUIRE_MESSAGE(out.good(), "cannot write " << path);
}

// Runs a shell command line that starts ngspice and returns what it printed; requires exit 0.
inline std::string run_ngspice_command(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE_MESSAGE(pipe != nullptr, "cannot start " << command);
  std::string output;
  char buffer[4096];
  while (const std::size_t got = std::fread(buffer, 1, sizeof buffer, pipe)) {
    output.append(buffer, got);
  }
  const int status = ::pclose(pipe);
  INFO("ngspice output:\n" << output);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  return output;
}

// Runs `ngspice -b file` and returns what it printed (stdout and stderr); requires exit code 0.
inline std::string run_ngspice(const std::filesystem::path& file) {
  return run_ngspice_command(
      fmt::format("LC_ALL=C '{}' -b '{}' 2>&1", TKFAC_NGSPICE_PROGRAM, file.string()));
}

// Runs `ngspice -b <file>` in `dir` with HOME set to `dir`: no ~/.spiceinit and no spinit
// commands from the working directory can change the run (a fresh, empty directory).
inline std::string run_ngspice_clean(const std::filesystem::path& dir, const std::string& file) {
  return run_ngspice_command(fmt::format("cd '{0}' && HOME='{0}' LC_ALL=C '{1}' -b '{2}' 2>&1",
                                         dir.string(), TKFAC_NGSPICE_PROGRAM, file));
}

// No line of ngspice's output may report an error or a warning about the circuit.
inline void check_clean(const std::string& output) {
  for (const std::string& line : lines_of(output)) {
    INFO("ngspice printed: " << line);
    CHECK_FALSE(contains(line, "Error"));
    CHECK_FALSE(contains(line, "error"));
    CHECK_FALSE(contains(line, "Warning"));
    CHECK_FALSE(contains(line, "warning"));
  }
}

// The `* tkfac-unknown <index> <node> <scale>` lines of a netlist.
inline std::vector<::tkfac::netlist_gen::Unknown> parse_unknowns(const std::string& netlist) {
  std::vector<::tkfac::netlist_gen::Unknown> out;
  for (const std::string& line : lines_of(netlist)) {
    if (line.rfind("* tkfac-unknown ", 0) != 0) continue;
    std::istringstream in(line.substr(16));
    ::tkfac::netlist_gen::Unknown u;
    in >> u.index >> u.node >> u.scale;
    REQUIRE_MESSAGE(!in.fail(), "bad line: " << line);
    out.push_back(u);
  }
  return out;
}

// `<prefix><key> = <value>` lines of ngspice's output, e.g. `tkfac_final_3 = 1.234e+00`.
inline std::map<std::string, double> parse_values(const std::string& output,
                                                  const std::string& prefix) {
  std::map<std::string, double> out;
  for (const std::string& line : lines_of(output)) {
    if (line.rfind(prefix, 0) != 0) continue;
    const auto eq = line.find(" = ");
    if (eq == std::string::npos) continue;
    std::string key = line.substr(prefix.size(), eq - prefix.size());
    key.erase(key.find_last_not_of(' ') + 1);
    out[key] = std::stod(line.substr(eq + 3));
  }
  return out;
}

// x = scale * V(node) from the `tkfac_final_<i>` lines that the netlist's .meas cards print
// (7 significant digits).
inline Eigen::VectorXd solution_from_meas(const std::string& netlist, const std::string& output) {
  const auto unknowns = parse_unknowns(netlist);
  const auto finals = parse_values(output, "tkfac_final_");
  Eigen::VectorXd x(static_cast<Eigen::Index>(unknowns.size()));
  for (const ::tkfac::netlist_gen::Unknown& u : unknowns) {
    const auto it = finals.find(std::to_string(u.index));
    REQUIRE_MESSAGE(it != finals.end(), "no tkfac_final_" << u.index << " in:\n" << output);
    x(u.index) = u.scale * it->second;
  }
  return x;
}

// The netlist with a .control block that prints the last time point of every unknown with 16
// digits (the .meas lines print only 7).
inline std::string with_full_precision_readout(const std::string& netlist) {
  std::string control = ".control\nset numdgt=16\nrun\nlet tkfac_last = length(time) - 1\n";
  for (const ::tkfac::netlist_gen::Unknown& u : parse_unknowns(netlist)) {
    control += fmt::format("print v({})[tkfac_last]\n", u.node);
  }
  control += "quit\n.endc\n";
  const auto end = netlist.rfind(".end\n");
  REQUIRE(end != std::string::npos);
  return netlist.substr(0, end) + control + ".end\n";
}

inline Eigen::VectorXd solution_full_precision(const std::string& netlist,
                                               const std::string& output) {
  const auto unknowns = parse_unknowns(netlist);
  const auto values = parse_values(output, "v(");
  Eigen::VectorXd x(static_cast<Eigen::Index>(unknowns.size()));
  for (const ::tkfac::netlist_gen::Unknown& u : unknowns) {
    const auto it = values.find(u.node + ")[tkfac_last]");
    REQUIRE_MESSAGE(it != values.end(), "no value for " << u.node << " in:\n" << output);
    x(u.index) = u.scale * it->second;
  }
  return x;
}

}  // namespace tkfac::test
