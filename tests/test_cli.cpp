// CLI smoke tests: the real zoo binary, every command, its output and its error paths with
// the documented exit codes (0 ok, 2 usage, 65 bad data, 66 missing input, 130 SIGINT).
#include "app/engine/checkpoint.h"
#include "test_util.h"
#include "weights/weights_io.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <csignal>
#include <fstream>
#include <set>
#include <thread>

namespace zoo {
namespace {

namespace fs = std::filesystem;
using test::run_zoo;
using test::TempDir;

class Cli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    test::write_synthetic_idx(dir_->path() / "data", 2000, 300, 10);
    auto r = run_zoo("train lenet5 --data " + data() + " --epochs 3 --name base --runs-dir " + runs());
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string data() { return (dir_->path() / "data").string(); }
  static std::string runs() { return (dir_->path() / "runs").string(); }
  static std::string ckpt() { return runs() + "/base/checkpoints/best.pt"; }
  static TempDir* dir_;
};
TempDir* Cli::dir_ = nullptr;

TEST_F(Cli, HelpAndVersion) {
  auto r = run_zoo("--help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* cmd : {"list", "train", "eval", "predict"}) EXPECT_NE(r.out.find(cmd), std::string::npos);
  r = run_zoo("train --help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* flag : {"--epochs", "--batch-size", "--lr", "--momentum", "--weight-decay", "--seed",
                           "--threads", "--name", "--runs-dir", "--resume", "--config"}) {
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
  }
  EXPECT_EQ(run_zoo("").exit_code, 2);  // a subcommand is required
  EXPECT_EQ(run_zoo("frobnicate").exit_code, 2);
}

TEST_F(Cli, List) {
  auto r = run_zoo("list");
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("lenet5"), std::string::npos);
  EXPECT_NE(r.out.find("61706"), std::string::npos);
  r = run_zoo("list --json");
  ASSERT_EQ(r.exit_code, 0);
  auto rows = nlohmann::json::parse(r.out);
  bool found = false;
  for (const auto& row : rows) found |= row["name"] == "lenet5" && row["parameters"] == 61706;
  EXPECT_TRUE(found);
}

TEST_F(Cli, TrainWritesRunAndPrintsAccuracy) {
  const fs::path run = fs::path(runs()) / "base";
  for (const char* f : {"config.json", "metrics.jsonl", "train.log", "checkpoints/last.pt",
                        "checkpoints/best.pt", "labels.txt"}) {
    EXPECT_TRUE(fs::exists(run / f)) << f;
  }
  auto config = nlohmann::json::parse(test::read_file((run / "config.json").string()));
  EXPECT_EQ(config["model"], "lenet5");
  EXPECT_EQ(config["epochs"], 3);
}

TEST_F(Cli, TrainErrors) {
  auto r = run_zoo("train lenet6 --data " + data() + " --runs-dir " + runs());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("known models"), std::string::npos);
  EXPECT_NE(r.err.find("lenet5"), std::string::npos);
  EXPECT_EQ(run_zoo("train lenet5 --lr -1 --runs-dir " + runs()).exit_code, 2);
  EXPECT_EQ(run_zoo("train lenet5 --batch-size 0 --runs-dir " + runs()).exit_code, 2);
  EXPECT_EQ(run_zoo("train lenet5 --epochs abc --runs-dir " + runs()).exit_code, 2);
  r = run_zoo("train lenet5 --data /nonexistent/mnist --runs-dir " + runs());
  EXPECT_EQ(r.exit_code, 66);
  EXPECT_NE(r.err.find("/nonexistent/mnist"), std::string::npos);
  r = run_zoo("train lenet5 --data mnist --runs-dir " + runs(), "ZOO_DATA=" + dir_->path().string() + "/empty");
  EXPECT_EQ(r.exit_code, 66);
  EXPECT_NE(r.err.find("looked in"), std::string::npos);
  // A truncated idx file.
  TempDir bad;
  test::write_synthetic_idx(bad.path(), 100, 50, 10, /*gz=*/false);
  const std::string images = bad / "train-images-idx3-ubyte";
  test::write_file(images, test::read_file(images).substr(0, 5000));
  r = run_zoo("train lenet5 --data " + bad.path().string() + " --runs-dir " + runs());
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_NE(r.err.find("truncated"), std::string::npos);
  // Exactly one error line.
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  // An existing run is not overwritten.
  EXPECT_EQ(run_zoo("train lenet5 --data " + data() + " --name base --runs-dir " + runs()).exit_code, 2);
}

