// Colour adjustments against torchvision itself: the same float image through zoo's
// adjust_brightness/contrast/saturation/hue and torchvision.transforms.functional's (tensor
// path, as ColorJitter applies them), compared value by value. Needs /usr/bin/python3 with
// torchvision (scripts/fixtures/color_jitter_parity.py); skipped without it.
#include "data/transforms.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>

namespace zoo {
namespace {

TEST(TransformsParity, ColorAdjustmentsMatchTorchvision) {
  if (std::system("/usr/bin/python3 -c 'import torchvision' 2>/dev/null") != 0) {
    GTEST_SKIP() << "/usr/bin/python3 with torchvision is needed";
  }
  test::TempDir dir;
  const int h = 12, w = 16;
  cv::Mat img(h, w, CV_32FC3);
  cv::randu(img, 0.0f, 1.0f);
  img.at<cv::Vec3f>(0, 0) = {0.5f, 0.5f, 0.5f};  // grey: hue's max == min branch
  img.at<cv::Vec3f>(0, 1) = {0.9f, 0.9f, 0.1f};  // ties between channels
  test::write_file(dir / "in.f32", std::string(reinterpret_cast<const char*>(img.data), img.total() * img.elemSize()));
  const std::string cmd = "/usr/bin/python3 " + std::string(ZOO_SOURCE_DIR) +
                          "/scripts/fixtures/color_jitter_parity.py " + dir / "in.f32" + " " +
                          std::to_string(h) + " " + std::to_string(w) + " " + dir / "ref";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const std::map<std::string, std::function<void(cv::Mat&)>> ours = {
      {"brightness", [](cv::Mat& m) { adjust_brightness(m, 1.3); }},
      {"contrast", [](cv::Mat& m) { adjust_contrast(m, 0.6); }},
      {"saturation", [](cv::Mat& m) { adjust_saturation(m, 1.7); }},
      {"hue", [](cv::Mat& m) { adjust_hue(m, -0.08); }},
  };
  for (const auto& [name, apply] : ours) {
    cv::Mat mine = img.clone();
    apply(mine);
    const std::string bytes = test::read_file(dir / ("ref." + name));
    ASSERT_EQ(bytes.size(), mine.total() * mine.elemSize()) << name;
    const cv::Mat ref(h, w, CV_32FC3, const_cast<char*>(bytes.data()));
    EXPECT_LT(cv::norm(mine, ref, cv::NORM_INF), 2e-6) << name;
  }
}

}  // namespace
}  // namespace zoo
