// Each option table's command-line flag is written in one source file outside the tests: its
// table's file. Elsewhere (messages, the command line, parse functions' defaults) it comes from
// the table (options::flag_of), so renaming a flag touches one file. This scans the string
// literals of every C++ source outside tests/ and docs/ for each table flag; inside the table's
// own file a message may still spell its flag (e.g. ThermoOptions::validate's cross-field check).
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tkfac/kfac/kfac_options.hpp"
#include "tkfac/netlist_gen/encoding.hpp"
#include "tkfac/solver/linear_solver.hpp"
#include "tkfac/solver/thermo_options.hpp"

namespace fs = std::filesystem;

namespace {

// The string literals of C++ source `text`, comments and character literals skipped.
std::vector<std::string> string_literals(const std::string& text) {
  std::vector<std::string> out;
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    if (text.compare(i, 2, "//") == 0) {
      i = text.find('\n', i);
      if (i == std::string::npos) break;
    } else if (text.compare(i, 2, "/*") == 0) {
      i = text.find("*/", i + 2);
      if (i == std::string::npos) break;
      i += 2;
    } else if (text.compare(i, 2, "R\"") == 0 &&
               (i == 0 ||
                !(std::isalnum(static_cast<unsigned char>(text[i - 1])) || text[i - 1] == '_'))) {
      const std::size_t open = text.find('(', i + 2);
      if (open == std::string::npos) break;
      std::string close(1, ')');  // )delimiter"
      close.append(text, i + 2, open - i - 2);
      close.push_back('"');
      const std::size_t end = text.find(close, open + 1);
      if (end == std::string::npos) break;
      out.push_back(text.substr(open + 1, end - open - 1));
      i = end + close.size();
    } else if (text[i] == '"' || text[i] == '\'') {
      // A digit separator (1'000) is not a character literal.
      if (text[i] == '\'' && i > 0 && std::isxdigit(static_cast<unsigned char>(text[i - 1]))) {
        ++i;
        continue;
      }
      const char quote = text[i];
      std::string lit;
      ++i;
      while (i < n && text[i] != quote) {
        if (text[i] == '\\' && i + 1 < n) lit += text[i++];
        lit += text[i++];
      }
      ++i;
      if (quote == '"') out.push_back(std::move(lit));
    } else {
      ++i;
    }
  }
  return out;
}

bool flag_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
}

// `flag` as a whole word in `literal`: "--damping" is not in "--damping-scheme" or "x--damping".
bool names_flag(const std::string& literal, const std::string& flag) {
  for (std::size_t at = literal.find(flag); at != std::string::npos;
       at = literal.find(flag, at + 1)) {
    const bool before = at == 0 || !flag_char(literal[at - 1]);
    const std::size_t after = at + flag.size();
    if (before && (after == literal.size() || !flag_char(literal[after]))) return true;
  }
  return false;
}

bool is_source(const fs::path& p) {
  const std::string e = p.extension().string();
  return e == ".cpp" || e == ".hpp" || e == ".h" || e == ".cc";
}

// Every non-test C++ source under the project root, as root-relative paths with its literals.
std::map<std::string, std::vector<std::string>> source_literals(const fs::path& root) {
  std::map<std::string, std::vector<std::string>> out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    const std::string name = it->path().filename().string();
    if (it->is_directory()) {
      // tests and docs may spell flags out; build trees and .git are not sources.
      const bool skip = name == "tests" || name == "docs" || name.rfind("build", 0) == 0 ||
                        name.rfind('.', 0) == 0;
      if (skip) it.disable_recursion_pending();
      continue;
    }
    if (!is_source(it->path())) continue;
    std::ifstream in(it->path());
    std::stringstream text;
    text << in.rdbuf();
    out[fs::relative(it->path(), root).generic_string()] = string_literals(text.str());
  }
  return out;
}

struct TableFlag {
  std::string flag;
  std::string table_file;  // where its table line is
};

template <class S>
void collect(std::vector<TableFlag>& out, const tkfac::options::OptionTable<S>& table,
             const std::string& file) {
  for (const auto& f : table) {
    if (!f.flag.empty()) out.push_back({f.flag, file});
  }
}