TEST_F(Cli, ConfigFileAndOverride) {
  TempDir tmp;
  test::write_file(tmp / "c.json", R"({"epochs": 1, "batch_size": 128, "lr": 0.01, "name": "fromcfg"})");
  auto r = run_zoo("train lenet5 --config " + tmp / "c.json" + " --lr 0.03 --data " + data() +
                   " --runs-dir " + runs() + " --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto config = nlohmann::json::parse(test::read_file(runs() + "/fromcfg/config.json"));
  EXPECT_EQ(config["batch_size"], 128);
  EXPECT_DOUBLE_EQ(config["lr"].get<double>(), 0.03);  // the flag wins
  test::write_file(tmp / "bad.json", R"({"epochz": 1})");
  EXPECT_EQ(run_zoo("train lenet5 --config " + tmp / "bad.json").exit_code, 65);
  EXPECT_EQ(run_zoo("train lenet5 --config " + tmp / "none.json").exit_code, 66);
}

TEST_F(Cli, FinetuneFeaturesAndClassNames) {
  // Fine-tune the base run's checkpoint with its convolutions frozen: the model comes from the
  // checkpoint, the table of trainable and frozen parameters goes to the log.
  auto r = run_zoo("finetune --weights " + ckpt() + " --data " + data() + " --freeze conv --epochs 1 "
                   "--limit-batches 5 --name ft --quiet --runs-dir " + runs());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("after 1 epochs"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("trainable"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("features"), std::string::npos) << r.err;
  auto config = nlohmann::json::parse(test::read_file(runs() + "/ft/config.json"));
  EXPECT_EQ(config["weights"], ckpt());
  EXPECT_EQ(config["freeze"], std::vector<std::string>{"conv"});
  // A bare state dict does not say which model it is; a pattern that selects nothing and a
  // missing --weights are usage errors.
  TempDir tmp;
  ASSERT_EQ(run_zoo("convert " + ckpt() + " " + tmp / "w.pth").exit_code, 0);
  r = run_zoo("finetune --weights " + tmp / "w.pth" + " --data " + data() + " --runs-dir " + runs());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("name the model"), std::string::npos) << r.err;
  r = run_zoo("finetune lenet5 --weights " + tmp / "w.pth" + " --data " + data() + " --freeze 'nothing*' --runs-dir " + runs());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("matches no parameter"), std::string::npos) << r.err;
  EXPECT_EQ(run_zoo("finetune lenet5 --data " + data() + " --runs-dir " + runs()).exit_code, 2);
  // Evaluating on a dataset with other class names is refused unless asked for.
  r = run_zoo("eval --weights " + ckpt() + " --data shapes --no-confusion");
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_NE(r.err.find("circle"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--ignore-class-names"), std::string::npos) << r.err;
  EXPECT_EQ(run_zoo("eval --weights " + ckpt() + " --data shapes --no-confusion --ignore-class-names").exit_code, 0);
  // Penultimate features and labels of the test split.
  r = run_zoo("features --weights " + ckpt() + " --split val --out " + tmp / "f.safetensors");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, std::string> meta;
  const StateDict f = read_safetensors(tmp / "f.safetensors", &meta);
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].second.sizes().vec(), (std::vector<int64_t>{300, 84}));
  EXPECT_EQ(f[1].second.sizes().vec(), (std::vector<int64_t>{300}));
  EXPECT_EQ(meta["model"], "lenet5");
  // What --freeze can select.
  r = run_zoo("info resnet18 --groups --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto groups = nlohmann::json::parse(r.out);
  EXPECT_EQ(groups["head"], std::vector<std::string>{"fc"});
  EXPECT_EQ(groups["groups"]["head"], 513000);
}

TEST_F(Cli, Eval) {
  auto r = run_zoo("eval --weights " + ckpt() + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["count"], 300);
  EXPECT_GT(j["top1"].get<double>(), 0.5);  // three short epochs; chance is 0.1
  EXPECT_EQ(j["per_class"].size(), 10u);
  EXPECT_GT(j["macro_f1"].get<double>(), 0.5);
  EXPECT_GT(j["per_class"][0]["precision"].get<double>(), 0.0);
  // The confusion matrix goes next to the run's checkpoints by default.
  const std::string png = runs() + "/base/confusion.png";
  EXPECT_EQ(j["confusion_png"], png);
  EXPECT_FALSE(cv::imread(png).empty()) << png;
  r = run_zoo("eval lenet5 --weights " + ckpt() + " --split train --no-confusion");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("top-1"), std::string::npos);
  EXPECT_NE(r.out.find("macro average"), std::string::npos);
  EXPECT_FALSE(fs::exists(runs() + "/base/confusion-train.png"));
  r = run_zoo("eval --weights " + ckpt() + " --split train --confusion '' --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(nlohmann::json::parse(r.out)["confusion_png"].is_null());
  EXPECT_FALSE(fs::exists(runs() + "/base/confusion-train.png"));
  {
    TempDir out;
    r = run_zoo("eval --weights " + ckpt() + " --confusion " + out / "c.png");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_FALSE(cv::imread(out / "c.png").empty());
  }
  // Errors: wrong model, missing and non-checkpoint files, missing required flag.
  r = run_zoo("eval alexnet --weights " + ckpt());
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_NE(r.err.find("lenet5"), std::string::npos);
  EXPECT_EQ(run_zoo("eval --weights /nonexistent.pt").exit_code, 66);
  TempDir tmp;
  test::write_file(tmp / "x.pt", "garbage");
  EXPECT_EQ(run_zoo("eval --weights " + tmp / "x.pt").exit_code, 65);
  EXPECT_EQ(run_zoo("eval").exit_code, 2);
}

TEST_F(Cli, Predict) {
  TempDir tmp;
  // A picture of class 3 (a bar at rows 9-10), white on black like the training data.
  cv::Mat img(28, 28, CV_8UC1, cv::Scalar(20));
  img.rowRange(9, 11).colRange(4, 24).setTo(230);
  cv::imwrite(tmp / "three.png", img);
  cv::Mat rgb;
  cv::Mat big;
  cv::resize(img, big, cv::Size(112, 112), 0, 0, cv::INTER_NEAREST);
  cv::cvtColor(big, rgb, cv::COLOR_GRAY2BGR);
  cv::imwrite(tmp / "three.jpg", rgb);
  auto r = run_zoo("predict --weights " + ckpt() + " --json --top-k 3 " + tmp / "three.png" + " " + tmp / "three.jpg");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 2u);
  for (const auto& row : j) {
    ASSERT_EQ(row["top"].size(), 3u);
    EXPECT_EQ(row["top"][0]["index"], 3) << row.dump();
    EXPECT_GT(row["top"][0]["probability"].get<double>(), row["top"][1]["probability"].get<double>());
  }
  r = run_zoo("predict lenet5 --weights " + ckpt() + " " + tmp / "three.png");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("%"), std::string::npos);
  test::write_file(tmp / "broken.png", "\x89PNG\r\n\x1a\n truncated");
  r = run_zoo("predict --weights " + ckpt() + " " + tmp / "broken.png");
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_NE(r.err.find("broken.png"), std::string::npos);
  EXPECT_EQ(run_zoo("predict --weights " + ckpt() + " " + tmp / "nothere.png").exit_code, 66);
  EXPECT_EQ(run_zoo("predict --weights " + ckpt()).exit_code, 2);
  EXPECT_EQ(run_zoo("predict --weights " + ckpt() + " --top-k 0 " + tmp / "three.png").exit_code, 2);
}

