// The `tkfac` program as a user runs it: bad input gives a clear message naming the file, line
// or option, exit code 2, and no output file.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "cli_helpers.hpp"
#include "test_util.hpp"

#include "tkfac/core/csv.hpp"

using tkfac::test::run_command;
using tkfac::test::run_tkfac;
using tkfac::test::ScratchDir;

namespace {

const char* kGoodMatrix = "# a 3x3 SPD matrix\n4,1,0\n1,3,1\n0,1,2\n";
const char* kGoodRhs = "1\n2\n3\n";

// Runs `tkfac <args>` expecting failure: exit 2, every `expected` fragment in the message, and
// no file at `output`.
void check_rejected(const std::string& args, const std::vector<std::string>& expected,
                    const std::string& output) {
  const auto r = run_tkfac(args);
  INFO("tkfac " << args << "\n" << r.output);
  CHECK(r.exit_code == 2);
  for (const auto& e : expected) CHECK(r.output.find(e) != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(output));
  // Nothing half-written next to it either.
  const auto dir = std::filesystem::path(output).parent_path();
  if (!std::filesystem::exists(dir)) return;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    CHECK(entry.path().extension() != ".tmp");
  }
}

// Each bad matrix file, tried with both `netlist` and `solve`.
void check_bad_matrix(const std::string& content, const std::vector<std::string>& expected) {
  ScratchDir dir("cli-bad-matrix");
  const auto m = dir.write("M.csv", content);
  const auto b = dir.write("b.csv", kGoodRhs);
  const auto out = dir.file("out.txt");
  std::vector<std::string> with_file = expected;
  with_file.push_back(m);
  check_rejected(fmt::format("netlist --matrix {} --rhs {} -o {}", m, b, out), with_file, out);
  check_rejected(fmt::format("solve --matrix {} --rhs {} --backend cholesky -o {}", m, b, out),
                 with_file, out);
}

}  // namespace

TEST_CASE("cli: non-square matrix") { check_bad_matrix("1,0,0\n0,1,0\n", {"square", "2x3"}); }

TEST_CASE("cli: asymmetric matrix beyond 1e-12 relative") {
  check_bad_matrix("4,1,0\n1.00000001,3,1\n0,1,2\n", {"symmetric"});
}

TEST_CASE("cli: matrix not positive definite") {
  check_bad_matrix("1,2,0\n2,1,0\n0,0,1\n", {"positive definite"});
}

TEST_CASE("cli: NaN or Inf in the matrix") {
  check_bad_matrix("4,1,0\n1,nan,1\n0,1,2\n", {":2:", "column 2", "finite"});
  check_bad_matrix("4,1,0\n1,3,1\n0,1,inf\n", {":3:", "column 3", "finite"});
}

TEST_CASE("cli: empty matrix file") { check_bad_matrix("", {"no data"}); }

TEST_CASE("cli: ragged rows") { check_bad_matrix("4,1,0\n1,3\n0,1,2\n", {":2:", "2 values"}); }

TEST_CASE("cli: non-numeric cell") {
  check_bad_matrix("4,1,0\n1,three,1\n0,1,2\n", {":2:", "column 2", "'three'", "expected a number"});
}

TEST_CASE("cli: matrix and right-hand side sizes differ") {
  ScratchDir dir("cli-size");
  const auto m = dir.write("M.csv", kGoodMatrix);
  const auto b = dir.write("b.csv", "1\n2\n");
  const auto out = dir.file("x.csv");
  check_rejected(fmt::format("solve --matrix {} --rhs {} -o {}", m, b, out),
                 {b, "2 rows", "expected 3"}, out);
  check_rejected(fmt::format("netlist --matrix {} --rhs {} -o {}", m, b, out),
                 {b, "2 rows", "expected 3"}, out);
}

TEST_CASE("cli: missing input file") {
  ScratchDir dir("cli-missing");
  const auto b = dir.write("b.csv", kGoodRhs);
  const auto out = dir.file("x.csv");
  const auto missing = dir.file("nope.csv");
  check_rejected(fmt::format("solve --matrix {} --rhs {} -o {}", missing, b, out),
                 {missing, "cannot open"}, out);
}

