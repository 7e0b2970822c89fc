// Single-image loading; see image.h.
#include "data/image.h"

#include "common/error.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <filesystem>

namespace zoo {

torch::Tensor load_image_file(const std::string& path, const SampleSpec& spec) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw missing_error("image not found: " + path + "; HINT: check the path");
  }
  cv::Mat img = cv::imread(path, cv::IMREAD_UNCHANGED);
  if (img.empty()) {
    throw data_error("cannot decode image " + path + "; HINT: zoo reads PNG, JPEG, BMP, WebP, "
                     "TIFF and PPM files; the file may be corrupt or truncated");
  }
  if (img.depth() == CV_16U) img.convertTo(img, CV_8U, 1.0 / 257.0);
  if (img.depth() != CV_8U) {
    throw data_error("image " + path + " has an unsupported pixel depth; HINT: save it as 8- or "
                     "16-bit PNG or JPEG");
  }
  cv::Mat converted;
  const int ch = img.channels();
  if (spec.channels == 1) {
    if (ch == 1) converted = img;
    else cv::cvtColor(img, converted, ch == 4 ? cv::COLOR_BGRA2GRAY : cv::COLOR_BGR2GRAY);
  } else {
    if (ch == 1) cv::cvtColor(img, converted, cv::COLOR_GRAY2RGB);
    else cv::cvtColor(img, converted, ch == 4 ? cv::COLOR_BGRA2RGB : cv::COLOR_BGR2RGB);
  }
  auto resize_to = [&](int rows, int cols) {
    if (converted.rows == rows && converted.cols == cols) return;
    cv::Mat resized;
    const bool shrink = converted.rows > rows || converted.cols > cols;
    // Area averaging when shrinking, like PIL's antialiased bilinear that torchvision uses.
    cv::resize(converted, resized, cv::Size(cols, rows), 0, 0, shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
    converted = resized;
  };
  if (spec.resize > 0) {
    // torchvision Resize(int): the shorter side becomes `resize`, the longer keeps the aspect
    // ratio (truncated); CenterCrop rounds the offsets.
    const int r = int(spec.resize);
    const bool portrait = converted.rows > converted.cols;
    const int longer = int(int64_t(r) * (portrait ? converted.rows : converted.cols) /
                           (portrait ? converted.cols : converted.rows));
    resize_to(portrait ? longer : r, portrait ? r : longer);
    if (converted.rows < spec.height || converted.cols < spec.width) {
      throw usage_error("--resize " + std::to_string(r) + " is smaller than the crop " +
                        std::to_string(spec.height) + "x" + std::to_string(spec.width));
    }
    const int top = int(std::lround((converted.rows - spec.height) / 2.0));
    const int left = int(std::lround((converted.cols - spec.width) / 2.0));
    converted = converted(cv::Rect(left, top, int(spec.width), int(spec.height))).clone();
  } else {
    resize_to(int(spec.height), int(spec.width));
  }
  auto out = torch::empty({spec.channels, spec.height, spec.width});
  float* o = out.data_ptr<float>();
  const int64_t plane = spec.height * spec.width;
  for (int64_t y = 0; y < spec.height; ++y) {
    const uint8_t* row = converted.ptr<uint8_t>(int(y));
    for (int64_t x = 0; x < spec.width; ++x) {
      for (int64_t c = 0; c < spec.channels; ++c) {
        const double v = row[x * spec.channels + c] / 255.0;
        o[c * plane + y * spec.width + x] = float((v - spec.mean[c]) / spec.std[c]);
      }
    }
  }
  return out;
}

}  // namespace zoo