TEST_F(Cli, SigintSavesAndResumes) {
  const std::string cmd = std::string(ZOO_BINARY) + " train lenet5 --data " + data() +
                          " --epochs 100 --name sig --quiet --runs-dir " + runs();
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::execl("/bin/sh", "sh", "-c", ("exec " + cmd + " >/dev/null 2>&1").c_str(), nullptr);
    ::_exit(127);
  }
  // Once the run directory exists (the start takes seconds on a loaded machine), a moment of
  // training, then the signal.
  const std::string config = runs() + "/sig/config.json";
  for (int i = 0; i < 12000 && !fs::exists(config); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  ::kill(child, SIGINT);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 130) << "the run ended before the signal arrived";
  EXPECT_TRUE(fs::exists(runs() + "/sig/checkpoints/last.pt"));
  // Finish the epoch it was in: the plan becomes (completed epochs + 1).
  int64_t done = 0;
  std::ifstream metrics(runs() + "/sig/metrics.jsonl");
  for (std::string line; std::getline(metrics, line);) done += nlohmann::json::parse(line)["kind"] == "epoch";
  const std::string plan = std::to_string(done + 1);
  auto r = run_zoo("train --resume " + runs() + "/sig --epochs " + plan + " --quiet");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("after " + plan + " epochs"), std::string::npos) << r.out;
}

