// `tkfac train` as a user runs it: outputs, checkpoint resume, and bad input (exit code 2, a
// message naming the option or file, no output file).
#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sys/resource.h>
#include <thread>

#include "cli_helpers.hpp"
#include "test_util.hpp"

using tkfac::test::BackgroundTkfac;
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
        "run,step,wall_seconds,analog_seconds,analog_seconds_total,train_loss,train_accuracy,"
        "test_loss,"
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

TEST_CASE("train: the noise options reach the factor solver") {
  ScratchDir dir("train-cli-noise");
  const std::string common =
      "train --quiet --dataset synthetic --batch-size 32 --steps 3 --solver ou";
  REQUIRE(run_tkfac(fmt::format("{} --save {}", common, dir.file("quiet.json"))).exit_code == 0);
  const auto noisy = run_tkfac(
      fmt::format("{} --noise-variance 1e-2 --save {}", common, dir.file("noisy.json")));
  INFO(noisy.output);
  REQUIRE(noisy.exit_code == 0);
  std::ifstream a(dir.file("quiet.json")), b(dir.file("noisy.json"));
  const std::string quiet((std::istreambuf_iterator<char>(a)), std::istreambuf_iterator<char>());
  const std::string with_noise((std::istreambuf_iterator<char>(b)),
                               std::istreambuf_iterator<char>());
  // The noisy run's solver options, and so its parameters, differ from the noiseless run's.
  const auto config = nlohmann::json::parse(with_noise)["optimizer"]["config"];
  CHECK(config["kfac"]["solver"]["netlist"]["noise_variance"].get<double>() == 0.01);
  // ... and the checkpoint keeps every circuit option a user gave.
  REQUIRE(run_tkfac(fmt::format("{} --noise-variance 1e-2 --noise-seed 7 --noise-sample-time 2e-8 "
                                "--gain-compensation false --save {}",
                                common, dir.file("all.json")))
              .exit_code == 0);
  const auto netlist = read_json(dir.file("all.json"))["optimizer"]["config"]["kfac"]["solver"]
                                                      ["netlist"];
  CHECK(netlist["noise_seed"].get<unsigned>() == 7);
  CHECK(netlist["noise_sample_time"].get<double>() == 2e-8);
  CHECK(netlist["gain_compensation"].get<bool>() == false);
  CHECK(quiet != with_noise);
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
  check_rejected(
      "train --data-dir " + dir.file("fm") + " " + outs,
      {"train-images-idx3-ubyte.gz", "apt-get install --reinstall dataset-fashion-mnist"}, files);
}

TEST_CASE("train: counts and seeds out of range are rejected by the option's name") {
  ScratchDir dir("train-cli-counts");
  const std::string log = dir.file("log.csv");
  const std::string outs = "--dataset synthetic --log " + log;
  const std::vector<std::string> files{log};
  check_rejected("train --train-limit -1 " + outs, {"--train-limit", ">= 0"}, files);
  CHECK(run_tkfac("train --train-limit -1 " + outs).output.find("--limit:") == std::string::npos);
  check_rejected("train --steps 0 " + outs, {"--steps", "positive"}, files);
  check_rejected("train --steps -3 " + outs, {"--steps", "positive"}, files);
  check_rejected("train --eval-every -5 " + outs, {"--eval-every", ">= 0"}, files);
  check_rejected("train --seed -1 " + outs, {"--seed", "non-negative"}, files);
  check_rejected("train --seed ' -7' " + outs, {"--seed", "non-negative"}, files);
}

TEST_CASE("train: a corrupt optimizer or trainer state in --init names the file") {
  ScratchDir dir("train-cli-state");
  const std::string log = dir.file("log.csv");
  for (const char* optimizer : {"kfac", "sgd", "adam"}) {
    CAPTURE(std::string(optimizer));
    const std::string good = dir.file(std::string(optimizer) + ".json");
    const auto made = run_tkfac(fmt::format(
        "train --quiet --dataset synthetic --steps 2 --optimizer {} --save {}", optimizer, good));
    INFO(made.output);
    REQUIRE(made.exit_code == 0);
    const nlohmann::json j = read_json(good);
    const auto corrupt = [&](const std::string& name, auto&& change,
                             const std::vector<std::string>& expected) {
      nlohmann::json bad = j;
      change(bad);
      const std::string path = dir.write(name, bad.dump());
      std::vector<std::string> all{fmt::format("--init '{}': ", path)};
      all.insert(all.end(), expected.begin(), expected.end());
      check_rejected(
          fmt::format("train --dataset synthetic --steps 1 --init {} --log {}", path, log), all,
          {log});
    };
    corrupt("steps.json", [](nlohmann::json& c) { c["optimizer"]["state"]["steps"] = -4; },
            {"steps", ">= 0"});
    corrupt("offset.json", [](nlohmann::json& c) { c["trainer"]["offset"] = 100000; },
            {"trainer state", "offset 100000"});
    if (std::string(optimizer) == "kfac") {
      corrupt("g.json",
              [](nlohmann::json& c) { c["optimizer"]["state"]["layers"][1]["G"]["rows"] = 5; },
              {"layer 1 G", "expected 3 x 3"});
      corrupt("updates.json",
              [](nlohmann::json& c) { c["optimizer"]["state"]["factor_updates"] = -1; },
              {"factor_updates", ">= 0"});
    }
  }
}