// Issue 14: `/dev/zero` as a CSV was read without limit and a FIFO nobody writes hung tkfac.
// Inputs that are not regular files are refused at once (`timeout` turns a hang into a failure).
TEST_CASE("cli: a FIFO, a device or a directory as input is refused, not read or waited on") {
  ScratchDir dir("cli-special-input");
  const auto m = dir.write("M.csv", kGoodMatrix);
  const auto b = dir.write("b.csv", kGoodRhs);
  const auto out = dir.file("x.csv");
  const auto fifo = dir.file("fifo.csv");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {fmt::format("solve --matrix {} --rhs {} -o {}", fifo, b, out), "FIFO"},
      {fmt::format("solve --matrix {} --rhs /dev/zero -o {}", m, out), "character device"},
      {fmt::format("netlist --matrix {} --rhs {} -o {}", dir.path().string(), b, out),
       "directory"},
      {fmt::format("train --quiet --dataset synthetic --steps 1 --init {} --save {}", fifo, out),
       "FIFO"},
      {fmt::format("train --quiet --dataset synthetic --steps 1 --init {} --save {}",
                   dir.path().string(), out),
       "directory"},
  };
  for (const auto& [args, kind] : cases) {
    const auto r = run_command(fmt::format("timeout 60 {} {}", TKFAC_CLI, args));
    INFO("tkfac " << args << "\n" << r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find(kind) != std::string::npos);
    CHECK(r.output.find("expected a regular file") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(out));
  }
}

// Issue 14 (runaway work): each reproducer ran for minutes or hours, silently, or ran out of
// memory. Each is now refused before it starts, with the estimate and the override.
TEST_CASE("cli: runs over the work or memory budget are refused with the estimate") {
  ScratchDir dir("cli-budget");
  const auto m = dir.write("M.csv", kGoodMatrix);
  const auto b = dir.write("b.csv", kGoodRhs);
  const auto out = dir.file("x.csv");
  const std::string sys = fmt::format("-m {} -b {}", m, b);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {fmt::format("solve {} --backend spice --sim-time 1e300 -o {}", sys, out), "--max-work 0"},
      {fmt::format("solve {} --backend spice --sim-time 1e3 --max-step 1e-12 -o {}", sys, out),
       "--max-work"},
      {fmt::format("train --quiet --dataset synthetic --steps 99999999999999 --save {}", out),
       "--max-work"},
      {fmt::format("train --quiet --dataset synthetic --layers 8,100000,3 --steps 1 --save {}",
                   out),
       "--max-work"},
      {fmt::format("sample {} --backend ou --noise-variance 1e-2 --window 150 -o {}", sys, out),
       "--max-memory"},
      // R = 1e15 ohm: ngspice's steps shrink with the currents (over 11 minutes with noise).
      {fmt::format("solve {} --backend spice --noise-variance 1e-3 --resistance 1e15 -o {}", sys,
                   out),
       "--max-work"},
      // A small budget refuses an ordinary solve; the option says so.
      {fmt::format("--max-work 1e5 solve {} --backend spice -o {}", sys, out), "--max-work"},
  };
  for (const auto& [args, flag] : cases) {
    const auto r = run_command(fmt::format("timeout 60 {} {}", TKFAC_CLI, args));
    INFO("tkfac " << args << "\n" << r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("estimated") != std::string::npos);
    CHECK(r.output.find(flag) != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(out));
  }
  // The default budget lets the same ordinary solve run, and --max-work 0 lifts the limit.
  CHECK(run_tkfac(fmt::format("solve {} --backend spice -o {}", sys, out)).exit_code == 0);
  CHECK(run_tkfac(fmt::format("--max-work 0 solve {} --backend spice -o {}", sys, out)).exit_code ==
        0);
}