TEST_F(Cli, KilledRunResumesFromSaveEveryBitIdentical) {
  // SIGKILL gives the run no chance to save: what survives is the last --save-every checkpoint
  // (mid-epoch, between accumulated steps). Resuming it must end where an uninterrupted run does,
  // and the metrics rows written after that checkpoint must not appear twice.
  const std::string common = " --data " + data() + " --epochs 3 --accumulate 2 --save-every 5 "
                             "--batch-size 16 --quiet --runs-dir " + runs();
  auto r = run_zoo("train lenet5 --name whole" + common);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string cmd = std::string(ZOO_BINARY) + " train lenet5 --name killed" + common;
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::execl("/bin/sh", "sh", "-c", ("exec " + cmd + " >/dev/null 2>&1").c_str(), nullptr);
    ::_exit(127);
  }
  const std::string last = runs() + "/killed/checkpoints/last.pt";
  for (int i = 0; i < 3000 && !fs::exists(last); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a few more steps, then die
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the run finished before SIGKILL";
  const auto pos = load_checkpoint(last).meta["position"];
  if (pos["batch"].get<int64_t>() > 0) {  // a --save-every checkpoint, not an epoch end
    EXPECT_EQ(pos["step"].get<int64_t>() % 5, 0);
    EXPECT_EQ(pos["batch"].get<int64_t>() % 2, 0);  // between accumulation groups
  }
  r = run_zoo("train --resume " + runs() + "/killed --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Checkpoint a = load_checkpoint(runs() + "/whole/checkpoints/last.pt");
  Checkpoint b = load_checkpoint(last);
  ASSERT_EQ(a.model.size(), b.model.size());
  for (size_t i = 0; i < a.model.size(); ++i) {
    EXPECT_TRUE(torch::equal(a.model[i].second, b.model[i].second)) << a.model[i].first;
  }
  std::set<int64_t> steps;
  std::ifstream metrics(runs() + "/killed/metrics.jsonl");
  for (std::string line; std::getline(metrics, line);) {
    auto row = nlohmann::json::parse(line);
    if (row["kind"] == "step") {
      EXPECT_TRUE(steps.insert(row["step"].get<int64_t>()).second) << line;
    }
  }
  EXPECT_EQ(steps.size(), size_t(3 * 63));  // 2000 / 16 = 125 batches: 63 steps an epoch
  EXPECT_EQ(test::read_file(runs() + "/killed/metrics.csv").find("kind,epoch,step"), 0u);
}

TEST_F(Cli, TrainFlagsAndResumeGuards) {
  auto r = run_zoo("train --help");
  for (const char* flag : {"--optimizer", "--nesterov", "--schedule", "--warmup-epochs", "--milestones",
                           "--label-smoothing", "--clip-grad-norm", "--accumulate", "--patience",
                           "--max-steps", "--limit-batches", "--precision", "--channels-last",
                           "--device", "--deterministic", "--best-metric", "--save-every"}) {
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
  }
  r = run_zoo("train --resume " + runs() + "/base --lr 0.5");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--lr cannot be given with --resume"), std::string::npos) << r.err;
  EXPECT_EQ(run_zoo("train lenet5 --optimizer lamb --runs-dir " + runs()).exit_code, 2);
  EXPECT_EQ(run_zoo("train lenet5 --schedule multistep --runs-dir " + runs()).exit_code, 2);
  r = run_zoo("train lenet5 --precision fp16 --runs-dir " + runs() + " --data " + data());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("bf16"), std::string::npos) << r.err;
  r = run_zoo("train lenet5 --device cuda --runs-dir " + runs() + " --data " + data());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  // Quick multistep run from flags: the lr in the last epoch row is lr * gamma.
  r = run_zoo("train lenet5 --schedule multistep --milestones 1 --epochs 2 --limit-batches 3 "
              "--limit-val-batches 1 --name ms --quiet --data " + data() + " --runs-dir " + runs());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto rows = test::read_file(runs() + "/ms/metrics.jsonl");
  auto last_row = nlohmann::json::parse(rows.substr(rows.rfind('{')));
  EXPECT_NEAR(last_row["lr"].get<double>(), 0.002, 1e-12);
  EXPECT_EQ(last_row["step"], 6);
}

