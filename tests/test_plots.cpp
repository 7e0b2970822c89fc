// Tests for app/engine/plots: curves.png and confusion.png are valid PNGs of the expected size,
// carry ink in the series and heat-map colours, tolerate missing keys, and are written
// atomically (no temporary left behind, a failed write leaves no partial file).
#include "app/engine/plots.h"
#include "app/engine/tasks/classification.h"
#include "common/error.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <cstdlib>
#include <filesystem>

namespace zoo {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

const std::vector<MetricSpec> kClassification = ClassificationTask::declared_metrics();

// Pixels within `tol` of a BGR colour.
int count_color(const cv::Mat& img, cv::Vec3b bgr, int tol = 30) {
  int n = 0;
  for (int y = 0; y < img.rows; ++y) {
    for (int x = 0; x < img.cols; ++x) {
      const cv::Vec3b p = img.at<cv::Vec3b>(y, x);
      n += std::abs(p[0] - bgr[0]) <= tol && std::abs(p[1] - bgr[1]) <= tol && std::abs(p[2] - bgr[2]) <= tol;
    }
  }
  return n;
}

int count_non_white(const cv::Mat& img) { return img.total() - count_color(img, {255, 255, 255}, 3); }

// ZOO_TEST_PLOTS_DIR=dir keeps a copy of each drawn PNG there, to look at.
void keep(const std::string& path) {
  if (const char* dir = std::getenv("ZOO_TEST_PLOTS_DIR")) {
    fs::copy_file(path, fs::path(dir) / fs::path(path).filename(), fs::copy_options::overwrite_existing);
  }
}

std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  return names;
}

std::vector<nlohmann::json> training_rows(int epochs, int steps_per_epoch) {
  std::vector<nlohmann::json> rows;
  for (int e = 1; e <= epochs; ++e) {
    for (int s = 1; s <= steps_per_epoch; ++s) {
      const int step = (e - 1) * steps_per_epoch + s;
      rows.push_back({{"kind", "step"}, {"step", step}, {"lr", 0.1 * (1.0 - step / 100.0)},
                      {"loss", 2.3 / (1.0 + 0.1 * step)}});
    }
    rows.push_back({{"epoch", e}, {"step", e * steps_per_epoch}, {"lr", 0.1 * (1.0 - e * steps_per_epoch / 100.0)},
                    {"train_loss", 2.0 / e}, {"train_top1", 0.5 + 0.08 * e}, {"val_loss", 2.2 / e},
                    {"val_top1", 0.45 + 0.08 * e}, {"val_top5", 0.8 + 0.03 * e}});
  }
  return rows;
}

TEST(Plots, CurvesPngHasThreePanelsWithCurves) {
  TempDir dir;
  const std::string path = dir / "curves.png";
  write_curves_png(path, training_rows(5, 20), kClassification);
  keep(path);
  const cv::Mat img = cv::imread(path, cv::IMREAD_COLOR);
  ASSERT_FALSE(img.empty()) << "not a readable PNG";
  EXPECT_EQ(test::read_file(path).substr(1, 3), "PNG");
  EXPECT_EQ(img.cols, 1560);
  EXPECT_EQ(img.rows, 420);
  EXPECT_GT(count_non_white(img), img.total() / 50);
  // Train curves (tab10 blue), val curves (orange), top-5 (green) and lr (red) are drawn.
  EXPECT_GT(count_color(img, {180, 119, 31}), 200);
  EXPECT_GT(count_color(img, {14, 127, 255}), 200);
  EXPECT_GT(count_color(img, {44, 160, 44}), 100);
  EXPECT_GT(count_color(img, {40, 39, 214}), 100);
  // Each panel has ink: nothing is drawn outside the canvas of one panel only.
  for (int p = 0; p < 3; ++p) {
    EXPECT_GT(count_non_white(img(cv::Rect(p * 520, 0, 520, 420))), 5000) << "panel " << p;
  }
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"curves.png"});  // no temporary left
}

TEST(Plots, CurvesFollowTheDeclaredMetrics) {
  // A task that declares only a loss gets two panels (loss, learning rate); one that declares
  // a perplexity gets its curves, not classification's.
  TempDir dir;
  const std::vector<MetricSpec> loss_only = {{"loss", "loss", Goal::kMin, MetricFormat::kDecimal, true}};
  write_curves_png(dir / "loss.png", training_rows(3, 5), loss_only);
  cv::Mat img = cv::imread(dir / "loss.png");
  ASSERT_FALSE(img.empty());
  EXPECT_EQ(img.cols, 1040);
  EXPECT_GT(count_color(img, {40, 39, 214}), 100);  // the lr curve
  std::vector<nlohmann::json> rows;
  for (int e = 1; e <= 4; ++e) {
    rows.push_back({{"kind", "epoch"}, {"epoch", e}, {"step", 10 * e}, {"train_loss", 2.0 / e},
                    {"val_loss", 2.1 / e}, {"val_ppl", 8.0 / e}});
  }
  const std::vector<MetricSpec> lm = {loss_only[0], {"ppl", "perplexity", Goal::kMin, MetricFormat::kDecimal, false}};
  write_curves_png(dir / "lm.png", rows, lm);
  img = cv::imread(dir / "lm.png");
  ASSERT_FALSE(img.empty());
  EXPECT_EQ(img.cols, 1560);
  // The perplexity panel's one series (val, first colour of the palette) has ink.
  EXPECT_GT(count_color(img(cv::Rect(520, 0, 520, 420)), {180, 119, 31}), 100);
}

