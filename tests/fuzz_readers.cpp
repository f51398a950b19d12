// fuzz_readers: the CSV and checkpoint readers fed mutated inputs (issue 14).
//
//   fuzz_readers [iterations = 2000] [seed = 1]
//
// Seeds: a few valid CSV matrices and a real K-FAC checkpoint (a 3-4-2 network after two steps,
// factors and RNG state included). Each iteration takes a seed and applies 1 to 8 mutations (flip
// a byte, insert or delete bytes, duplicate a span, splice in a token such as 1e400, NaN,
// 2147483647, 49.5, a quote, a bracket or a non-UTF-8 byte), then reads the result from a file
// through the program's own readers (read_csv_matrix, load_checkpoint). A reader may succeed or
// throw InputError; any other exception is a finding (printed with the input, exit 1). A crash is
// one too (the process dies; ctest and scripts/fuzz.sh report it). The PRNG is seeded, so a
// finding is reproduced by its iteration count and seed.
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "tkfac/core/csv.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/kfac/checkpoint.hpp"
#include "tkfac/kfac/optimizer_factory.hpp"

namespace {

using tkfac::kfac::Mlp;

std::string checkpoint_seed() {
  Mlp net({3, 4, 2}, tkfac::kfac::Activation::tanh, 7);
  tkfac::kfac::OptimizerConfig config;
  auto opt = tkfac::kfac::make_optimizer(config);
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal;
  tkfac::kfac::Batch batch{Eigen::MatrixXd::NullaryExpr(3, 8, [&] { return normal(rng); }),
                           {0, 1, 0, 1, 1, 0, 0, 1}};
  opt->step(net, batch);
  opt->step(net, batch);
  return tkfac::kfac::checkpoint_json(net, config, *opt, tkfac::kfac::TrainerState{}).dump(1);
}

const std::vector<std::string> kTokens = {
    "1e400", "-1e400", "nan", "NaN", "inf", "-0", "2147483647", "-2147483648",
    "9223372036854775808", "49.5", "1e-320", "0x10", ",", ",,", "\n", "\r\n", "#", "+", "-",
    ".", "e", "{", "}", "[", "]", "\"", ":", "null", "true", "[]", "{}", "\"\"", "\xff",
    "\xc3\x28", std::string(1, '\0'), "   ", "\"layers\"", "\"rows\"", "\"data\"", "-1"};

std::string mutate(std::string s, std::mt19937_64& rng) {
  auto pick = [&](std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(rng() % n); };
  const int count = 1 + static_cast<int>(rng() % 8);
  for (int i = 0; i < count; ++i) {
    const std::size_t at = pick(s.size() + 1);
    switch (rng() % 6) {
      case 0:
        if (!s.empty()) s[pick(s.size())] ^= static_cast<char>(1u << (rng() % 8));
        break;
      case 1:
        s.insert(at, 1, static_cast<char>(rng() % 256));
        break;
      case 2:
        s.erase(at, 1 + pick(16));
        break;
      case 3: {
        const std::size_t from = pick(s.size() + 1);
        const std::string span = s.substr(from, 1 + pick(64));
        s.insert(at, span);
        break;
      }
      default: {
        s.insert(at, kTokens[pick(kTokens.size())]);
        // Replace a number nearby, so tokens land where values are read.
        const std::size_t d = s.find_first_of("0123456789", at + 1);
        if (d != std::string::npos && d < at + 40) {
          const std::size_t e = s.find_first_not_of("0123456789.e-+", d);
          s.replace(d, (e == std::string::npos ? s.size() : e) - d, kTokens[pick(kTokens.size())]);
        }
      }
    }
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const long iterations = argc > 1 ? std::atol(argv[1]) : 2000;
  const unsigned long seed = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 1;
  const std::vector<std::string> csv_seeds = {
      "# a 3x3 SPD matrix\n4,1,0\n1,3,1\n0,1,2\n", "1\n2\n3\n", "1.5e-3, -2 ,+3\r\n4,5,6\n",
      "0.25\n"};
  const std::string ckpt = checkpoint_seed();
  const auto dir = std::filesystem::temp_directory_path() /
                   fmt::format("tkfac-fuzz-{}-{}", ::getpid(), seed);
  std::filesystem::create_directories(dir);
  const std::string file = (dir / "input").string();
  std::mt19937_64 rng(seed);
  long accepted = 0, refused = 0;
  int status = 0;
  for (long i = 0; i < iterations && status == 0; ++i) {
    const bool checkpoint = rng() % 2 == 0;
    const std::string text =
        mutate(checkpoint ? ckpt : csv_seeds[rng() % csv_seeds.size()], rng);
    std::ofstream(file, std::ios::binary | std::ios::trunc) << text;
    try {
      if (checkpoint)
        (void)tkfac::kfac::load_checkpoint(file, "--init");
      else
        (void)tkfac::read_csv_matrix(file);
      ++accepted;
    } catch (const tkfac::InputError&) {
      ++refused;
    } catch (const std::exception& e) {
      std::fprintf(stderr,
                   "finding: iteration %ld (seed %lu), %s reader threw %s, not InputError\n"
                   "input (%zu bytes):\n%s\n",
                   i, seed, checkpoint ? "checkpoint" : "CSV", e.what(), text.size(),
                   text.substr(0, 4000).c_str());
      status = 1;
    }
  }
  std::filesystem::remove_all(dir);
  std::printf("fuzz_readers: %ld inputs (seed %lu): %ld read, %ld refused with InputError%s\n",
              accepted + refused, seed, accepted, refused, status ? ", FINDING" : "");
  return status;
}