TEST_CASE("train: the circuit backend announces its work before training") {
  ScratchDir dir("train-cli-circuit");
  // 8-3 network: A is 9 x 9 and G 3 x 3, so Method 1 takes 9 + 3 runs per inverse refresh and
  // Method 2 (8 + 1) + 3 per step.
  const std::string small = "train --dataset synthetic --layers 8,3 --solver spice --steps 1 ";
  auto r = run_tkfac(small + "--inverse-interval 5");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("kfac:spice: factor sizes A 9 and G 3") != std::string::npos);
  CHECK(r.output.find("12 circuit runs per inverse refresh") != std::string::npos);
  CHECK(r.output.find("a refresh every 5 steps") != std::string::npos);
  CHECK(r.output.find("warning") == std::string::npos);
  r = run_tkfac(small + "--method solve");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("12 circuit runs every step") != std::string::npos);
  r = run_tkfac("train --dataset synthetic --steps 1");
  CHECK(r.output.find("circuit runs") == std::string::npos);  // cholesky: no circuit

  // A factor larger than 100 gets a warning, even with --quiet. Training it would take minutes,
  // so the run is stopped right after the announcement by a corrupt optimizer state in --init.
  const std::string big = dir.file("big.json");
  REQUIRE(run_tkfac(fmt::format("train --quiet --dataset synthetic --layers 8,120,3 --steps 1 "
                                "--save {}",
                                big))
              .exit_code == 0);
  nlohmann::json j = read_json(big);
  j["optimizer"]["state"]["steps"] = -1;
  const std::string bad = dir.write("bad.json", j.dump());
  r = run_tkfac(
      fmt::format("train --quiet --dataset synthetic --steps 1 --solver spice --init {}", bad));
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("factor A of layer 1 is 121 x 121") != std::string::npos);
  CHECK(r.output.find("n^3") != std::string::npos);
}

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

// Signals a long synthetic run once it has trained for a moment; returns the exit code.
int interrupt_run(const ScratchDir& dir, const std::string& args, int signal) {
  BackgroundTkfac run(args, dir.file("out.txt"), dir.file("err.txt"));
  REQUIRE(run.started());
  // The header's last line comes right before the first step.
  REQUIRE(run.wait_for_output("training ", std::chrono::seconds(60)));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  run.signal(signal);
  return run.wait();
}

}  // namespace

TEST_CASE("train: Ctrl-C and SIGTERM stop cleanly: exit 128 + signal, the log so far, whole files") {
  struct Case {
    const char* what;
    std::string args;
    int signal;
    int exit_code;
  };
  // Far more steps than run in the half second before the signal. The spice case (8-3 network,
  // a refresh of 12 circuit runs every step) is stopped inside a refresh or between two steps.
  const Case cases[] = {
      {"kfac cholesky, SIGINT", "--optimizer kfac", SIGINT, 130},
      {"sgd, SIGTERM", "--optimizer sgd", SIGTERM, 143},
      {"kfac spice, SIGINT", "--layers 8,3 --solver spice --inverse-interval 1", SIGINT, 130},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    ScratchDir dir("train-cli-interrupt");
    const std::string log = dir.file("log.csv"), save = dir.file("ckpt.json");
    // Meant to run until signalled: past the default work budget, so the budget is lifted.
    const int code = interrupt_run(
        dir,
        fmt::format("--max-work 0 train --dataset synthetic --steps 100000000 {} --log {} --save {}",
                    c.args, log, save),
        c.signal);
    const std::string out = read_text(dir.file("out.txt"));
    INFO(out << read_text(dir.file("err.txt")));
    CHECK(code == c.exit_code);
    CHECK(out.find("interrupted by") != std::string::npos);
    // The log: a header and one whole line per completed step, numbered 1, 2, ...
    const std::vector<std::string> lines = lines_of(log);
    REQUIRE(lines.size() >= 2);
    CHECK(lines[0].rfind("run,step,", 0) == 0);
    for (std::size_t i = 1; i < lines.size(); ++i) {
      CHECK(std::count(lines[i].begin(), lines[i].end(), ',') == 8);
      const std::string after_run = lines[i].substr(lines[i].find(',') + 1);
      CHECK(after_run.rfind(std::to_string(i) + ",", 0) == 0);
    }
    const long steps = static_cast<long>(lines.size()) - 1;
    CHECK(out.find(fmt::format("{} of 100000000 steps", steps)) != std::string::npos);
    // No temporary file; the checkpoint, when written, is that of the logged steps.
    for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
      CHECK(entry.path().extension() != ".tmp");
    }
    if (out.find("no checkpoint written") != std::string::npos) {
      CHECK_FALSE(std::filesystem::exists(save));
    } else {
      REQUIRE(std::filesystem::exists(save));
      CHECK(read_json(save)["trainer"]["step"] == steps);
    }
  }
}