TEST(Plots, CurvesToleratesMissingKeysAndNoRows) {
  TempDir dir;
  write_curves_png(dir / "empty.png", {}, kClassification);
  cv::Mat img = cv::imread(dir / "empty.png");
  ASSERT_FALSE(img.empty());
  EXPECT_EQ(count_color(img, {180, 119, 31}), 0);  // no curve
  // Epoch rows with only some keys, one epoch, garbage rows.
  std::vector<nlohmann::json> rows = {{{"epoch", 1}, {"train_loss", 1.5}},
                                      nlohmann::json("not an object"),
                                      {{"epoch", "two"}, {"val_top1", 0.5}},
                                      {{"kind", "step"}, {"lr", 0.1}}};
  write_curves_png(dir / "sparse.png", rows, kClassification);
  keep(dir / "sparse.png");
  keep(dir / "empty.png");
  img = cv::imread(dir / "sparse.png");
  ASSERT_FALSE(img.empty());
  EXPECT_GT(count_color(img, {180, 119, 31}), 20);  // the one train-loss marker
}

TEST(Plots, CurvesReplaceAtomically) {
  TempDir dir;
  const std::string path = dir / "curves.png";
  write_curves_png(path, training_rows(1, 5), kClassification);
  const std::string first = test::read_file(path);
  write_curves_png(path, training_rows(4, 5), kClassification);
  EXPECT_NE(test::read_file(path), first);
  EXPECT_EQ(entries(dir.path()).size(), 1u);
  // A destination that cannot be replaced (a directory) fails with an I/O error naming it, and
  // leaves no temporary behind.
  fs::create_directory(dir / "taken.png");
  try {
    write_curves_png(dir / "taken.png", training_rows(2, 5), kClassification);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kIO);
    EXPECT_NE(std::string(e.what()).find("taken.png"), std::string::npos);
  }
  EXPECT_EQ(entries(dir.path()).size(), 2u);
  EXPECT_THROW(write_curves_png(dir / "no/such/dir/c.png", {}, kClassification), Error);
}

TEST(Plots, ConfusionPngTenClasses) {
  TempDir dir;
  std::vector<std::vector<int64_t>> m(10, std::vector<int64_t>(10, 1));
  for (int i = 0; i < 10; ++i) m[i][i] = 91;  // 91% on the diagonal
  std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  const std::string path = dir / "confusion.png";
  write_confusion_png(path, m, names);
  keep(path);
  const cv::Mat img = cv::imread(path);
  ASSERT_FALSE(img.empty());
  EXPECT_GT(img.cols, 600);
  EXPECT_LT(img.cols, 1200);
  EXPECT_GT(img.rows, 600);
  EXPECT_LT(img.rows, 1200);
  // Dark-blue diagonal cells: 10 cells of at least 40x40 pixels.
  EXPECT_GT(count_color(img, {107, 48, 8}, 40), 10 * 40 * 40);
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"confusion.png"});
}

TEST(Plots, ConfusionScalesToManyClasses) {
  TempDir dir;
  for (int n : {100, 1000}) {
    std::vector<std::vector<int64_t>> m(n, std::vector<int64_t>(n, 0));
    for (int i = 0; i < n; ++i) m[i][i] = 3, m[i][(i + 1) % n] = 1;
    const std::string path = dir / ("c" + std::to_string(n) + ".png");
    write_confusion_png(path, m, {});
    keep(path);
    const cv::Mat img = cv::imread(path);
    ASSERT_FALSE(img.empty()) << n;
    EXPECT_LT(img.cols, 1400) << n;
    EXPECT_LT(img.rows, 1400) << n;
    EXPECT_GE(img.rows, n) << n;  // at least a pixel per class
  }
}

TEST(Plots, ConfusionRejectsBadShapes) {
  TempDir dir;
  EXPECT_THROW(write_confusion_png(dir / "a.png", {{1, 2}, {3}}, {}), Error);
  EXPECT_THROW(write_confusion_png(dir / "b.png", {{1, 0}, {0, 1}}, {"one"}), Error);
  EXPECT_THROW(write_confusion_png(dir / "c.png", {}, {}), Error);
  EXPECT_TRUE(entries(dir.path()).empty());
}

}  // namespace
}  // namespace zoo
