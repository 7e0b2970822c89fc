// Image transforms; see transforms.h. Formulas follow torchvision 0.14's transforms.py and
// functional_tensor.py.
#include "data/transforms.h"

#include "common/error.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace zoo {

namespace {

// Python's round(): halves to even (the current rounding mode, round-to-nearest-even),
// saturated to int so that absurd sizes give a box the caller's bounds checks refuse.
int py_round(double x) {
  const double r = std::nearbyint(x);
  if (!(r > double(std::numeric_limits<int>::min()))) return std::numeric_limits<int>::min();
  if (!(r < double(std::numeric_limits<int>::max()))) return std::numeric_limits<int>::max();
  return int(r);
}

}  // namespace

CropBox random_resized_crop_box(int height, int width, Rng& rng, std::array<double, 2> scale,
                                std::array<double, 2> ratio) {
  const double area = double(height) * double(width);
  const double log_lo = std::log(ratio[0]), log_hi = std::log(ratio[1]);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * rng.uniform(scale[0], scale[1]);
    const double aspect = std::exp(rng.uniform(log_lo, log_hi));
    const int w = py_round(std::sqrt(target_area * aspect));
    const int h = py_round(std::sqrt(target_area / aspect));
    if (0 < w && w <= width && 0 < h && h <= height) {
      const int top = int(rng.randint(0, height - h + 1));
      const int left = int(rng.randint(0, width - w + 1));
      return {top, left, h, w};
    }
  }
  // Fallback to the central crop of the allowed aspect ratio.
  const double in_ratio = double(width) / double(height);
  int w = width, h = height;
  if (in_ratio < ratio[0]) {
    h = py_round(w / ratio[0]);
  } else if (in_ratio > ratio[1]) {
    w = py_round(h * ratio[1]);
  }
  return {(height - h) / 2, (width - w) / 2, h, w};
}

CropBox center_crop_box(int height, int width, int crop_height, int crop_width) {
  // torchvision pads first when the crop is larger, then rounds the offsets: the same box.
  return {py_round((height - crop_height) / 2.0), py_round((width - crop_width) / 2.0), crop_height,
          crop_width};
}

cv::Size resize_shorter_size(int height, int width, int size) {
  if (height <= width) return {int(int64_t(size) * width / height), size};
  return {size, int(int64_t(size) * height / width)};
}