TEST_CASE("cli: unwritable output path") {
  ScratchDir dir("cli-unwritable");
  const auto m = dir.write("M.csv", kGoodMatrix);
  const auto b = dir.write("b.csv", kGoodRhs);
  const auto out = dir.file("no-such-dir/x.csv");
  check_rejected(fmt::format("solve --matrix {} --rhs {} -o {}", m, b, out),
                 {"--output", out, "does not exist"}, out);
  check_rejected(fmt::format("netlist --matrix {} --rhs {} -o {}", m, b, out),
                 {"--output", out, "does not exist"}, out);
}

TEST_CASE("cli: unknown option value") {
  ScratchDir dir("cli-option");
  const auto m = dir.write("M.csv", kGoodMatrix);
  const auto b = dir.write("b.csv", kGoodRhs);
  const auto out = dir.file("x.csv");
  check_rejected(fmt::format("solve --matrix {} --rhs {} --backend magic -o {}", m, b, out),
                 {"--backend", "magic", "cholesky"}, out);
  check_rejected(fmt::format("netlist --matrix {} --rhs {} --encoding magic -o {}", m, b, out),
                 {"--encoding", "magic", "behavioral"}, out);
  check_rejected(fmt::format("solve --matrix {} --rhs {} --resistance -5 -o {}", m, b, out),
                 {"--resistance", "-5"}, out);
  check_rejected(fmt::format("netlist --matrix {} --rhs {} --target-error 2 -o {}", m, b, out),
                 {"--target-error"}, out);
  check_rejected(fmt::format("solve --matrix {} --rhs {} --no-such-flag -o {}", m, b, out),
                 {"--no-such-flag"}, out);
}

TEST_CASE("cli: a solution that overflows is refused, not written") {
  ScratchDir dir("cli-overflow");
  const auto m = dir.write("M.csv", "1e-310,0\n0,2e-310\n");
  const auto b = dir.write("b.csv", "1\n1\n");
  const auto out = dir.file("x.csv");
  check_rejected(fmt::format("solve --matrix {} --rhs {} -o {}", m, b, out),
                 {m, "not finite"}, out);
}

TEST_CASE("cli: every subcommand has --help") {
  for (const char* sub : {"demo", "netlist", "solve", "train"}) {
    const auto r = run_tkfac(fmt::format("{} --help", sub));
    INFO(sub << "\n" << r.output);
    CHECK(r.exit_code == 0);
    CHECK(r.output.find("Options:") != std::string::npos);
  }
}

TEST_CASE("cli: solve writes the solution and reports it against cholesky") {
  ScratchDir dir("cli-solve");
  const auto m = dir.write("M.csv", kGoodMatrix);
  const auto b = dir.write("B.csv", "1,0\n2,1\n3,0\n");
  const auto out = dir.file("X.csv");
  for (const char* backend : {"cholesky", "cg", "spice"}) {
    const auto r = run_tkfac(fmt::format("solve --matrix {} --rhs {} --backend {} -o {}", m, b,
                                         backend, out));
    INFO(backend << "\n" << r.output);
    REQUIRE(r.exit_code == 0);
    CHECK(r.output.find("error vs cholesky") != std::string::npos);
    const Eigen::MatrixXd x = tkfac::read_csv_matrix(out);
    Eigen::MatrixXd mm(3, 3);
    mm << 4, 1, 0, 1, 3, 1, 0, 1, 2;
    Eigen::MatrixXd bb(3, 2);
    bb << 1, 0, 2, 1, 3, 0;
    TKFAC_CHECK_REL_NEAR(x, mm.llt().solve(bb), 1e-6);
  }
}

TEST_CASE("cli: netlist to stdout is the same text as to a file") {
  ScratchDir dir("cli-netlist");
  const auto m = dir.write("M.csv", kGoodMatrix);
  const auto b = dir.write("b.csv", kGoodRhs);
  const auto out = dir.file("n.cir");
  const auto to_stdout = tkfac::test::run_command(
      fmt::format("{} netlist --matrix {} --rhs {} --encoding integrator", TKFAC_CLI, m, b));
  REQUIRE(to_stdout.exit_code == 0);
  REQUIRE(run_tkfac(fmt::format("netlist --matrix {} --rhs {} --encoding integrator -o {}", m, b,
                                out)).exit_code == 0);
  std::ifstream in(out);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text == to_stdout.output);
  CHECK(text.find("* tkfac-unknown 0 ") != std::string::npos);
}