// A small ImageFolder: 2 classes of 6 JPEGs + one truncated JPEG, and an empty class.
void write_small_image_folder(const fs::path& root) {
  for (const char* c : {"ant", "bee", "wasp"}) fs::create_directories(root / c);
  for (int i = 0; i < 6; ++i) {
    for (const char* c : {"ant", "bee"}) {
      cv::Mat img(60 + 10 * i, 90, CV_8UC3, cv::Scalar(c[0] == 'a' ? 200 : 20, 40 * i, 90));
      cv::imwrite((root / c / (std::to_string(i) + ".jpg")).string(), img);
    }
  }
  const std::string jpeg = test::read_file((root / "ant/0.jpg").string());
  test::write_file((root / "bee/cut.jpg").string(), jpeg.substr(0, jpeg.size() / 2));
}

TEST(DataCli, InspectCountsSizesUnreadableAndGrid) {
  TempDir tmp;
  write_small_image_folder(tmp.path() / "bugs");
  auto r = run_zoo("data inspect --data " + tmp / "bugs" + " --json --grid " + tmp / "grid.png");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["classes"], (std::vector<std::string>{"ant", "bee", "wasp"}));
  ASSERT_EQ(j["splits"].size(), 2u);
  const auto& train = j["splits"][0];
  const auto& val = j["splits"][1];
  EXPECT_EQ(train["samples"].get<int>() + val["samples"].get<int>(), 13);
  EXPECT_EQ(train["per_class"][0].get<int>() + val["per_class"][0].get<int>(), 6);
  EXPECT_EQ(train["per_class"][2], 0);
  EXPECT_EQ(train["unreadable"].size() + val["unreadable"].size(), 1u);
  EXPECT_EQ(train["height"]["max"].get<int>() <= 110 && train["height"]["min"].get<int>() >= 60, true);
  cv::Mat grid = cv::imread(tmp / "grid.png");
  ASSERT_FALSE(grid.empty());
  EXPECT_GE(grid.cols, 8 * 96);
  EXPECT_NE(r.err.find("wasp"), std::string::npos) << "an empty class folder is warned about";

  r = run_zoo("data inspect --data " + tmp / "bugs");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("unreadable: "), std::string::npos);
  EXPECT_NE(r.out.find("cut.jpg"), std::string::npos);
  EXPECT_NE(r.out.find("ant"), std::string::npos);

  r = run_zoo("data inspect --data cifar10", "ZOO_DATA=" + tmp.path().string());
  EXPECT_EQ(r.exit_code, 66);
  EXPECT_NE(r.err.find("looked in: " + tmp / "cifar10"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("data_batch_1"), std::string::npos) << r.err;
  r = run_zoo("data inspect --data cifar11");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("known names"), std::string::npos);
  EXPECT_EQ(run_zoo("data inspect").exit_code, 2);
}

