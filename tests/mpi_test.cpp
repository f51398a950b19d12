// `mpiexec -n 2 tkfac train` against one process: the same trajectory (log) and checkpoint, bit
// for bit, for every kind of solver; a failing or dying rank ends the job within seconds with a
// message naming the rank and the solve. And the pieces without MPI: the cost assignment and a
// Solution's bytes.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cli_helpers.hpp"
#include "test_util.hpp"
#include "tkfac/core/csv.hpp"
#include "tkfac/parallel/assignment.hpp"
#include "tkfac/parallel/solution_codec.hpp"

using tkfac::test::run_command;
using tkfac::test::run_tkfac;
using tkfac::test::ScratchDir;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The log without its wall_seconds column (the second): the only one that is not a function of
// the inputs.
std::string log_without_wall_time(const std::string& path) {
  std::ifstream in(path);
  std::string out;
  std::size_t column = std::string::npos;  // wall_seconds' position, from the header line
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    for (std::string c; std::getline(ss, c, ',');) cells.push_back(c);
    if (column == std::string::npos) {
      column = static_cast<std::size_t>(std::find(cells.begin(), cells.end(), "wall_seconds") -
                                        cells.begin());
      REQUIRE(column < cells.size());
    }
    if (column < cells.size()) cells.erase(cells.begin() + static_cast<std::ptrdiff_t>(column));
    for (std::size_t i = 0; i < cells.size(); ++i) out += (i ? "," : "") + cells[i];
    out += "\n";
  }
  return out;
}

// The harness's switches for Open MPI (root in CI, more ranks than cores), not a user default.
std::string mpiexec(int ranks, const std::string& options = "") {
  return fmt::format("{} --allow-run-as-root --oversubscribe {} -n {} {}", TKFAC_MPIEXEC, options,
                     ranks, TKFAC_CLI);
}

// Plain, `mpiexec -n 1` and `mpiexec -n 2` runs of `train <args>`: equal logs and checkpoints.
void check_same_for_any_ranks(const std::string& args) {
  ScratchDir dir("mpi");
  const std::string common =
      "train --quiet --dataset synthetic --layers 8,8,3 --batch-size 32 --steps 4 " + args;
  const auto run = [&](const std::string& prefix, const std::string& name) {
    const auto r = run_command(fmt::format("{} {} --log {} --save {}", prefix, common,
                                           dir.file(name + ".csv"), dir.file(name + ".json")));
    INFO(prefix << " " << common << "\n" << r.output);
    REQUIRE(r.exit_code == 0);
  };
  run(TKFAC_CLI, "plain");
  run(mpiexec(1), "one");
  run(mpiexec(2), "two");
  const std::string log = log_without_wall_time(dir.file("plain.csv"));
  const std::string checkpoint = read_file(dir.file("plain.json"));
  CHECK(log.size() > 100);
  for (const std::string name : {"one", "two"}) {
    INFO(name);
    CHECK(log_without_wall_time(dir.file(name + ".csv")) == log);
    CHECK(read_file(dir.file(name + ".json")) == checkpoint);
  }
}

}  // namespace

TEST_CASE("mpi: cholesky K-FAC under mpiexec -n 1 and 2 equals one process bit for bit") {
  check_same_for_any_ranks("--solver cholesky --inverse-interval 2");
}

TEST_CASE("mpi: noisy ou K-FAC (Methods 1 and 2) under mpiexec equals one process bit for bit") {
  check_same_for_any_ranks("--solver ou --noise-variance 1e-3 --inverse-interval 2");
  check_same_for_any_ranks("--solver ou --noise-variance 1e-3 --method solve");
}

TEST_CASE("mpi: noiseless spice K-FAC under mpiexec equals one process bit for bit") {
  // Its large factors are solved in column pieces on both ranks and merged.
  check_same_for_any_ranks("--solver spice --inverse-interval 2");
  check_same_for_any_ranks("--solver spice --method solve");
}

TEST_CASE("mpi: noisy spice K-FAC under mpiexec equals one process bit for bit") {
  check_same_for_any_ranks("--solver spice --noise-variance 1e-3 --inverse-interval 2");
  // Each factor's covariance in 3 independent runs, spread over the ranks and pooled.
  check_same_for_any_ranks(
      "--solver spice --noise-variance 1e-3 --inverse-interval 2 --covariance-runs 3");
}