// tkfac profile on a small network: the table, CSV and plot, and the speedup column equal to
// the two step times' ratio; bad hardware options refused naming the flag.
TEST_CASE("cli: profile writes a CSV whose speedup is digital over thermodynamic step") {
  ScratchDir dir("cli-profile");
  const std::string csv = dir.file("p.csv"), plot = dir.file("p.png");
  const auto r = run_command(fmt::format(
      "{} --threads 1 profile --depth 3 --widths 8,16 --batch-size 16 --steps 2 --budget 1 "
      "--inverse-interval 5 --csv {} --plot {}",
      TKFAC_CLI, csv, plot));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK(r.output.find("1 BLAS thread(s)") != std::string::npos);
  CHECK(std::filesystem::exists(plot));
  std::ifstream in(csv);
  std::string header, line;
  std::getline(in, header);
  REQUIRE(header.rfind("width,depth,batch,method,", 0) == 0);
  int rows = 0;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    for (std::string c; std::getline(ss, c, ',');) cells.push_back(c);
    REQUIRE(cells.size() == 21);
    const double digital = std::stod(cells[18]), thermo = std::stod(cells[19]);
    const double speedup = std::stod(cells[20]);
    CHECK(speedup == doctest::Approx(digital / thermo).epsilon(1e-5));
    // The Method 1 step at interval 5: gradient + factors + update + inversion / 5.
    if (cells[3] == "inverse") {
      const double expected = std::stod(cells[6]) + std::stod(cells[7]) +
                              std::stod(cells[9]) + std::stod(cells[8]) / 5;
      CHECK(digital == doctest::Approx(expected).epsilon(1e-5));
    }
    ++rows;
  }
  CHECK(rows == 4);  // two widths x two methods
  const auto bad = run_command(fmt::format("{} profile --link 0 --csv '' --plot ''", TKFAC_CLI));
  CHECK(bad.exit_code == 2);
  CHECK(bad.output.find("--link") != std::string::npos);
  for (const auto& [option, value] :
       std::vector<std::pair<std::string, std::string>>{
           {"--steps", "0"}, {"--budget", "nan"}, {"--budget", "-1"}, {"--batch-size", "0"}}) {
    const auto r2 = run_command(
        fmt::format("{} profile {} {} --csv '' --plot ''", TKFAC_CLI, option, value));
    CHECK_MESSAGE(r2.exit_code == 2, option << " " << value);
    CHECK_MESSAGE(r2.output.find(option) != std::string::npos, r2.output);
  }
  const auto big = run_command(fmt::format("{} profile --widths 16384 --depth 1000", TKFAC_CLI));
  CHECK(big.exit_code == 2);
  CHECK(big.output.find("GB") != std::string::npos);
}

// ngspice sources ./.spiceinit (or ~/.spiceinit) at start: a hostile one in the directory a user
// runs tkfac from ran shell commands and aliased `alter` away (multi-right-hand-side solves 54%
// wrong). tkfac starts ngspice in a private directory holding an empty .spiceinit instead.
TEST_CASE("cli: a hostile .spiceinit in the working directory is not read by ngspice") {
  ScratchDir dir("cli-spiceinit");
  dir.write(".spiceinit", "echo hostile-init-ran\nshell touch pwned\nalias alter echo\n");
  dir.write("M.csv", "4,1,0\n1,3,1\n0,1,2\n");
  dir.write("B.csv", "1,0\n2,1\n3,0\n");
  const auto r = run_command(fmt::format("cd '{}' && {} solve -m M.csv -b B.csv --backend spice",
                                         dir.path().string(), TKFAC_CLI));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK(r.output.find("hostile-init-ran") == std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.path() / "pwned"));
  // Both right-hand sides solved: alter was not aliased away (it left a 5e-1 error).
  const auto at = r.output.find("error vs cholesky");
  REQUIRE(at != std::string::npos);
  CHECK(std::stod(r.output.substr(at + std::string("error vs cholesky").size())) < 1e-6);
}

