// core: CSV matrices, all-or-nothing output files, SPD test matrices.
#include <sys/stat.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli_helpers.hpp"
#include "test_util.hpp"
#include "tkfac/core/csv.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/core/input_file.hpp"
#include "tkfac/core/numbers.hpp"
#include "tkfac/core/output_file.hpp"
#include "tkfac/core/text.hpp"

namespace {

Eigen::MatrixXd parse(const std::string& text) {
  std::istringstream in(text);
  return tkfac::parse_csv_matrix(in, "M.csv");
}

template <class F>
std::string input_error_of(F&& f) {
  try {
    f();
  } catch (const tkfac::InputError& e) {
    return e.what();
  }
  return "no error";
}

std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const tkfac::InputError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("csv: comments, blank lines, spaces and signs") {
  const Eigen::MatrixXd m = parse("# header\n1, -2.5e-3 ,+3\n\n  # note\n4,5,6\r\n");
  Eigen::MatrixXd expected(2, 3);
  expected << 1, -2.5e-3, 3, 4, 5, 6;
  CHECK(m == expected);
}

TEST_CASE("csv: errors name the file, line and column") {
  CHECK(error_of("1,2\n3,x\n") == "M.csv:2: column 2 is 'x', expected a number");
  CHECK(error_of("1,2\n3\n").find("M.csv:2: row has 1 values, but the row on line 1 has 2") == 0);
  CHECK(error_of("1,,2\n").find("M.csv:1: column 2 is empty") == 0);
  CHECK(error_of("1,NaN\n").find("M.csv:1: column 2 is 'NaN', expected a finite number") == 0);
  CHECK(error_of("-inf\n").find("expected a finite number") != std::string::npos);
  CHECK(error_of("1.5.2\n").find("expected a number") != std::string::npos);
  CHECK(error_of("# only a comment\n").find("M.csv: no data") == 0);
  CHECK(error_of("").find("M.csv: no data") == 0);
}

TEST_CASE("csv: writing round-trips every bit") {
  std::mt19937_64 rng(3);
  const Eigen::MatrixXd m = tkfac::random_normal(5, 4, rng) * 1e-7;
  std::ostringstream os;
  tkfac::write_csv_matrix(os, m);
  CHECK(parse(os.str()) == m);
}

TEST_CASE("output files are written whole or not at all") {
  tkfac::test::ScratchDir dir("core-output");
  const std::string path = dir.file("out.txt");
  tkfac::write_file_atomically(path, "--output", [](std::ostream& os) { os << "done\n"; });
  CHECK(std::filesystem::file_size(path) == 5);

  // A writer that fails half-way leaves the previous content and no temporary file.
  CHECK_THROWS_AS(tkfac::write_file_atomically(path, "--output",
                                               [](std::ostream& os) {
                                                 os << "partial";
                                                 throw tkfac::InputError("boom");
                                               }),
                  tkfac::InputError);
  CHECK(std::filesystem::file_size(path) == 5);
  int files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
  CHECK(files == 1);

  CHECK_THROWS_WITH_AS(tkfac::check_writable(dir.file("missing/x"), "--output"),
                       doctest::Contains("does not exist"), tkfac::InputError);
  CHECK_THROWS_WITH_AS(tkfac::check_writable(dir.path().string(), "--output"),
                       doctest::Contains("is a directory"), tkfac::InputError);
}

TEST_CASE("random_spd has the requested spectrum") {
  std::mt19937_64 rng(11);
  for (int n : {1, 2, 7, 20}) {
    const Eigen::MatrixXd m = tkfac::random_spd(n, 1e3, rng, 2.0);
    CHECK(m == m.transpose());
    const Eigen::VectorXd eig = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(m).eigenvalues();
    CHECK(eig(0) == doctest::Approx(2.0).epsilon(1e-10));
    CHECK(eig(n - 1) == doctest::Approx(n == 1 ? 2.0 : 2e3).epsilon(1e-10));
  }
}

TEST_CASE("printable_text escapes control characters and bytes that are not UTF-8") {
  CHECK(tkfac::printable_text("plain name/é ✓.csv") == "plain name/é ✓.csv");
  CHECK(tkfac::printable_text("a\nb\r\tc") == "a\\nb\\r\\tc");
  CHECK(tkfac::printable_text("a\nb", true) == "a\nb");
  CHECK(tkfac::printable_text(std::string("x\0y\x1b\x7f", 5)) == "x\\x00y\\x1b\\x7f");
  // Invalid UTF-8: a lone continuation byte, a truncated sequence, an overlong '/', a surrogate.
  CHECK(tkfac::printable_text("\x80") == "\\x80");
  CHECK(tkfac::printable_text("\xc3") == "\\xc3");
  CHECK(tkfac::printable_text("\xc0\xaf") == "\\xc0\\xaf");
  CHECK(tkfac::printable_text("\xed\xa0\x80") == "\\xed\\xa0\\x80");
  CHECK(tkfac::is_printable_text("M.csv"));
  CHECK_FALSE(tkfac::is_printable_text("M\n.control"));
  CHECK_THROWS_WITH_AS(tkfac::check_script_text("p\n.png", "--plot"),
                       doctest::Contains("--plot 'p\\n.png'"), tkfac::InputError);
}

TEST_CASE("integers are parsed in range, never clamped, truncated or read as octal") {
  CHECK(tkfac::parse_integer<int>("49", 1, 100, "--layers") == 49);
  CHECK(tkfac::parse_integer<int>("010", 1, 100, "--layers") == 10);
  CHECK(tkfac::parse_integer<long>("-5", -10, 10, "x") == -5);
  CHECK(tkfac::parse_integer<std::uint64_t>("18446744073709551615", 0, UINT64_MAX, "--seed") ==
        UINT64_MAX);
  for (const char* bad : {"", "49.5", "1e3", "+3", " 3", "0x10", "2147483648", "-1", "0"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(tkfac::parse_integer<int>(bad, 1, 2147483647, "--layers"), tkfac::InputError);
  }
  CHECK_THROWS_WITH_AS(
      tkfac::parse_integer<std::uint64_t>("18446744073709551616", 0, UINT64_MAX, "--seed"),
      doctest::Contains("--seed: '18446744073709551616' is not an integer in [0, "),
      tkfac::InputError);
  CHECK(tkfac::to_count(2.5, 10, "n") == 3);
  CHECK_THROWS_AS(tkfac::to_count(1e300, 2'000'000'000L, "n"), tkfac::InputError);
  CHECK_THROWS_AS(tkfac::to_count(std::nan(""), 10, "n"), tkfac::InputError);
  CHECK_THROWS_AS(tkfac::require_finite_positive(1e300 * 1e300, "R C"), tkfac::InputError);
  CHECK_THROWS_AS(tkfac::require_finite_positive(1e-300 * 1e-300, "R C"), tkfac::InputError);
}

TEST_CASE("the output-path policy compares files by identity and refuses special files") {
  tkfac::test::ScratchDir dir("core-file-uses");
  const std::string in = dir.file("in.csv");
  std::ofstream(in) << "1\n";
  std::filesystem::create_hard_link(in, dir.file("hard.csv"));
  using tkfac::FileUse;
  CHECK_NOTHROW(tkfac::check_file_uses({{in, "--matrix"}, {in, "--rhs"}, {dir.file("o"), "-o", true}}));
  CHECK_THROWS_WITH_AS(tkfac::check_file_uses({{in, "--matrix"}, {dir.file("hard.csv"), "-o", true}}),
                       doctest::Contains("as --matrix"),
                       tkfac::InputError);
  // Two outputs naming one new file (no inode yet: by canonical path).
  CHECK_THROWS_WITH_AS(tkfac::check_file_uses({{dir.file("n.csv"), "--a", true},
                                               {dir.file("./n.csv"), "--b", true}}),
                       doctest::Contains("another output"), tkfac::InputError);
  CHECK_THROWS_WITH_AS(tkfac::check_writable("/dev/null", "-o"), doctest::Contains("device node"),
                       tkfac::InputError);
  CHECK_THROWS_WITH_AS(tkfac::check_writable("-", "-o"), doctest::Contains("stdout"),
                       tkfac::InputError);
  // Nothing was replaced by a write either: the policy is checked again there.
  std::filesystem::create_symlink(in, dir.file("link.csv"));
  CHECK_THROWS_AS(tkfac::write_file_atomically(dir.file("link.csv"), "-o",
                                               [](std::ostream& os) { os << "x"; }),
                  tkfac::InputError);
  CHECK(std::filesystem::is_symlink(dir.file("link.csv")));
}

// Issue 14: /dev/zero as a CSV was read without limit (4.5 GB after 60 s) and a FIFO nobody
// writes hung the reader. Every input file is now a regular file within a size limit.
TEST_CASE("input files: only regular files within the size limit are read") {
  using tkfac::read_input_file;
  tkfac::test::ScratchDir dir("core-input");
  CHECK(read_input_file(dir.write("M.csv", "1,2\n3,4\n")) == "1,2\n3,4\n");
  CHECK(read_input_file(dir.write("empty.csv", "")).empty());

  std::string e = input_error_of([&] { read_input_file(dir.path().string(), "--matrix"); });
  CHECK(e.find("--matrix '" + dir.path().string() + "': is a directory, expected a regular file") ==
        0);
  const std::string fifo = dir.file("fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  // Nobody writes the FIFO: refused at once, not waited on.
  e = input_error_of([&] { tkfac::read_csv_matrix(fifo); });
  CHECK(e.find(fifo + ": is a FIFO (named pipe), expected a regular file") == 0);
  e = input_error_of([&] { tkfac::read_csv_matrix("/dev/zero"); });
  CHECK(e.find("/dev/zero: is a character device, expected a regular file") == 0);
  e = input_error_of([&] { read_input_file(dir.file("missing.csv")); });
  CHECK(e.find("cannot open file for reading") != std::string::npos);

  // Over the limit (512 MiB by default): refused from its size, before reading (a sparse file).
  const std::string big = dir.write("big.csv", "");
  std::filesystem::resize_file(big, tkfac::max_input_bytes() + 1);
  e = input_error_of([&] { tkfac::read_csv_matrix(big); });
  CHECK(e.find("more than the input limit of 536870912 bytes") != std::string::npos);
  CHECK(e.find("TKFAC_MAX_INPUT_BYTES") != std::string::npos);

  // The limit can be set: a file of exactly the limit is read, one byte more is not.
  ::setenv("TKFAC_MAX_INPUT_BYTES", "8", 1);
  CHECK(read_input_file(dir.write("eight.csv", "1,2,3,4\n")) == "1,2,3,4\n");
  e = input_error_of([&] { read_input_file(dir.write("nine.csv", "1,2,3,45\n")); });
  CHECK(e.find("is 9 bytes, more than the input limit of 8 bytes") != std::string::npos);
  ::setenv("TKFAC_MAX_INPUT_BYTES", "lots", 1);
  e = input_error_of([&] { read_input_file(dir.file("eight.csv")); });
  CHECK(e.find("TKFAC_MAX_INPUT_BYTES: 'lots' is not a positive integer") == 0);
  ::unsetenv("TKFAC_MAX_INPUT_BYTES");
}
