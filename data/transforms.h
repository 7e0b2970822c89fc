// Image transforms with torchvision's semantics, on OpenCV images: RandomResizedCrop (its
// get_params: 10 tries, then the central-crop fallback), Resize of the shorter side +
// CenterCrop, padded RandomCrop (the CIFAR recipe), RandomHorizontalFlip, ColorJitter (random
// order of brightness/contrast/saturation/hue, on float RGB in [0,1] as torchvision's tensor
// path does), ToTensor + Normalize into a C x H x W float slot. Randomness comes only from a
// Rng seeded by the loader's per-sample seed, so a sample's augmentation does not depend on
// the thread that loads it. Also the channel conversion every image reader shares (gray, RGBA,
// 16-bit -> the model's 1 or 3 channels, RGB order). Leaves out: AutoAugment, RandAugment,
// mixup/cutmix, rotations.
#pragma once

#include "data/dataset.h"

#include <opencv2/core.hpp>

#include <array>
#include <cstdint>
#include <random>
#include <string>

namespace zoo {

// The only source of randomness in transforms: a 64-bit Mersenne Twister with portable
// uniform draws (std::uniform_*_distribution differ between standard libraries).
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  double uniform(double lo, double hi) { return lo + (hi - lo) * double(engine_() >> 11) * 0x1.0p-53; }
  // An integer in [lo, hi).
  int64_t randint(int64_t lo, int64_t hi) { return lo + int64_t(engine_() % uint64_t(hi - lo)); }
  bool coin(double p = 0.5) { return uniform(0.0, 1.0) < p; }

 private:
  std::mt19937_64 engine_;
};

// A crop box in pixels: rows [top, top + height), columns [left, left + width).
struct CropBox {
  int top = 0;
  int left = 0;
  int height = 0;
  int width = 0;
};

// torchvision RandomResizedCrop.get_params for an image of height x width.
CropBox random_resized_crop_box(int height, int width, Rng& rng,
                                std::array<double, 2> scale = {0.08, 1.0},
                                std::array<double, 2> ratio = {3.0 / 4.0, 4.0 / 3.0});
// torchvision CenterCrop's box (offsets rounded); the crop may be larger than the image, then
// the box reaches outside it and crop() pads with zeros as torchvision does.
CropBox center_crop_box(int height, int width, int crop_height, int crop_width);
// torchvision Resize(int) output size: the shorter side becomes `size`, the longer keeps the
// aspect ratio (truncated).
cv::Size resize_shorter_size(int height, int width, int size);

// Resizes with area averaging when shrinking (close to PIL's antialiased bilinear that
// torchvision uses on images) and bilinear when enlarging.
cv::Mat resize_to(const cv::Mat& img, int height, int width);
// The box of `img` (zero padded where it reaches outside), a copy.
cv::Mat crop(const cv::Mat& img, const CropBox& box);
// Resize(size) on `img`; data_error naming `name` (its path) when the result would exceed the
// decoder's pixel limit (an aspect ratio above about 2700:1 at 256).
cv::Mat resize_shorter(const cv::Mat& img, int size, const std::string& name);
cv::Mat center_crop(const cv::Mat& img, int height, int width);
// RandomCrop(size, padding=pad): zero pad each side by `pad`, then a random height x width box.
cv::Mat random_crop_padded(const cv::Mat& img, int height, int width, int pad, Rng& rng);
void hflip_inplace(cv::Mat& img);

// torchvision ColorJitter(brightness, contrast, saturation, hue). apply() takes a CV_32F image
// in [0,1] (1 or 3 channels, RGB order) and changes it in place.
struct ColorJitter {
  double brightness = 0.0;
  double contrast = 0.0;
  double saturation = 0.0;
  double hue = 0.0;  // at most 0.5
  bool enabled() const { return brightness > 0 || contrast > 0 || saturation > 0 || hue > 0; }
  void apply(cv::Mat& img, Rng& rng) const;
};
void adjust_brightness(cv::Mat& img, double factor);
void adjust_contrast(cv::Mat& img, double factor);
void adjust_saturation(cv::Mat& img, double factor);
void adjust_hue(cv::Mat& img, double factor);

// Converts a decoded image (OpenCV's BGR/BGRA/gray order, 8- or 16-bit) to 8-bit with
// `channels` channels: 1 (gray, ITU-R 601 luma) or 3 (RGB). `what` names the image in errors.
cv::Mat to_channels(const cv::Mat& decoded, int channels, const std::string& what);

// ToTensor + Normalize: writes img (CV_8U or CV_32F in [0,1], `channels` channels, rows x cols)
// as channels x rows x cols floats to `out`.
void to_normalized_chw(const cv::Mat& img, const std::array<double, 3>& mean,
                       const std::array<double, 3>& std, float* out);

// How much augmentation a training split gets (--augment).
enum class Augment { kNone, kStandard, kStrong };
Augment parse_augment(const std::string& name);  // throws usage_error listing the choices
std::string augment_name(Augment a);
// The jitter of --augment strong: ColorJitter(0.4, 0.4, 0.4, 0.1).
ColorJitter strong_jitter();

// The widest zero border small_image_pipeline adds instead of resizing (MNIST's 28 into
// a 32 x 32 input is 2 a side).
inline constexpr int64_t kMaxPadBorder = 4;

// The pipeline of images about the model's size (CIFAR, shapes, MNIST): `img` is 8-bit RGB or
// gray; it is converted to spec.channels, fitted to spec's size (zero padded when the target
// is larger by the same even amount on both axes, at most kMaxPadBorder a side, as MNIST's 28
// into a 32 x 32 input, else resized), then, when augmenting, RandomCrop(size, padding=4) + RandomHorizontalFlip (when
// `flip`), + ColorJitter for kStrong; then ToTensor + Normalize into `out`.
void small_image_pipeline(const cv::Mat& img, const SampleSpec& spec, Augment augment, bool flip,
                          uint64_t seed, float* out);
// small_image_pipeline in words for images of `height` x `width` (0: they vary), for run logs:
// "Pad(2) + RandomCrop(32, padding=4) + RandomHorizontalFlip + Normalize".
std::string small_pipeline_name(const SampleSpec& spec, int64_t height, int64_t width, Augment augment, bool flip);

}  // namespace zoo