// relax --sizes 1 --kappas 10 once crashed (SIGSEGV), then ran nothing and exited 0.
TEST_CASE("cli: relax with no matrix to measure says so, exit 2") {
  ScratchDir dir("cli-relax-empty");
  const std::string csv = dir.file("r.csv");
  const auto r = run_command(
      fmt::format("{} relax --sizes 1 --kappas 10 --csv {}", TKFAC_CLI, csv));
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("--sizes") != std::string::npos);
  CHECK(r.output.find("condition number 1") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(csv));
}

// Issue 14, output-path policy: an output that is an input (or another output) of the same
// command, or a special file, is refused naming the options, and the input is left intact.
namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// `tkfac <args>` must exit 2 with every fragment in its message, and `input` keep `content`.
void check_refused_keeps(const std::string& args, const std::vector<std::string>& expected,
                         const std::string& input, const std::string& content) {
  const auto r = run_tkfac(args);
  INFO("tkfac " << args << "\n" << r.output);
  CHECK(r.exit_code == 2);
  for (const auto& e : expected) CHECK(r.output.find(e) != std::string::npos);
  CHECK(read_all(input) == content);
  for (const auto& entry : std::filesystem::directory_iterator(
           std::filesystem::path(input).parent_path())) {
    CHECK(entry.path().extension() != ".tmp");
  }
}

}  // namespace

TEST_CASE("cli: an output that is one of the command's inputs is refused, the input intact") {
  ScratchDir dir("cli-same-file");
  const auto m = dir.write("M.csv", kGoodMatrix);
  const auto b = dir.write("b.csv", kGoodRhs);
  // The same name, another spelling of it, a symlink to it and a hard link to it.
  std::filesystem::create_directory(dir.file("sub"));
  const std::string spelled = dir.file("sub/../M.csv");
  std::filesystem::create_symlink(m, dir.file("M-link.csv"));
  std::filesystem::create_hard_link(m, dir.file("M-hard.csv"));
  for (const std::string& out : {m, spelled, dir.file("M-hard.csv")}) {
    CAPTURE(out);
    check_refused_keeps(fmt::format("solve -m {} -b {} -o {}", m, b, out),
                        {"--output", "--matrix", "same file"}, m, kGoodMatrix);
    check_refused_keeps(fmt::format("netlist -m {} -b {} -o {}", m, b, out),
                        {"--output", "--matrix", "same file"}, m, kGoodMatrix);
    check_refused_keeps(fmt::format("sample --backend ou -m {} -b {} --noise-variance 1e-2 -o {}",
                                    m, b, out),
                        {"--output", "--matrix", "same file"}, m, kGoodMatrix);
    check_refused_keeps(fmt::format("relax -m {} -b {} --csv {}", m, b, out),
                        {"--csv", "--matrix", "same file"}, m, kGoodMatrix);
  }
  // An input read through a symlink is the same file as its target.
  check_refused_keeps(fmt::format("solve -m {} -b {} -o {}", dir.file("M-link.csv"), b, m),
                      {"--output", "--matrix", "same file"}, m, kGoodMatrix);
  // The right-hand side, and two outputs of one command.
  check_refused_keeps(fmt::format("solve -m {} -b {} -o {}", m, b, b),
                      {"--output", "--rhs", "same file"}, b, kGoodRhs);
  const auto r = run_tkfac(fmt::format(
      "sample --backend ou -m {} -b {} --noise-variance 1e-2 -o {} --mean-out {}", m, b,
      dir.file("x.csv"), dir.file("x.csv")));
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("--mean-out") != std::string::npos);
  CHECK(r.output.find("another output") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.file("x.csv")));
  // robustness's table and figure: one path for both is refused before any training.
  const auto rb = run_tkfac(fmt::format("robustness --steps 1 --seeds 1 --csv {0} --plot {0}",
                                        dir.file("r.png")));
  INFO(rb.output);
  CHECK(rb.exit_code == 2);
  CHECK(rb.output.find("another output") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.file("r.png")));
}