TEST_CASE("mpi: solve with many right-hand sides under mpiexec -n 2 is shared, the same answer") {
  // The noiseless spice solve of 12 right-hand sides in column pieces on two ranks: the same
  // solution file, bit for bit, as one process; the report says the ranks shared it.
  ScratchDir dir("mpi-solve");
  {
    std::mt19937_64 rng(5);
    const Eigen::MatrixXd m = tkfac::random_spd(10, 100.0, rng);
    const Eigen::MatrixXd b = tkfac::random_normal(10, 12, rng);
    std::ofstream mo(dir.file("m.csv")), bo(dir.file("b.csv"));
    tkfac::write_csv_matrix(mo, m);
    tkfac::write_csv_matrix(bo, b);
  }
  const std::string args = fmt::format("solve --backend spice -m {} -b {} -o ", dir.file("m.csv"),
                                       dir.file("b.csv"));
  const auto plain = run_tkfac(args + dir.file("plain.csv"));
  INFO(plain.output);
  REQUIRE(plain.exit_code == 0);
  const auto r = run_command(fmt::format("{} {}{}", mpiexec(2), args, dir.file("two.csv")));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(read_file(dir.file("two.csv")) == read_file(dir.file("plain.csv")));
  CHECK(read_file(dir.file("plain.csv")).size() > 200);
  // Both ranks solved some of the columns: the mpi line's max/mean of the ranks' solve times
  // would be 2 if one rank had solved them all (its halves are 6 runs each, about 1).
  const auto at = r.output.find("(max/mean ");
  REQUIRE(at != std::string::npos);
  CHECK(std::stod(r.output.substr(at + 10)) < 1.9);
}

TEST_CASE("mpi: a failing rank ends every rank within seconds, named by rank and solve") {
  ScratchDir dir("mpi-fail");
  const std::string args = fmt::format(
      "train --dataset synthetic --layers 8,8,3 --batch-size 32 --steps 4 --solver spice "
      "--noise-variance 1e-3 "
      "--log {} --save {}",
      dir.file("log.csv"), dir.file("c.json"));
  struct Case {
    std::string spec;
    int exit_code;  // -1: any non-zero
    std::string message;
  };
  for (const Case& c :
       {Case{"1", 3, "simulation failed: rank 1, solve 'layer "},
        Case{"1:input", 2, "error: rank 1, solve 'layer "}, Case{"1:kill", -1, "rank 1"}}) {
    INFO(c.spec);
    const auto start = std::chrono::steady_clock::now();
    const auto r = run_command(fmt::format("TKFAC_TEST_FAIL_RANK={} {} {}", c.spec,
                                           mpiexec(2, "-x TKFAC_TEST_FAIL_RANK"), args));
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    INFO(r.output);
    if (c.exit_code >= 0) {
      CHECK(r.exit_code == c.exit_code);
    } else {
      CHECK(r.exit_code != 0);
    }
    CHECK(r.output.find(c.message) != std::string::npos);
    if (c.spec != "1:kill") CHECK(r.output.find("injected failure") != std::string::npos);
    CHECK(seconds < 20.0);  // the solves themselves take well under a second
    CHECK_FALSE(std::filesystem::exists(dir.file("log.csv")));
    CHECK_FALSE(std::filesystem::exists(dir.file("c.json")));
    for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
      CHECK(e.path().extension() != ".tmp");
    }
  }
}

TEST_CASE("mpi: a relax sweep under mpiexec -n 2 is shared by the ranks, the same table") {
  ScratchDir dir("mpi-relax");
  const std::string args = "relax --sizes 4 8 --kappas 10 100 --encoding behavioral --csv ";
  REQUIRE(run_tkfac(args + dir.file("plain.csv")).exit_code == 0);
  const auto r = run_command(fmt::format("{} {}{}", mpiexec(2), args, dir.file("two.csv")));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const std::string table = log_without_wall_time(dir.file("plain.csv"));
  CHECK(std::count(table.begin(), table.end(), '\n') == 9);  // header and 8 cases
  CHECK(log_without_wall_time(dir.file("two.csv")) == table);
  // Rank 1 measures some of the cases: a failure injected there is named, on rank 0, exit 2,
  // and no table is written.
  const auto f = run_command(fmt::format("TKFAC_TEST_FAIL_RANK=1:input {} {}{}",
                                         mpiexec(2, "-x TKFAC_TEST_FAIL_RANK"), args,
                                         dir.file("fail.csv")));
  INFO(f.output);
  CHECK(f.exit_code == 2);
  CHECK(f.output.find("rank 1, task 'behavioral ") != std::string::npos);
  CHECK(f.output.find("injected failure") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.file("fail.csv")));
}