std::vector<TableFlag> table_flags() {
  std::vector<TableFlag> out;
  collect(out, tkfac::netlist_gen::netlist_option_table(), "netlist_gen/src/netlist_options.cpp");
  collect(out, tkfac::solver::thermo_option_table(), "solver/src/thermo_options.cpp");
  collect(out, tkfac::solver::solver_option_table(), "solver/src/solver_options.cpp");
  collect(out, tkfac::kfac::kfac_option_table(), "kfac/src/kfac_option_table.cpp");
  return out;
}

// Other options that happen to share a table flag's name (not the table's field, so not taken
// from it): the per-system --damping of netlist/solve/sample/relax (K-FAC's --damping is a
// factor's lambda), relax's own --encoding (which also takes "both"), and the --seed alias of
// the noise seed for commands without a seed of their own.
const std::map<std::string, std::set<std::string>> kOtherOptions = {
    {"--damping",
     {"apps/tkfac/cmd_netlist.cpp", "apps/tkfac/cmd_relax.cpp", "apps/tkfac/cmd_sample.cpp",
      "apps/tkfac/cmd_solve.cpp", "apps/tkfac/inputs.cpp"}},
    {"--encoding", {"apps/tkfac/cmd_relax.cpp"}},
    {"--seed", {"apps/tkfac/netlist_options.cpp", "apps/tkfac/cmd_netlist.cpp"}},
    // tkfac profile's hardware assumptions (HardwareAssumptions): the same meanings as K-FAC's
    // and the thermodynamic options' flags, for a predicted run rather than a real one.
    {"--inverse-interval", {"apps/tkfac/cmd_profile.cpp", "kfac/src/hardware_estimate.cpp"}},
    {"--inverse-precision", {"apps/tkfac/cmd_profile.cpp", "kfac/src/hardware_estimate.cpp"}},
};

}  // namespace

TEST_CASE("flag literals: the scanner reads string literals only, flags as whole words") {
  const std::string code = R"code(
    // "--window" in a comment is documentation
    /* "--burn-in" too */
    const char c = '"';
    int big = 1'000;
    f("--damping-scheme", "x--lr", "--seed=3");
    g("the run (--sim-time {:g} s)");
    h(R"x(raw --max-step)x");
  )code";
  const std::vector<std::string> lits = string_literals(code);
  const auto found = [&](const std::string& flag) {
    return std::any_of(lits.begin(), lits.end(),
                       [&](const std::string& l) { return names_flag(l, flag); });
  };
  CHECK_FALSE(found("--window"));
  CHECK_FALSE(found("--burn-in"));
  CHECK_FALSE(found("--damping"));
  CHECK_FALSE(found("--lr"));
  CHECK(found("--damping-scheme"));
  CHECK(found("--seed"));
  CHECK(found("--sim-time"));
  CHECK(found("--max-step"));
}

TEST_CASE("flag literals: each table flag is written in one non-test source file, its table") {
  const auto sources = source_literals(TKFAC_SOURCE_DIR);
  // The tree was found: the four table files and the command line are among the sources.
  REQUIRE(sources.count("kfac/src/kfac_option_table.cpp") == 1);
  REQUIRE(sources.count("apps/tkfac/cmd_train.cpp") == 1);
  const std::vector<TableFlag> flags = table_flags();
  CHECK(flags.size() >= 36);
  for (const TableFlag& t : flags) {
    std::set<std::string> files;
    for (const auto& [file, lits] : sources) {
      const bool named = std::any_of(lits.begin(), lits.end(),
                                     [&](const std::string& l) { return names_flag(l, t.flag); });
      const auto other = kOtherOptions.find(t.flag);
      if (named && !(other != kOtherOptions.end() && other->second.count(file) > 0)) {
        files.insert(file);
      }
    }
    INFO(
        fmt::format("{} is written in {}; expected only in its table line ({}) and elsewhere "
                    "taken from the table (tkfac::options::flag_of)",
                    t.flag, fmt::join(files, ", "), t.table_file));
    CHECK(files == std::set<std::string>{t.table_file});
  }
}