cv::Mat resize_to(const cv::Mat& img, int height, int width) {
  if (img.rows == height && img.cols == width) return img;
  cv::Mat out;
  const bool shrink = img.rows > height || img.cols > width;
  cv::resize(img, out, cv::Size(width, height), 0, 0, shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
  return out;
}

cv::Mat crop(const cv::Mat& img, const CropBox& box) {
  const cv::Rect want(box.left, box.top, box.width, box.height);
  const cv::Rect inside = want & cv::Rect(0, 0, img.cols, img.rows);
  if (inside == want) return img(want).clone();
  cv::Mat out(box.height, box.width, img.type(), cv::Scalar::all(0));
  if (inside.area() > 0) {
    img(inside).copyTo(out(cv::Rect(inside.x - box.left, inside.y - box.top, inside.width, inside.height)));
  }
  return out;
}

cv::Mat resize_shorter(const cv::Mat& img, int size, const std::string& name) {
  // An extreme aspect ratio would make the resized image huge (a 1 x 65535 JPEG of 600 bytes
  // becomes 256 x 16.8M pixels, 12.9 GB): refused at the decoder's own limit, PIL's
  // decompression-bomb size (an aspect ratio above about 2700:1 at 256).
  constexpr int64_t kMaxResizedPixels = 178'956'970;
  const int64_t shorter = std::min(img.rows, img.cols), longer = std::max(img.rows, img.cols);
  const int64_t resized_longer = shorter > 0 ? int64_t(size) * longer / shorter : 0;
  if (resized_longer * size > kMaxResizedPixels) {
    throw data_error("image " + name + " is " + std::to_string(img.cols) + " x " + std::to_string(img.rows) +
                     " pixels: resizing its shorter side to " + std::to_string(size) + " would make " +
                     std::to_string(resized_longer) + " x " + std::to_string(size) + ", more than zoo resizes (" +
                     std::to_string(kMaxResizedPixels) + " pixels); HINT: crop the image to a usual aspect ratio");
  }
  const cv::Size s = resize_shorter_size(img.rows, img.cols, size);
  return resize_to(img, s.height, s.width);
}

cv::Mat center_crop(const cv::Mat& img, int height, int width) {
  return crop(img, center_crop_box(img.rows, img.cols, height, width));
}

cv::Mat random_crop_padded(const cv::Mat& img, int height, int width, int pad, Rng& rng) {
  const int ph = img.rows + 2 * pad, pw = img.cols + 2 * pad;
  const int top = int(rng.randint(0, ph - height + 1)) - pad;
  const int left = int(rng.randint(0, pw - width + 1)) - pad;
  return crop(img, {top, left, height, width});
}

void hflip_inplace(cv::Mat& img) { cv::flip(img, img, 1); }

namespace {

template <typename F>
void for_each_pixel(cv::Mat& img, F f) {
  CV_Assert(img.depth() == CV_32F);
  const int c = img.channels();
  for (int y = 0; y < img.rows; ++y) {
    float* row = img.ptr<float>(y);
    for (int x = 0; x < img.cols; ++x) f(row + x * c);
  }
}

float clamp01(float v) { return std::min(1.0f, std::max(0.0f, v)); }
float gray_of(const float* p) { return 0.2989f * p[0] + 0.587f * p[1] + 0.114f * p[2]; }

}  // namespace

void adjust_brightness(cv::Mat& img, double factor) {
  const float f = float(factor);
  const int c = img.channels();
  for_each_pixel(img, [&](float* p) {
    for (int k = 0; k < c; ++k) p[k] = clamp01(f * p[k]);
  });
}

void adjust_contrast(cv::Mat& img, double factor) {
  const int c = img.channels();
  double sum = 0.0;
  for_each_pixel(img, [&](float* p) { sum += c == 3 ? gray_of(p) : p[0]; });
  const float mean = float(sum / std::max<double>(1.0, double(img.total())));
  const float f = float(factor);
  for_each_pixel(img, [&](float* p) {
    for (int k = 0; k < c; ++k) p[k] = clamp01(f * p[k] + (1.0f - f) * mean);
  });
}

void adjust_saturation(cv::Mat& img, double factor) {
  if (img.channels() != 3) return;  // as torchvision (and PIL) do for gray images
  const float f = float(factor);
  for_each_pixel(img, [&](float* p) {
    const float g = gray_of(p);
    for (int k = 0; k < 3; ++k) p[k] = clamp01(f * p[k] + (1.0f - f) * g);
  });
}

void adjust_hue(cv::Mat& img, double factor) {
  if (img.channels() != 3) return;
  const float shift = float(factor);
  for_each_pixel(img, [&](float* p) {
    // _rgb2hsv
    const float r = p[0], g = p[1], b = p[2];
    const float maxc = std::max(r, std::max(g, b)), minc = std::min(r, std::min(g, b));
    const float cr = maxc - minc;
    const bool eqc = maxc == minc;
    const float s = cr / (eqc ? 1.0f : maxc);
    const float div = eqc ? 1.0f : cr;
    const float rc = (maxc - r) / div, gc = (maxc - g) / div, bc = (maxc - b) / div;
    float h;
    if (maxc == r) h = bc - gc;
    else if (maxc == g) h = 2.0f + rc - bc;
    else h = 4.0f + gc - rc;
    h = std::fmod(h / 6.0f + 1.0f, 1.0f);
    // shift, then _hsv2rgb
    h = std::fmod(h + shift, 1.0f);
    if (h < 0) h += 1.0f;
    const float v = maxc;
    const float i_f = std::floor(h * 6.0f);
    const float fr = h * 6.0f - i_f;
    const int i = ((int(i_f) % 6) + 6) % 6;
    const float pp = clamp01(v * (1.0f - s)), q = clamp01(v * (1.0f - s * fr)),
                t = clamp01(v * (1.0f - s * (1.0f - fr)));
    const float table[6][3] = {{v, t, pp}, {q, v, pp}, {pp, v, t}, {pp, q, v}, {t, pp, v}, {v, pp, q}};
    p[0] = table[i][0];
    p[1] = table[i][1];
    p[2] = table[i][2];
  });
}

void ColorJitter::apply(cv::Mat& img, Rng& rng) const {
  // get_params: a random permutation of the four, then each factor in its order.
  int order[4] = {0, 1, 2, 3};
  for (int i = 3; i > 0; --i) std::swap(order[i], order[rng.randint(0, i + 1)]);
  auto factor = [&](double v) { return v > 0 ? rng.uniform(std::max(0.0, 1.0 - v), 1.0 + v) : 1.0; };
  const double b = factor(brightness), c = factor(contrast), s = factor(saturation);
  const double h = hue > 0 ? rng.uniform(-hue, hue) : 0.0;
  for (int fn : order) {
    if (fn == 0 && brightness > 0) adjust_brightness(img, b);
    if (fn == 1 && contrast > 0) adjust_contrast(img, c);
    if (fn == 2 && saturation > 0) adjust_saturation(img, s);
    if (fn == 3 && hue > 0) adjust_hue(img, h);
  }
}

cv::Mat to_channels(const cv::Mat& decoded, int channels, const std::string& what) {
  cv::Mat img = decoded;
  if (img.depth() == CV_16U) img.convertTo(img, CV_8U, 1.0 / 257.0);
  if (img.depth() != CV_8U) {
    throw data_error("image " + what + " has an unsupported pixel depth; HINT: save it as 8- or "
                     "16-bit PNG or JPEG");
  }
  const int ch = img.channels();
  if (ch != 1 && ch != 3 && ch != 4) {
    throw data_error("image " + what + " has " + std::to_string(ch) + " channels; HINT: save it as "
                     "grey, RGB or RGBA");
  }
  cv::Mat out;
  if (channels == 1) {
    if (ch == 1) return img;
    cv::cvtColor(img, out, ch == 4 ? cv::COLOR_BGRA2GRAY : cv::COLOR_BGR2GRAY);
  } else if (channels == 3) {
    if (ch == 1) cv::cvtColor(img, out, cv::COLOR_GRAY2RGB);
    else cv::cvtColor(img, out, ch == 4 ? cv::COLOR_BGRA2RGB : cv::COLOR_BGR2RGB);
  } else {
    throw usage_error("image models take 1 or 3 input channels, got " + std::to_string(channels));
  }
  return out;
}

void to_normalized_chw(const cv::Mat& img, const std::array<double, 3>& mean,
                       const std::array<double, 3>& std, float* out) {
  const int c = img.channels(), rows = img.rows, cols = img.cols;
  const bool u8 = img.depth() == CV_8U;
  if (!u8 && img.depth() != CV_32F) throw internal_error("to_normalized_chw takes 8-bit or float images");
  float scale[3], shift[3];
  for (int k = 0; k < c; ++k) {
    scale[k] = float((u8 ? 1.0 / 255.0 : 1.0) / std[k]);
    shift[k] = float(-mean[k] / std[k]);
  }
  const size_t plane = size_t(rows) * cols;
  for (int y = 0; y < rows; ++y) {
    float* o = out + size_t(y) * cols;
    if (u8) {
      const uint8_t* row = img.ptr<uint8_t>(y);
      for (int x = 0; x < cols; ++x) {
        for (int k = 0; k < c; ++k) o[k * plane + x] = row[x * c + k] * scale[k] + shift[k];
      }
    } else {
      const float* row = img.ptr<float>(y);
      for (int x = 0; x < cols; ++x) {
        for (int k = 0; k < c; ++k) o[k * plane + x] = row[x * c + k] * scale[k] + shift[k];
      }
    }
  }
}

Augment parse_augment(const std::string& name) {
  if (name == "none") return Augment::kNone;
  if (name == "standard") return Augment::kStandard;
  if (name == "strong") return Augment::kStrong;
  throw usage_error("--augment must be none, standard or strong, got '" + name + "'");
}

std::string augment_name(Augment a) {
  switch (a) {
    case Augment::kNone: return "none";
    case Augment::kStandard: return "standard";
    case Augment::kStrong: return "strong";
  }
  return "none";
}

ColorJitter strong_jitter() { return {0.4, 0.4, 0.4, 0.1}; }

namespace {

cv::Mat match_channels(const cv::Mat& rgb_or_gray, int channels) {
  if (rgb_or_gray.channels() == channels) return rgb_or_gray;
  cv::Mat out;
  if (channels == 3) cv::cvtColor(rgb_or_gray, out, cv::COLOR_GRAY2RGB);
  else if (channels == 1) cv::cvtColor(rgb_or_gray, out, cv::COLOR_RGB2GRAY);
  else throw usage_error("image models take 1 or 3 input channels, got " + std::to_string(channels));
  return out;
}

}  // namespace

void small_image_pipeline(const cv::Mat& img, const SampleSpec& spec, Augment augment, bool flip,
                          uint64_t seed, float* out) {
  const int h = int(spec.height), w = int(spec.width);
  cv::Mat x = match_channels(img, int(spec.channels));
  const int dh = h - x.rows, dw = w - x.cols;
  if (dh == dw && dh > 0 && dh % 2 == 0 && dh <= 2 * kMaxPadBorder) {
    x = crop(x, {-dh / 2, -dw / 2, h, w});
  } else {
    x = resize_to(x, h, w);
  }
  if (augment != Augment::kNone) {
    Rng rng(seed);
    x = random_crop_padded(x, h, w, 4, rng);
    if (flip && rng.coin()) hflip_inplace(x);
    if (augment == Augment::kStrong) {
      x.convertTo(x, CV_32F, 1.0 / 255.0);
      strong_jitter().apply(x, rng);
    }
  }
  to_normalized_chw(x, spec.mean, spec.std, out);
}

std::string small_pipeline_name(const SampleSpec& spec, int64_t height, int64_t width, Augment augment, bool flip) {
  const int64_t dh = spec.height - height, dw = spec.width - width;
  std::string out;
  if (height == 0 || width == 0) {
    out = "Resize(" + std::to_string(spec.height) + "x" + std::to_string(spec.width) + ") when not that size";
  } else if (dh == dw && dh > 0 && dh % 2 == 0 && dh <= 2 * kMaxPadBorder) {
    out = "Pad(" + std::to_string(dh / 2) + ")";
  } else if (dh != 0 || dw != 0) {
    out = "Resize(" + std::to_string(spec.height) + "x" + std::to_string(spec.width) + ")";
  }
  auto add = [&out](const std::string& step) { out += (out.empty() ? "" : " + ") + step; };
  if (augment != Augment::kNone) {
    add("RandomCrop(" + std::to_string(spec.height) + ", padding=4)");
    if (flip) add("RandomHorizontalFlip");
    if (augment == Augment::kStrong) add("ColorJitter(0.4, 0.4, 0.4, 0.1)");
  }
  add("Normalize");
  return out;
}

}  // namespace zoo