// Issue 14: the output-path policy for train's files.
TEST_CASE("train: a log or checkpoint that is the --init checkpoint or another output is refused") {
  ScratchDir dir("train-cli-same-file");
  const std::string ck = dir.file("ck.json");
  REQUIRE(run_tkfac(fmt::format("train --quiet --dataset synthetic --steps 2 --save {}", ck))
              .exit_code == 0);
  const std::string before = read_text(ck);
  for (const std::string& args :
       {fmt::format("--init {} --log {}", ck, ck), fmt::format("--init {} --save {}", ck, ck),
        fmt::format("--init {} --plot {}", ck, ck)}) {
    const auto r = run_tkfac("train --quiet --dataset synthetic --steps 2 " + args);
    INFO(args << "\n" << r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("--init") != std::string::npos);
    CHECK(r.output.find("same file") != std::string::npos);
    CHECK(read_text(ck) == before);
  }
  // --log x --save x printed "checkpoint written" over a file holding the log.
  const std::string x = dir.file("x.json");
  const auto r = run_tkfac(fmt::format("train --quiet --dataset synthetic --steps 2 --log {} "
                                       "--save {}",
                                       x, x));
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("--save") != std::string::npos);
  CHECK(r.output.find("--log") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(x));
}

TEST_CASE("train: --save-every writes whole-step checkpoints and logs; SIGTERM keeps the last") {
  ScratchDir dir("train-cli-save-every");
  const std::string log = dir.file("log.csv"), save = dir.file("ck.json");
  // A short run: a save after steps 4 and 8, and the final one after 10.
  const auto r = run_tkfac(fmt::format(
      "train --dataset synthetic --steps 10 --save-every 4 --log {} --save {}", log, save));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("saved      after step 4: log") != std::string::npos);
  CHECK(r.output.find("saved      after step 8: log") != std::string::npos);
  CHECK(read_json(save)["trainer"]["step"] == 10);
  check_rejected(fmt::format("train --dataset synthetic --save-every 5"), {"--save-every",
                                                                           "--save or --log"},
                 {});

  // A long run stopped by SIGTERM: exit 143, and the files on disk hold whole steps.
  ScratchDir dir2("train-cli-save-every-term");
  const std::string log2 = dir2.file("log.csv"), save2 = dir2.file("ck.json");
  const int code = interrupt_run(
      dir2,
      fmt::format("--max-work 0 train --dataset synthetic --optimizer sgd --steps 100000000 --save-every 50 "
                  "--log {} --save {}",
                  log2, save2),
      SIGTERM);
  const std::string out = read_text(dir2.file("out.txt"));
  INFO(out << read_text(dir2.file("err.txt")));
  CHECK(code == 143);
  CHECK(out.find("saved      after step 50:") != std::string::npos);
  CHECK(out.find("interrupted by SIGTERM") != std::string::npos);
  CHECK(out.find("checkpoint written") != std::string::npos);
  const long steps = static_cast<long>(lines_of(log2).size()) - 1;
  CHECK(steps >= 50);
  CHECK(read_json(save2)["trainer"]["step"] == steps);
  for (const auto& entry : std::filesystem::directory_iterator(dir2.path())) {
    CHECK(entry.path().extension() != ".tmp");
  }
}

TEST_CASE("train: a run that diverges to NaN stops with exit 4 and never saves NaN weights") {
  ScratchDir dir("train-cli-diverge");
  const std::string log = dir.file("log.csv"), save = dir.file("ck.json");
  for (const std::string optimizer : {"sgd", "kfac"}) {
    CAPTURE(optimizer);
    std::filesystem::remove(save);
    // An absurd learning rate: the ReLU network's weights overflow within two steps.
    auto r = run_tkfac(fmt::format("train --quiet --dataset synthetic --activation relu "
                                   "--optimizer {} --lr 1e300 --steps 50 --log {} --save {}",
                                   optimizer, log, save));
    INFO(r.output);
    CHECK(r.exit_code == 4);
    CHECK(r.output.find("training diverged") != std::string::npos);
    CHECK(r.output.find("of step 2 is NaN") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(save));
    CHECK(lines_of(log).size() == 3);  // the header and the two steps run
    // With --save-every 1 the checkpoint of step 1 stays, and --init accepts it.
    r = run_tkfac(fmt::format("train --quiet --dataset synthetic --activation relu --optimizer {} "
                              "--lr 1e300 --steps 50 --save-every 1 --save {}",
                              optimizer, save));
    CHECK(r.exit_code == 4);
    CHECK(r.output.find("after step 1") != std::string::npos);
    REQUIRE(std::filesystem::exists(save));
    CHECK(read_json(save)["trainer"]["step"] == 1);
    // Finite numbers (JSON writes NaN as null, which --init refused with exit 2): it loads.
    CHECK(read_text(save).find("null") == std::string::npos);
    CHECK(run_tkfac(fmt::format("train --quiet --dataset synthetic --steps 1 --init {}", save))
              .exit_code != 2);
  }
}