TEST(DataCli, BenchDataPrintsThroughput) {
  TempDir tmp;
  write_small_image_folder(tmp.path() / "bugs");
  auto r = run_zoo("bench --data " + tmp / "bugs" + " --batch-size 2 --workers 2 --epochs 2 --input-size 64 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_GT(j["images_per_s"].get<double>(), 0.0);
  EXPECT_EQ(j["input_shape"], (std::vector<int>{3, 64, 64}));
  EXPECT_GT(j["images"].get<int>(), 0);
  r = run_zoo("bench resnet18 --data shapes --batches 16 --batch-size 8");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("images/s"), std::string::npos);
  EXPECT_NE(r.out.find("3x64x64"), std::string::npos) << r.out;
  EXPECT_EQ(run_zoo("bench --data shapes --augment heavy").exit_code, 2);
  EXPECT_EQ(run_zoo("bench --data shapes --batches 3").exit_code, 2);  // would time the prefetch
  EXPECT_EQ(run_zoo("bench lenet5 --workers 3").exit_code, 2);         // a --data option alone
  EXPECT_EQ(run_zoo("bench").exit_code, 2);
}

TEST(DataCli, TrainLogsWhatItResolved) {
  TempDir tmp;
  test::write_synthetic_idx(tmp.path() / "fashion-mnist", 64, 32, 10);
  auto r = run_zoo("train resnet18 --data " + tmp / "fashion-mnist" + " --epochs 1 --max-steps 2 --limit-batches 1 "
                   "--batch-size 8 --threads 1 --workers 1 --name fm --runs-dir " + tmp / "runs");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string log = test::read_file(tmp / "runs/fm/train.log");
  for (const char* line : {"input 3 x 28 x 28, normalised with mean [0.485, 0.456, 0.406]",
                           "eval pipeline: Normalize", "the images' native size",
                           "1-channel images fed as 3 identical channels", "fp32 on cpu, 1 intra-op thread(s), 1 loader worker(s)"}) {
    EXPECT_NE(log.find(line), std::string::npos) << line << "\n" << log;
  }
  auto config = nlohmann::json::parse(test::read_file(tmp / "runs/fm/config.json"));
  EXPECT_EQ(config["resolved"]["input"], (std::vector<int>{3, 28, 28}));
  EXPECT_EQ(config["resolved"]["threads"], 1);
  EXPECT_EQ(config["resolved"]["device"], "cpu");
  // zoo limits OpenMP's spinning unless the user chose a wait policy (app/main.cpp).
  EXPECT_EQ(config["resolved"]["openmp_wait"], "GOMP_SPINCOUNT=10000");
  // A run's config.json is a valid --config: "resolved" is what the run found, not an option.
  r = run_zoo("train resnet18 --config " + tmp / "runs/fm/config.json" + " --name again --runs-dir " + tmp / "runs");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // Without --threads: OMP_NUM_THREADS when set; a wait policy the user chose is kept.
  r = run_zoo("train lenet5 --data " + tmp / "fashion-mnist" + " --epochs 1 --max-steps 1 --batch-size 8 "
              "--name auto --runs-dir " + tmp / "runs", "OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  config = nlohmann::json::parse(test::read_file(tmp / "runs/auto/config.json"));
  EXPECT_EQ(config["threads"], 0);
  EXPECT_EQ(config["resolved"]["threads"], 2);
  EXPECT_EQ(config["resolved"]["openmp_wait"], "OMP_WAIT_POLICY=passive");
}

TEST(DataCli, TrainFlagsAreValidated) {
  auto r = run_zoo("train --help");
  ASSERT_EQ(r.exit_code, 0);
  for (const char* flag : {"--augment", "--val-split", "--drop-last", "--input-size", "--workers"}) {
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
  }
  TempDir tmp;
  EXPECT_EQ(run_zoo("train resnet18 --data shapes --augment heavy --runs-dir " + tmp / "runs").exit_code, 2);
  EXPECT_EQ(run_zoo("train resnet18 --data shapes --val-split 1.5 --runs-dir " + tmp / "runs").exit_code, 2);
  // --dropout on a model without dropout layers would do nothing: refused.
  auto d = run_zoo("train resnet18 --data shapes --dropout 0.3 --runs-dir " + tmp / "runs");
  EXPECT_EQ(d.exit_code, 2);
  EXPECT_NE(d.err.find("no dropout"), std::string::npos) << d.err;
}

}  // namespace
}  // namespace zoo