TEST_CASE("mpi: bad input under mpiexec exits with 2 and one message") {
  const auto r = run_command(mpiexec(2) + " train --dataset synthetic --steps 0");
  INFO(r.output);
  CHECK(r.exit_code == 2);
  const auto first = r.output.find("--steps: must be positive");
  REQUIRE(first != std::string::npos);
  CHECK(r.output.find("--steps: must be positive", first + 1) == std::string::npos);
}

TEST_CASE("mpi: netlist --all under mpiexec -n 2 writes the directory once, as one process") {
  ScratchDir dir("mpi-netlist");
  const std::string model = dir.file("c.json");
  REQUIRE(run_tkfac(fmt::format("train --quiet --dataset synthetic --layers 8,8,3 --steps 2 "
                                "--save {}",
                                model))
              .exit_code == 0);
  const std::string args =
      fmt::format("netlist --model {} --dataset synthetic --batch-size 16 --all ", model);
  REQUIRE(run_tkfac(args + dir.file("plain")).exit_code == 0);
  const auto r = run_command(fmt::format("{} {}{}", mpiexec(2), args, dir.file("two")));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.file("plain"))) {
    const std::string name = e.path().filename().string();
    CHECK(read_file(dir.file("two/" + name)) == read_file(e.path().string()));
    ++files;
  }
  CHECK(files == 6);  // four netlists, index.csv, index.json
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    CHECK(e.path().filename().string().find(".tmp") == std::string::npos);
  }
}

TEST_CASE("assignment: largest first, each to the least-loaded rank") {
  using tkfac::parallel::assign_by_cost;
  CHECK(assign_by_cost({4, 1, 3, 2}, 2) == std::vector<int>{0, 0, 1, 1});  // 4 | 3, 2 | 1
  CHECK(assign_by_cost({5, 5, 5}, 2) == std::vector<int>{0, 1, 0});  // ties: lower index, rank
  CHECK(assign_by_cost({1, 2}, 4) == std::vector<int>{1, 0});
  const std::vector<double> costs = {10, 1, 1, 1, 1};
  const auto b = tkfac::parallel::balance(costs, assign_by_cost(costs, 2), 2);
  CHECK(b.max == 10.0);
  CHECK(b.mean == 7.0);
}

TEST_CASE("assignment: a large splittable system in column pieces filling the ranks, the others whole") {
  using tkfac::parallel::plan_work;
  // Sum 100, 2 ranks, mean 50, half a share 25. Whole first: 20 -> rank 0, 10 -> rank 1. The 70
  // (10 columns of 7) fills rank 1 (load 10) with 6 columns up to 52, rank 0 takes the other 4:
  // loads 48 and 52, two pieces (not three).
  const auto w = plan_work({70, 20, 10}, {10, 4, 3}, {true, true, false}, 2);
  REQUIRE(w.pieces.size() == 4);
  REQUIRE(w.owner.size() == 4);
  CHECK((w.pieces[0].item == 0 && w.pieces[0].first == 0 && w.pieces[0].columns == 6));
  CHECK(w.owner[0] == 1);
  CHECK(w.pieces[0].cost == doctest::Approx(42.0));
  CHECK((w.pieces[1].item == 0 && w.pieces[1].first == 6 && w.pieces[1].columns == 4));
  CHECK(w.owner[1] == 0);
  CHECK((w.pieces[2].item == 1 && w.pieces[2].first == -1 && w.pieces[2].cost == 20.0));
  CHECK(w.owner[2] == 0);
  CHECK((w.pieces[3].item == 2 && w.pieces[3].first == -1 && w.owner[3] == 1));
  std::vector<double> c;
  for (const auto& p : w.pieces) c.push_back(p.cost);
  const auto b = tkfac::parallel::balance(c, w.owner, 2);
  CHECK(b.max == doctest::Approx(52.0));
  // Not splittable, or one rank: whole, one piece per system.
  CHECK(plan_work({70, 20, 10}, {10, 4, 3}, {false, false, false}, 2).pieces.size() == 3);
  CHECK(plan_work({70, 20, 10}, {10, 4, 3}, {true, true, true}, 1).pieces.size() == 3);
  // Many ranks: every column of a 4-column system on its own rank at most, all columns placed
  // once and in order.
  const auto m = plan_work({40, 1}, {4, 1}, {true, false}, 8);
  long next = 0;
  for (const auto& p : m.pieces) {
    if (p.item != 0) continue;
    CHECK(p.first == next);
    next += p.columns;
  }
  CHECK(next == 4);
  // Random batches: the loads end within one column's cost of the mean, every column once.
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0.1, 10.0);
  for (int trial = 0; trial < 200; ++trial) {
    const int ranks = 2 + trial % 7;
    std::vector<double> costs = {u(rng) * 20, u(rng) * 5};
    std::vector<long> cols = {50, 33};
    std::vector<bool> split = {true, true};
    for (int j = 0; j < 4; ++j) {
      costs.push_back(u(rng));
      cols.push_back(10);
      split.push_back(false);
    }
    const auto p = plan_work(costs, cols, split, ranks);
    std::vector<double> pc;
    std::vector<long> placed(costs.size(), 0);
    for (const auto& q : p.pieces) {
      pc.push_back(q.cost);
      placed[q.item] += q.columns;
    }
    CHECK(placed == cols);
    const auto bal = tkfac::parallel::balance(pc, p.owner, ranks);
    const double biggest_whole = *std::max_element(costs.begin() + 2, costs.end());
    const double column = std::max(costs[0] / 50, costs[1] / 33);
    CAPTURE(trial);
    CHECK(bal.max <= bal.mean + std::max(column, biggest_whole) + 1e-9);
  }
}