TEST_CASE("train: layer sizes out of range or not integers are refused, in options and checkpoints") {
  ScratchDir dir("train-cli-layer-range");
  check_rejected("train --dataset synthetic --layers 8,2147483647,3", {"--layers", "2147483647"},
                 {});
  const std::string ck = dir.file("ck.json");
  REQUIRE(run_tkfac(fmt::format("train --quiet --dataset synthetic --layers 8,4,3 --steps 1 "
                                "--save {}",
                                ck))
              .exit_code == 0);
  nlohmann::json j = read_json(ck);
  for (const nlohmann::json& size : {nlohmann::json(2147483647), nlohmann::json(49.5)}) {
    nlohmann::json k = j;
    k["architecture"]["layers"][1] = size;
    const std::string bad = dir.write("bad.json", k.dump());
    check_rejected("train --dataset synthetic --steps 1 --init " + bad,
                   {"architecture.layers", size.dump()}, {});
  }
  // A directory or a number beyond double as the checkpoint: bad input, not an internal error.
  check_rejected("train --dataset synthetic --init " + dir.path().string(),
                 {"--init", "is a directory"}, {});
  std::string text = read_text(ck);
  text.replace(text.find("\"version\": 1"), 12, "\"version\": 1e400");
  const std::string inf = dir.write("inf.json", text);
  check_rejected("train --dataset synthetic --init " + inf, {"--init", "1e400"}, {});
}

TEST_CASE("train: a --model path with newlines stays one comment line in the netlist header") {
  ScratchDir dir("train-cli-model-newline");
  // A checkpoint whose name carries SPICE cards: the header copies the name.
  const std::string ck = dir.file("ck\n.control\nshell touch pwned\n.endc\nR_evil 1 0 1\n.json");
  REQUIRE(run_tkfac(fmt::format("train --quiet --dataset synthetic --layers 8,4,3 --steps 1 "
                                "--save '{}'",
                                ck))
              .exit_code == 0);
  const std::string out = dir.file("layer.cir");
  const auto r = run_tkfac(fmt::format(
      "netlist --model '{}' --layer 0 --factor A --dataset synthetic -o {}", ck, out));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const std::vector<std::string> lines = lines_of(out);
  bool escaped = false;
  for (const std::string& l : lines) {
    CHECK(l.rfind(".control", 0) != 0);
    CHECK(l.rfind("shell", 0) != 0);
    CHECK(l.rfind("R_evil", 0) != 0);
    escaped = escaped || l.find("ck\\n.control\\nshell touch pwned") != std::string::npos;
  }
  CHECK(escaped);
}

// Issue 14: a 1500-step spice training of an 8-16-3 network grew from 6.5 to 415 MB (ngspice kept
// every `alter` command's words, ~270 KB a step here: 590 input changes per inverse refresh).
// The bound, 20 MB in 1500 steps, taken pro rata over the 90 steps between a 10-step and
// a 100-step run (peak resident memory of each; tkfac keeps freed memory, so the peak is what a
// run grew to). bench/ngspice_memory runs the 1500 steps.
TEST_CASE("train: resident memory of a spice training does not grow with its steps") {
  auto peak_mb = [](int steps) {
    const auto r = run_tkfac(fmt::format(
        "train --quiet --dataset synthetic --layers 8,16,3 --solver spice --steps {}", steps));
    REQUIRE(r.exit_code == 0);
    rusage u{};
    getrusage(RUSAGE_CHILDREN, &u);  // the largest finished child (the runs go shortest first)
    return static_cast<double>(u.ru_maxrss) / 1024.0;
  };
  const double short_run = peak_mb(10);
  const double long_run = peak_mb(100);
  const double bound = 20.0 * 90.0 / 1500.0;
  MESSAGE(fmt::format("peak RSS: 10 steps {:.2f} MB, 100 steps {:.2f} MB (grew {:.2f} MB, bound "
                      "{:.2f}; before the fix ~24)",
                      short_run, long_run, long_run - short_run, bound));
  CHECK(long_run - short_run < bound);
}
