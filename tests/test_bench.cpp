// CLI tests of `zoo bench` (app/commands/bench.cpp, app/engine/bench.h): JSON figures of a
// training and an inference step, the per-layer table, MACs counted at a non-default input,
// the peak, and one-line usage errors (exit 2).
#include "test_util.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace zoo {
namespace {

using test::run_zoo;

int lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

TEST(Bench, TrainJson) {
  auto r = run_zoo("bench lenet5 --iters 2 --warmup 1 --batch-size 16 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["model"], "lenet5");
  EXPECT_EQ(j["mode"], "train");
  EXPECT_EQ(j["num_classes"], 10);
  EXPECT_EQ(j["macs_per_image"], 416520);  // the registry's figure at the default input
  EXPECT_EQ(j["step_seconds"].size(), 2u);
  const double ips = j["images_per_s"].get<double>();
  EXPECT_GT(ips, 0.0);
  // GFLOP/s follows from the stated convention: 2 x (3 x MACs less conv1's input gradient,
  // 6 x 28 x 28 x 25) x images/s.
  EXPECT_EQ(j["step_macs_per_image"], 3 * 416520 - 6 * 28 * 28 * 25);
  EXPECT_NEAR(j["gflops"].get<double>(), 2.0 * (3 * 416520 - 117600) * ips / 1e9, 1e-6 * j["gflops"].get<double>());
  EXPECT_GT(j["peak_gflops"].get<double>(), 1.0);
  EXPECT_GT(j["peak_fraction"].get<double>(), 0.0);
  EXPECT_NEAR(j["peak_fraction"].get<double>(), j["gflops"].get<double>() / j["peak_gflops"].get<double>(), 1e-9);
}

TEST(Bench, InferAtOtherInputCountsMacs) {
  auto r = run_zoo("bench resnet18 --mode infer --input-size 64 --num-classes 7 --batch-size 2 "
                   "--iters 1 --warmup 0 --no-peak --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  auto info = run_zoo("info resnet18 --input 64 --num-classes 7 --json");
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_EQ(j["macs_per_image"], nlohmann::json::parse(info.out)["macs"]);
  EXPECT_NEAR(j["gflops"].get<double>(), 2.0 * j["macs_per_image"].get<double>() * j["images_per_s"].get<double>() / 1e9,
              1e-6 * j["gflops"].get<double>());
  EXPECT_TRUE(j["peak_gflops"].is_null());
  EXPECT_EQ(j["input"], nlohmann::json({3, 64, 64}));
}

TEST(Bench, PerLayerListsStages) {
  auto r = run_zoo("bench lenet5 --iters 2 --warmup 1 --per-layer --no-peak");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* stage : {"features.0", "features.3", "flatten", "classifier.0", "classifier.4",
                            "images/s", "GFLOP/s", "backward ms", "sum of stages"}) {
    EXPECT_NE(r.out.find(stage), std::string::npos) << stage << "\n" << r.out;
  }
  r = run_zoo("bench lenet5 --iters 2 --warmup 0 --per-layer --no-peak --precision bf16 --channels-last --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_GE(j["stages"].size(), 10u);
  double share = 0.0;
  for (const auto& s : j["stages"]) share += s["share"].get<double>();
  EXPECT_NEAR(share, 1.0, 1e-6);
  EXPECT_GT(j["stages"][0]["backward_ms"].get<double>(), 0.0);  // conv weights get gradients
}

TEST(Bench, Peak) {
  auto r = run_zoo("bench --peak --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["peaks"].size(), 2u);
  EXPECT_EQ(j["peaks"][0]["precision"], "fp32");
  EXPECT_EQ(j["peaks"][1]["precision"], "bf16");
  for (const auto& p : j["peaks"]) {
    EXPECT_GT(p["gflops"].get<double>(), 1.0);
    EXPECT_EQ(p["sizes"].size(), 3u);
    // The peak is the best of both ways of computing the product.
    double best = p["mm_gflops"].get<double>();
    EXPECT_GT(best, 1.0);
    if (!p["conv1x1_gflops"].is_null()) best = std::max(best, p["conv1x1_gflops"].get<double>());
    EXPECT_DOUBLE_EQ(p["gflops"].get<double>(), best);
  }
  // fp32 1x1 convolutions are oneDNN's on every CPU LibTorch supports.
  EXPECT_GT(j["peaks"][0]["conv1x1_gflops"].get<double>(), 1.0);
}

TEST(Bench, UsageErrorsAreOneLine) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"bench lenet5 --precision fp64", "fp32, bf16 or fp16"},
      {"bench lenet5 --mode eval", "train or infer"},
      {"bench lenet5 --precision fp16", "CUDA"},
      {"bench lenet5 --device cuda", "CUDA"},
      {"bench lenet5 --device gpu", "cpu, cuda or cuda:N"},
      {"bench", "needs a MODEL"},
      {"bench lenet6", "known models"},
      {"bench lenet5 --iters 0", "--iters"},
  };
  for (const auto& [args, message] : cases) {
    auto r = run_zoo(args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
    EXPECT_EQ(lines(r.err), 1) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << args << "\n" << r.err;
    EXPECT_TRUE(r.out.empty()) << args;
  }
}

}  // namespace
}  // namespace zoo
