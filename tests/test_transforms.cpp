// Transforms: torchvision's crop geometry (RandomResizedCrop's tries and fallback, CenterCrop's
// rounding, Resize of the shorter side), flips, ColorJitter's colour maths, channel
// conversion, ToTensor + Normalize, the small-image pipeline, and determinism from the seed.
#include "common/error.h"
#include "data/transforms.h"

#include <gtest/gtest.h>

#include <limits>
#include <opencv2/imgproc.hpp>

#include <cmath>

namespace zoo {
namespace {

TEST(Transforms, RandomResizedCropBoxStaysInsideWithTorchvisionBounds) {
  for (uint64_t seed = 0; seed < 500; ++seed) {
    Rng rng(seed);
    const int h = 375, w = 500;
    const CropBox b = random_resized_crop_box(h, w, rng);
    ASSERT_GE(b.top, 0);
    ASSERT_GE(b.left, 0);
    ASSERT_LE(b.top + b.height, h);
    ASSERT_LE(b.left + b.width, w);
    const double area = double(b.height) * b.width / (double(h) * w);
    EXPECT_GE(area, 0.08 * 0.9) << seed;  // rounding of h and w
    EXPECT_LE(area, 1.0);
    const double aspect = double(b.width) / b.height;
    EXPECT_GE(aspect, 3.0 / 4.0 * 0.9) << seed;
    EXPECT_LE(aspect, 4.0 / 3.0 * 1.1) << seed;
  }
  // Same seed, same box; another seed, (almost surely) another box.
  Rng a(7), b(7), c(8);
  const CropBox x = random_resized_crop_box(100, 100, a), y = random_resized_crop_box(100, 100, b),
                z = random_resized_crop_box(100, 100, c);
  EXPECT_EQ(std::tie(x.top, x.left, x.height, x.width), std::tie(y.top, y.left, y.height, y.width));
  EXPECT_NE(std::tie(x.top, x.left, x.height, x.width), std::tie(z.top, z.left, z.height, z.width));
}

TEST(Transforms, RandomResizedCropFallsBackToTheCentralCrop) {
  // A 10 x 1000 strip: no try fits the height, so the fallback takes the central crop of the
  // widest allowed ratio: h = 10, w = round(10 * 4/3) = 13, centred.
  Rng rng(1);
  const CropBox b = random_resized_crop_box(10, 1000, rng);
  EXPECT_EQ(b.height, 10);
  EXPECT_EQ(b.width, 13);
  EXPECT_EQ(b.top, 0);
  EXPECT_EQ(b.left, (1000 - 13) / 2);
  // Tall: w = width, h = round(w / (3/4)).
  const CropBox t = random_resized_crop_box(1000, 9, rng);
  EXPECT_EQ(t.width, 9);
  EXPECT_EQ(t.height, 12);
  EXPECT_EQ(t.top, (1000 - 12) / 2);
}

TEST(Transforms, RandomResizedCropOfAbsurdSizesStaysInsideTheImage) {
  // Sides near INT_MAX make sqrt(area * ratio) overflow int: the rounding saturates, the tries
  // are refused and the fallback box is inside the image.
  for (const int side : {std::numeric_limits<int>::max(), 0x72727272}) {
    Rng rng(3);
    const CropBox b = random_resized_crop_box(side, side, rng);
    EXPECT_GT(b.height, 0);
    EXPECT_GT(b.width, 0);
    EXPECT_GE(b.top, 0);
    EXPECT_GE(b.left, 0);
    EXPECT_LE(int64_t(b.top) + b.height, side);
    EXPECT_LE(int64_t(b.left) + b.width, side);
  }
}

TEST(Transforms, ResizeAndCenterCropGeometryIsTorchvisions) {
  // Resize(256) of 375 x 500: 256 x int(256 * 500 / 375) = 256 x 341.
  const cv::Size s = resize_shorter_size(375, 500, 256);
  EXPECT_EQ(s.height, 256);
  EXPECT_EQ(s.width, 341);
  EXPECT_EQ(resize_shorter_size(500, 375, 256), cv::Size(256, 341));
  // CenterCrop(224) of 256 x 341: top round(16) = 16, left round(58.5) = 58 (Python rounds half
  // to even).
  const CropBox b = center_crop_box(256, 341, 224, 224);
  EXPECT_EQ(b.top, 16);
  EXPECT_EQ(b.left, 58);
  // A crop larger than the image pads with zeros, as torchvision does.
  cv::Mat img(2, 2, CV_8UC1, cv::Scalar(9));
  cv::Mat c = center_crop(img, 4, 4);
  ASSERT_EQ(c.size(), cv::Size(4, 4));
  EXPECT_EQ(c.at<uint8_t>(0, 0), 0);
  EXPECT_EQ(c.at<uint8_t>(1, 1), 9);
  EXPECT_EQ(c.at<uint8_t>(2, 2), 9);
  EXPECT_EQ(c.at<uint8_t>(3, 3), 0);
}

TEST(Transforms, CropTakesTheBoxAndFlipMirrors) {
  cv::Mat img(4, 6, CV_8UC1);
  for (int y = 0; y < 4; ++y) {
    for (int x = 0; x < 6; ++x) img.at<uint8_t>(y, x) = uint8_t(10 * y + x);
  }
  cv::Mat c = crop(img, {1, 2, 2, 3});
  ASSERT_EQ(c.size(), cv::Size(3, 2));
  EXPECT_EQ(c.at<uint8_t>(0, 0), 12);
  EXPECT_EQ(c.at<uint8_t>(1, 2), 24);
  hflip_inplace(c);
  EXPECT_EQ(c.at<uint8_t>(0, 0), 14);
  EXPECT_EQ(c.at<uint8_t>(1, 2), 22);
  // Padded random crop: every box of the padded image is reachable, none leaves it.
  int seen_shifted = 0;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    Rng rng(seed);
    cv::Mat r = random_crop_padded(img, 4, 6, 4, rng);
    ASSERT_EQ(r.size(), img.size());
    seen_shifted += cv::norm(r, img, cv::NORM_L1) > 0;
  }
  EXPECT_GT(seen_shifted, 40);
}

cv::Mat float_rgb(float r, float g, float b, int rows = 2, int cols = 2) {
  return cv::Mat(rows, cols, CV_32FC3, cv::Scalar(r, g, b));
}

TEST(Transforms, ColorAdjustmentsFollowTorchvision) {
  cv::Mat img = float_rgb(0.2f, 0.4f, 0.6f);
  adjust_brightness(img, 2.0);
  EXPECT_NEAR(img.at<cv::Vec3f>(0, 0)[2], 1.0f, 1e-6);  // clamped
  EXPECT_NEAR(img.at<cv::Vec3f>(0, 0)[0], 0.4f, 1e-6);

  img = float_rgb(0.2f, 0.4f, 0.6f);
  adjust_saturation(img, 0.0);  // the grey 0.2989 r + 0.587 g + 0.114 b
  const float grey = 0.2989f * 0.2f + 0.587f * 0.4f + 0.114f * 0.6f;
  for (int k = 0; k < 3; ++k) EXPECT_NEAR(img.at<cv::Vec3f>(1, 1)[k], grey, 1e-6);

  img = float_rgb(0.2f, 0.4f, 0.6f);
  img.at<cv::Vec3f>(0, 0) = {1.0f, 1.0f, 1.0f};
  adjust_contrast(img, 0.0);  // everything becomes the image's mean grey
  const float mean = (3 * grey + 0.2989f + 0.587f + 0.114f) / 4;
  for (int k = 0; k < 3; ++k) EXPECT_NEAR(img.at<cv::Vec3f>(0, 1)[k], mean, 1e-6);

  img = float_rgb(1.0f, 0.0f, 0.0f);
  adjust_hue(img, 0.5);  // red -> cyan
  EXPECT_NEAR(img.at<cv::Vec3f>(0, 0)[0], 0.0f, 1e-6);
  EXPECT_NEAR(img.at<cv::Vec3f>(0, 0)[1], 1.0f, 1e-6);
  EXPECT_NEAR(img.at<cv::Vec3f>(0, 0)[2], 1.0f, 1e-6);
  img = float_rgb(0.3f, 0.7f, 0.5f);
  adjust_hue(img, 0.0);  // the HSV round trip is the identity
  EXPECT_NEAR(img.at<cv::Vec3f>(0, 0)[0], 0.3f, 1e-6);
  EXPECT_NEAR(img.at<cv::Vec3f>(0, 0)[1], 0.7f, 1e-6);
  EXPECT_NEAR(img.at<cv::Vec3f>(0, 0)[2], 0.5f, 1e-6);
  adjust_hue(img, 1.0 / 3.0);  // a third of the circle: (r, g, b) -> (b, r, g)
  EXPECT_NEAR(img.at<cv::Vec3f>(0, 0)[0], 0.5f, 1e-5);
  EXPECT_NEAR(img.at<cv::Vec3f>(0, 0)[1], 0.3f, 1e-5);
  EXPECT_NEAR(img.at<cv::Vec3f>(0, 0)[2], 0.7f, 1e-5);
}

TEST(Transforms, ColorJitterIsSeededAndStaysInRange) {
  cv::Mat base(8, 8, CV_32FC3);
  cv::randu(base, 0.0f, 1.0f);
  const ColorJitter jitter = strong_jitter();
  cv::Mat a = base.clone(), b = base.clone(), c = base.clone();
  Rng ra(3), rb(3), rc(4);
  jitter.apply(a, ra);
  jitter.apply(b, rb);
  jitter.apply(c, rc);
  EXPECT_EQ(cv::norm(a, b, cv::NORM_INF), 0.0);
  EXPECT_GT(cv::norm(a, c, cv::NORM_INF), 0.0);
  double lo, hi;
  cv::minMaxLoc(a.reshape(1), &lo, &hi);
  EXPECT_GE(lo, 0.0);
  EXPECT_LE(hi, 1.0);
}

TEST(Transforms, ChannelConversionAndNormalize) {
  // 16-bit grey -> RGB 8-bit, each channel v / 257.
  cv::Mat grey16(2, 2, CV_16UC1, cv::Scalar(257 * 200));
  cv::Mat rgb = to_channels(grey16, 3, "g16");
  ASSERT_EQ(rgb.type(), CV_8UC3);
  EXPECT_EQ(rgb.at<cv::Vec3b>(0, 0), cv::Vec3b(200, 200, 200));
  // BGRA -> RGB: order swapped, alpha dropped.
  cv::Mat bgra(1, 1, CV_8UC4, cv::Scalar(10, 20, 30, 40));
  EXPECT_EQ(to_channels(bgra, 3, "a").at<cv::Vec3b>(0, 0), cv::Vec3b(30, 20, 10));
  EXPECT_EQ(to_channels(bgra, 1, "a").channels(), 1);
  EXPECT_THROW(to_channels(cv::Mat(1, 1, CV_32FC1), 3, "f"), Error);

  // ToTensor + Normalize writes C x H x W.
  cv::Mat img(1, 2, CV_8UC3);
  img.at<cv::Vec3b>(0, 0) = {255, 0, 51};
  img.at<cv::Vec3b>(0, 1) = {0, 255, 102};
  float out[6];
  to_normalized_chw(img, {0.5, 0.5, 0.0}, {0.5, 0.5, 1.0}, out);
  EXPECT_FLOAT_EQ(out[0], 1.0f);   // R of pixel 0
  EXPECT_FLOAT_EQ(out[1], -1.0f);  // R of pixel 1
  EXPECT_FLOAT_EQ(out[2], -1.0f);  // G of pixel 0
  EXPECT_FLOAT_EQ(out[3], 1.0f);
  EXPECT_NEAR(out[4], 0.2f, 1e-6);  // B
  EXPECT_NEAR(out[5], 0.4f, 1e-6);
}

TEST(Transforms, SmallImagePipelinePadsAugmentsAndIsSeeded) {
  SampleSpec spec;
  spec.channels = 3;
  spec.height = spec.width = 32;
  // A 32 x 32 image whose left half is white: without augmentation it is copied as is.
  cv::Mat img(32, 32, CV_8UC3, cv::Scalar(0, 0, 0));
  img(cv::Rect(0, 0, 16, 32)).setTo(cv::Scalar(255, 255, 255));
  std::vector<float> a(3 * 32 * 32), b(a.size()), c(a.size());
  small_image_pipeline(img, spec, Augment::kNone, true, 1, a.data());
  EXPECT_FLOAT_EQ(a[5 * 32 + 0], 1.0f);
  EXPECT_FLOAT_EQ(a[5 * 32 + 31], 0.0f);
  // Augmented: seeded, values stay in [0, 1], and over seeds both flips and shifts happen.
  small_image_pipeline(img, spec, Augment::kStandard, true, 9, b.data());
  small_image_pipeline(img, spec, Augment::kStandard, true, 9, c.data());
  EXPECT_EQ(b, c);
  int flipped = 0;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    small_image_pipeline(img, spec, Augment::kStrong, true, seed, b.data());
    for (float v : b) ASSERT_TRUE(v >= 0.0f && v <= 1.0f);
    small_image_pipeline(img, spec, Augment::kStandard, true, seed, b.data());
    flipped += b[16 * 32 + 31] > 0.5f;  // white reached the right edge: flipped
  }
  EXPECT_GT(flipped, 5);
  EXPECT_LT(flipped, 35);
  // 28 -> 32 pads 2 pixels of zeros on each side; grey input -> 1 channel.
  spec.channels = 1;
  cv::Mat grey(28, 28, CV_8UC1, cv::Scalar(255));
  std::vector<float> p(32 * 32);
  small_image_pipeline(grey, spec, Augment::kNone, false, 0, p.data());
  EXPECT_FLOAT_EQ(p[0], 0.0f);
  EXPECT_FLOAT_EQ(p[1 * 32 + 1], 0.0f);
  EXPECT_FLOAT_EQ(p[2 * 32 + 2], 1.0f);
  EXPECT_FLOAT_EQ(p[29 * 32 + 29], 1.0f);
  EXPECT_FLOAT_EQ(p[30 * 32 + 30], 0.0f);
}

TEST(Transforms, AugmentNames) {
  EXPECT_EQ(parse_augment("none"), Augment::kNone);
  EXPECT_EQ(parse_augment("strong"), Augment::kStrong);
  EXPECT_EQ(augment_name(parse_augment("standard")), "standard");
  try {
    parse_augment("heavy");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUsage);
    EXPECT_NE(std::string(e.what()).find("none, standard or strong"), std::string::npos);
  }
}

}  // namespace
}  // namespace zoo
