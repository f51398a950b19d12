// `tkfac train` as a user runs it: outputs, checkpoint resume, and bad input (exit code 2, a
// message naming the option or file, no output file).
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_helpers.hpp"
#include "test_util.hpp"

using tkfac::test::run_tkfac;
using tkfac::test::ScratchDir;

namespace {

void check_rejected(const std::string& args, const std::vector<std::string>& expected,
                    const std::vector<std::string>& outputs) {
  const auto r = run_tkfac(args);
  INFO("tkfac " << args << "\n" << r.output);
  CHECK(r.exit_code == 2);
  for (const auto& e : expected) CHECK(r.output.find(e) != std::string::npos);
  for (const auto& o : outputs) {
    CHECK_FALSE(std::filesystem::exists(o));
    for (const auto& entry :
         std::filesystem::directory_iterator(std::filesystem::path(o).parent_path())) {
      CHECK(entry.path().extension() != ".tmp");
    }
  }
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

}  // namespace

TEST_CASE("train: synthetic run writes log, plot and checkpoint, and --init resumes bit for bit") {
  ScratchDir dir("train-cli");
  const std::string common =
      "train --quiet --dataset synthetic --batch-size 32 --fisher mc --momentum 0.5 "
      "--inverse-interval 3";
  const auto full =
      run_tkfac(fmt::format("{} --steps 30 --save {} --log {} --plot {}", common,
                            dir.file("full.json"), dir.file("log.csv"), dir.file("p.png")));
  INFO(full.output);
  REQUIRE(full.exit_code == 0);
  CHECK(std::filesystem::file_size(dir.file("p.png")) > 1000);
  CHECK(std::filesystem::exists(dir.file("p.png.gp")));
  std::ifstream log(dir.file("log.csv"));
  std::string header;
  std::getline(log, header);
  CHECK(header ==
        "step,wall_seconds,analog_seconds,analog_seconds_total,train_loss,train_accuracy,test_loss,"
        "test_accuracy");
  long lines = 0;
  for (std::string l; std::getline(log, l);) ++lines;
  CHECK(lines == 30);

  REQUIRE(run_tkfac(fmt::format("{} --steps 20 --save {}", common, dir.file("a.json"))).exit_code ==
          0);
  const auto resumed =
      run_tkfac(fmt::format("train --quiet --dataset synthetic --steps 10 --init {} --save {}",
                            dir.file("a.json"), dir.file("b.json")));
  INFO(resumed.output);
  REQUIRE(resumed.exit_code == 0);
  const auto a = read_json(dir.file("full.json")), b = read_json(dir.file("b.json"));
  CHECK(a["parameters"] == b["parameters"]);
  CHECK(a["optimizer"] == b["optimizer"]);
  CHECK(a["trainer"] == b["trainer"]);
}

TEST_CASE("train: --compare trains every run from the same start") {
  ScratchDir dir("train-cli-compare");
  const auto r =
      run_tkfac(fmt::format("train --dataset synthetic --steps 40 --compare "
                            "sgd,adam,kfac:cholesky,kfac:cg --log {} --plot {}",
                            dir.file("log.csv"), dir.file("p.svg")));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  for (const char* run : {"sgd ", "adam ", "kfac:cholesky ", "kfac:cg "})
    CHECK(r.output.find(run) != std::string::npos);
  CHECK(std::filesystem::file_size(dir.file("p.svg")) > 1000);
  std::ifstream log(dir.file("log.csv"));
  std::string header;
  std::getline(log, header);
  CHECK(header.rfind("run,step,", 0) == 0);
}

TEST_CASE("train: bad input exits with 2 and names the option or file") {
  ScratchDir dir("train-cli-bad");
  const std::string log = dir.file("log.csv"), save = dir.file("s.json");
  const std::string outs = fmt::format("--log {} --save {}", log, save);
  const std::vector<std::string> files{log, save};
  check_rejected("train --optimizer lbfgs " + outs, {"--optimizer", "lbfgs"}, files);
  check_rejected("train --solver abacus " + outs, {"--solver", "abacus"}, files);
  check_rejected("train --compare adam,kfac:abacus --log " + log, {"--compare", "abacus"}, files);
  check_rejected("train --compare adam,kfac " + outs, {"--save", "--compare"}, files);
  check_rejected("train --layers 50,32,10 " + outs, {"--layers", "49"}, files);
  check_rejected("train --dataset synthetic --layers 8,4,5 " + outs, {"--layers", "3 classes"},
                 files);
  check_rejected("train --layers 49,x,10 " + outs, {"--layers"}, files);
  check_rejected("train --lr 0 " + outs, {"--lr"}, files);
  check_rejected("train --optimizer adam --lr -1 " + outs, {"--lr"}, files);
  check_rejected("train --batch-size 0 " + outs, {"--batch-size"}, files);
  check_rejected("train --pool 3 " + outs, {"--pool"}, files);
  check_rejected("train --activation sigmoid " + outs, {"--activation"}, files);
  check_rejected("train --method 3 " + outs, {"--method"}, files);
  check_rejected("train --damping -1 " + outs, {"--damping"}, files);
  check_rejected("train --data-dir " + dir.file("nothing") + " " + outs,
                 {"apt-get install dataset-fashion-mnist"}, files);
  check_rejected("train --plot " + dir.file("p.pdf") + " " + outs, {"--plot", ".png or .svg"},
                 files);
  const std::string bad =
      dir.write("bad.json", "{\"format\": \"tkfac-checkpoint\", \"version\": 1,");
  check_rejected("train --init " + bad + " " + outs, {"--init", bad}, files);
  const std::string other = dir.write("other.json", "{\"a\": 1}");
  check_rejected("train --init " + other + " " + outs, {"not a tkfac checkpoint"}, files);
  // A truncated data file.
  std::filesystem::create_directories(dir.file("fm"));
  for (const char* f : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}) {
    std::filesystem::copy_file(std::string("/usr/share/datasets/fashion-mnist/") + f,
                               dir.file(std::string("fm/") + f));
  }
  std::filesystem::resize_file(dir.file("fm/train-images-idx3-ubyte.gz"), 1000);
  check_rejected("train --data-dir " + dir.file("fm") + " " + outs, {"train-images-idx3-ubyte.gz"},
                 files);
}