TEST_CASE("cli: a symlink, FIFO, device node or directory is never replaced by an output") {
  ScratchDir dir("cli-special-output");
  const auto m = dir.write("M.csv", kGoodMatrix);
  const auto b = dir.write("b.csv", kGoodRhs);
  const auto target = dir.write("target.csv", "keep\n");
  std::filesystem::create_symlink(target, dir.file("link.csv"));
  REQUIRE(::mkfifo(dir.file("fifo").c_str(), 0600) == 0);
  std::filesystem::create_directory(dir.file("d"));
  const struct {
    std::string path;
    const char* kind;
  } cases[] = {{dir.file("link.csv"), "symbolic link"},
               {dir.file("fifo"), "FIFO"},
               {"/dev/null", "device node"},
               {dir.file("d"), "directory"}};
  for (const auto& c : cases) {
    CAPTURE(c.path);
    const auto r = run_tkfac(fmt::format("solve -m {} -b {} -o {}", m, b, c.path));
    INFO(r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find(c.kind) != std::string::npos);
  }
  CHECK(std::filesystem::is_symlink(dir.file("link.csv")));
  CHECK(read_all(target) == "keep\n");
  CHECK(std::filesystem::is_fifo(dir.file("fifo")));
  CHECK(std::filesystem::is_character_file("/dev/null"));
  // `-` is stdout where a command offers it (netlist), refused where it does not.
  const auto to_stdout = run_tkfac(fmt::format("netlist -m {} -o -", m));
  CHECK(to_stdout.exit_code == 0);
  CHECK(to_stdout.output.find(".end") != std::string::npos);
  CHECK(run_tkfac(fmt::format("solve -m {} -b {} -o -", m, b)).exit_code == 2);
}

// Issue 14, injection: outside text reaches a netlist or gnuplot script only as one line.
TEST_CASE("cli: a path with a newline cannot inject netlist cards or gnuplot commands") {
  ScratchDir dir("cli-injection");
  const auto m = dir.write("M.csv", kGoodMatrix);
  const auto b = dir.write("b.csv", kGoodRhs);
  // The plot path reaches gnuplot's command line and script verbatim: refused.
  const std::string plot = dir.file("p\nshell touch pwned\n.png");
  const auto r = run_tkfac(fmt::format("relax -m '{}' -b '{}' --plot '{}'", m, b, plot));
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("--plot") != std::string::npos);
  CHECK(r.output.find("control character") != std::string::npos);
  // The message shows the name escaped, one line.
  CHECK(r.output.find("p\\nshell touch pwned\\n.png") != std::string::npos);
  // --wrdata reaches the .control block as a word: refused with a newline or a space.
  for (const std::string& w : {std::string("x\nshell touch pwned"), std::string("a b")}) {
    const auto rw = run_tkfac(fmt::format("netlist -m '{}' --control --wrdata '{}'", m, w));
    INFO(rw.output);
    CHECK(rw.exit_code == 2);
    CHECK(rw.output.find("--wrdata") != std::string::npos);
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    CHECK(entry.path().filename().string().find("pwned") == std::string::npos);
  }
}

