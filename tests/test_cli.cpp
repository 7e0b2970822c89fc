// CLI smoke tests: the real zoo binary, every command, its output and its error paths with
// the documented exit codes (0 ok, 2 usage, 65 bad data, 66 missing input, 130 SIGINT).
#include "test_util.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <csignal>
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
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  ::kill(child, SIGINT);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 130) << "the run ended before the signal arrived";
  EXPECT_TRUE(fs::exists(runs() + "/sig/checkpoints/last.pt"));
  // Finish the epoch it was in: the plan becomes (completed epochs + 1).
  const std::string metrics = test::read_file(runs() + "/sig/metrics.jsonl");
  const auto done = std::count(metrics.begin(), metrics.end(), '\n');
  const std::string plan = std::to_string(done + 1);
  auto r = run_zoo("train --resume " + runs() + "/sig --epochs " + plan + " --quiet");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("after " + plan + " epochs"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace zoo