namespace zoo {
namespace {

// charlm through the binary: train on German text (umlauts stay single characters in the saved
// vocabulary), sample (the prime first, then the same text for the same seed), an unknown
// prime character, eval in bits per character, invalid UTF-8, and commands that need an image
// classifier.
TEST(CharLmCli, TrainSampleEvalAndErrors) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 120; ++i) text += "Über schöne Grüße freut sich jeder. Straße und Fuß. ";
  test::write_file(dir / "de.txt", text);
  const std::string runs = dir / "runs";
  auto r = run_zoo("train charlm --data " + (dir / "de.txt") + " --epochs 2 --hidden 32 --embed 8 --layers 1 "
                   "--seq-len 16 --batch-size 8 --quiet --name de --runs-dir " + runs);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("bits/char"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("best val_loss"), std::string::npos) << r.out;
  const auto vocab = nlohmann::json::parse(test::read_file(runs + "/de/vocab.json"));
  for (const char* c : {"Ü", "ö", "ü", "ß"}) {
    EXPECT_NE(std::find(vocab.begin(), vocab.end(), c), vocab.end()) << c;
  }
  const auto config = nlohmann::json::parse(test::read_file(runs + "/de/config.json"));
  EXPECT_EQ(config["optimizer"], "adam");  // charlm's training defaults
  EXPECT_EQ(config["clip_grad_norm"], 5.0);
  const std::string ckpt = runs + "/de/checkpoints/best.pt";

  auto a = run_zoo("sample charlm --weights " + ckpt + " --prime 'Grüße ' --length 40 --seed 3");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out.rfind("Grüße ", 0), 0u) << a.out;
  auto b = run_zoo("sample --weights " + ckpt + " --prime 'Grüße ' --length 40 --seed 3");
  EXPECT_EQ(a.out, b.out);
  auto bad = run_zoo("sample --weights " + ckpt + " --prime 'şu'");
  EXPECT_EQ(bad.exit_code, 65);
  EXPECT_NE(bad.err.find("'ş' (U+015F)"), std::string::npos) << bad.err;

  auto e = run_zoo("eval --weights " + ckpt + " --data " + (dir / "de.txt") + " --json");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  const auto j = nlohmann::json::parse(e.out);
  EXPECT_GT(j["chars"].get<int64_t>(), 5000);
  EXPECT_GT(j["bpc"].get<double>(), 0.0);
  EXPECT_LT(j["bpc"].get<double>(), 4.0);

  // Without --data: the run's validation tail, scored as in training (the best epoch's val_bpc).
  auto tail = run_zoo("eval --weights " + ckpt + " --json");
  ASSERT_EQ(tail.exit_code, 0) << tail.err;
  double best_bpc = 1e9;
  std::ifstream metrics(runs + "/de/metrics.jsonl");
  for (std::string line; std::getline(metrics, line);) {
    const auto row = nlohmann::json::parse(line);
    if (row["kind"] == "epoch") best_bpc = std::min(best_bpc, row["val_bpc"].get<double>());
  }
  EXPECT_NEAR(nlohmann::json::parse(tail.out)["bpc"].get<double>(), best_bpc, 1e-4);

  test::write_file(dir / "latin1.txt", "Gr\xFC\xDF" "e");
  auto u = run_zoo("train charlm --data " + (dir / "latin1.txt") + " --runs-dir " + runs);
  EXPECT_EQ(u.exit_code, 65);
  EXPECT_NE(u.err.find("at byte 2"), std::string::npos) << u.err;
  EXPECT_EQ(run_zoo("bench charlm").exit_code, 2);
  EXPECT_EQ(run_zoo("predict --weights " + ckpt + " x.png").exit_code, 65);  // a checkpoint of another kind
}

}  // namespace
}  // namespace zoo