// Issue 14, range checks: numbers are never clamped, truncated or overflowed.
TEST_CASE("cli: out-of-range numbers and derived values beyond double precision are refused") {
  ScratchDir dir("cli-ranges");
  const auto m = dir.write("M.csv", kGoodMatrix);
  const auto b = dir.write("b.csv", kGoodRhs);
  const auto out = dir.file("out.txt");
  // R C = 1e600 s is inf: the netlist had `.tran 0 0`.
  check_rejected(fmt::format("netlist -m {} --resistance 1e300 --capacitance 1e300 -o {}", m, out),
                 {"finite positive"}, out);
  // 1e300 s of burn-in as a sample count overflowed a long.
  check_rejected(fmt::format("solve --backend ou -m {} -b {} --noise-variance 1e-2 --burn-in "
                             "1e300 -o {}",
                             m, b, out),
                 {"--burn-in", "not a count"}, out);
  // A subnormal coupling's integrator resistor R / |m| is inf.
  const auto sub = dir.write("sub.csv", "1,1e-320\n1e-320,1\n");
  check_rejected(fmt::format("netlist -m {} --encoding integrator -o {}", sub, out),
                 {"would be inf"}, out);
  // M = 1e-300 I, b = 1e300: the read-out scale s_b / s_M is inf.
  const auto tiny = dir.write("tiny.csv", "1e-300,0\n0,1e-300\n");
  const auto huge = dir.write("huge.csv", "1e300\n1\n");
  check_rejected(fmt::format("netlist -m {} -b {} -o {}", tiny, huge, out),
                 {"read-out scale", "inf"}, out);
  // relax takes one right-hand side; a second and third column were dropped silently.
  const auto b3 = dir.write("b3.csv", "1,2,3\n1,2,3\n1,2,3\n");
  check_rejected(fmt::format("relax -m {} -b {} --csv {}", m, b3, out), {"--rhs", "3 columns"},
                 out);
  // Integers: 2^64 is not clamped to 2^64 - 1 (CLI11's strtoull), a leading 0 is not octal.
  check_rejected(fmt::format("netlist -m {} --noise-variance 1e-3 --seed 18446744073709551616 "
                             "-o {}",
                             m, out),
                 {"--seed", "18446744073709551616", "not an integer"}, out);
  const auto seed10 = run_tkfac(fmt::format("netlist -m {} --noise-variance 1e-3 --seed 10", m));
  const auto seed010 = run_tkfac(fmt::format("netlist -m {} --noise-variance 1e-3 --seed 010", m));
  CHECK(seed10.exit_code == 0);
  CHECK(seed010.output == seed10.output);
}

TEST_CASE("cli: error messages escape bytes that are not UTF-8 instead of echoing them") {
  ScratchDir dir("cli-binary");
  const auto bin = dir.write("M.csv", std::string("1,\xff\xfe\x01\x1b[31m,2\n", 13));
  const auto r = run_tkfac(fmt::format("netlist -m {}", bin));
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK(r.output.find('\xff') == std::string::npos);
  CHECK(r.output.find('\x1b') == std::string::npos);
  CHECK(r.output.find("\\xff") != std::string::npos);
}

TEST_CASE("cli: a command-line parse error escapes the argument it quotes") {
  // CLI11's own message names the option and quotes the value: an escape sequence given as a
  // value must come back escaped, with exit code 2.
  const auto r = run_tkfac("train --steps \"$(printf '\\033[2J\\377')\"");  // /bin/sh
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("--steps") != std::string::npos);
  CHECK(r.output.find('\x1b') == std::string::npos);
  CHECK(r.output.find('\xff') == std::string::npos);
  CHECK(r.output.find("\\x1b[2J\\xff") != std::string::npos);
}

TEST_CASE("cli: solve warns when --sim-time is too short for the requested precision") {
  ScratchDir dir("cli-sim-time");
  const auto m = dir.write("M.csv", kGoodMatrix);
  const auto b = dir.write("b.csv", kGoodRhs);
  // tau = R C / alpha_min is about 2.7 us here: 0.1 us leaves most of the error, 1 ms none.
  const auto short_run = run_tkfac(fmt::format("solve --backend spice -m {} -b {} --sim-time 1e-7", m, b));
  INFO(short_run.output);
  CHECK(short_run.exit_code == 0);
  CHECK(short_run.output.find("warning") != std::string::npos);
  CHECK(short_run.output.find("exp(-T/tau)") != std::string::npos);
  const auto long_run = run_tkfac(fmt::format("solve --backend spice -m {} -b {} --sim-time 1e-3", m, b));
  CHECK(long_run.exit_code == 0);
  CHECK(long_run.output.find("warning") == std::string::npos);
}