TEST_CASE("assignment: an inverse of several covariance runs is always one piece per run") {
  using tkfac::parallel::plan_work;
  // Item 0 has 4 runs: 4 pieces at any rank count (even 1), a quarter of the cost each; item 2
  // whole.
  for (int ranks : {1, 2, 8}) {
    CAPTURE(ranks);
    const auto w = plan_work({80, 20, 10}, {10, 4, 3}, {false, false, false}, ranks, {4, 0, 0});
    const auto& p = w.pieces;
    REQUIRE(p.size() == 6u);
    for (int k = 0; k < 4; ++k) {
      CHECK(p[k].item == 0u);
      CHECK(p[k].segment == k);
      CHECK(p[k].first == -1);
      CHECK(p[k].cost == 20.0);
    }
    CHECK(p[4].segment == -1);
    CHECK(p[5].item == 2u);
    for (int o : w.owner) CHECK((o >= 0 && o < ranks));
  }
}

TEST_CASE("solution codec: every field comes back bit for bit") {
  tkfac::solver::Solution s;
  s.x = Eigen::MatrixXd::Random(3, 2);
  tkfac::solver::SolveReport& r = s.report;
  r.backend = "spice";
  r.method = "covariance";
  r.wall_seconds = 0.1;
  r.analog_seconds = 1.0 / 3.0;
  r.predicted_tau = 2e-6;
  r.simulator_steps = 12345;
  r.iterations = 7;
  r.converged = false;
  r.estimator = "mean";
  r.burn_in_seconds = 1e-5;
  r.window_seconds = 2e-5;
  r.sample_interval = 3e-7;
  r.samples = 99;
  r.effective_samples = 12.5;
  r.standard_error = 0.01;
  r.standard_errors = Eigen::MatrixXd::Random(3, 2);
  r.run_analog_seconds = {1e-6, 2e-6};
  r.adc_conversions = 40;
  r.adc_clipped = 3;
  r.dac_clipped = 2;
  tkfac::parallel::ByteWriter w;
  w.put_solution(s);
  tkfac::parallel::ByteReader in(w.bytes().data(), w.bytes().size());
  const tkfac::solver::Solution t = in.get_solution();
  CHECK(in.done());
  CHECK(bool(t.x == s.x));
  CHECK(bool(t.report.standard_errors == r.standard_errors));
  const tkfac::solver::SolveReport& u = t.report;
  CHECK((u.backend == r.backend && u.method == r.method && u.estimator == r.estimator));
  CHECK((u.wall_seconds == r.wall_seconds && u.analog_seconds == r.analog_seconds &&
         u.predicted_tau == r.predicted_tau && u.simulator_steps == r.simulator_steps &&
         u.iterations == r.iterations && u.converged == r.converged));
  CHECK((u.burn_in_seconds == r.burn_in_seconds && u.window_seconds == r.window_seconds &&
         u.sample_interval == r.sample_interval && u.samples == r.samples &&
         u.effective_samples == r.effective_samples && u.standard_error == r.standard_error));
  CHECK(u.run_analog_seconds == r.run_analog_seconds);
  CHECK((u.adc_conversions == 40 && u.adc_clipped == 3 && u.dac_clipped == 2));
}
