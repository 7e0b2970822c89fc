// TensorImageDataset; see tensor_dataset.h.
#include "data/tensor_dataset.h"

#include "common/error.h"

#include <opencv2/imgproc.hpp>

namespace zoo {

TensorImageDataset::TensorImageDataset(torch::Tensor images, torch::Tensor labels,
                                       SampleSpec spec, std::string source)
    : spec_(spec), source_(std::move(source)) {
  if (images.dim() == 3) images = images.unsqueeze(3);
  if (images.dim() != 4 || images.scalar_type() != torch::kUInt8 ||
      (images.size(3) != 1 && images.size(3) != 3)) {
    throw internal_error("TensorImageDataset takes uint8 N x H x W [x C] images, C 1 or 3");
  }
  if (labels.dim() != 1 || labels.size(0) != images.size(0)) {
    throw data_error(source_ + " has " + std::to_string(images.size(0)) + " images but " +
                     std::to_string(labels.numel()) + " labels; HINT: the image and label files "
                     "must come from the same split");
  }
  if (spec_.channels != 1 && spec_.channels != 3) {
    throw usage_error("image models take 1 or 3 input channels, got " +
                      std::to_string(spec_.channels));
  }
  images_ = images.contiguous();
  auto l = labels.to(torch::kInt64).contiguous();
  labels_.assign(l.data_ptr<int64_t>(), l.data_ptr<int64_t>() + l.numel());
  const int64_t dh = spec_.height - images_.size(1);
  const int64_t dw = spec_.width - images_.size(2);
  if (dh == dw && dh >= 0 && dh % 2 == 0) {
    pad_ = dh / 2;  // e.g. 28x28 MNIST into LeNet's 32x32, as in the paper
  } else {
    resize_ = true;
  }
}

std::string TensorImageDataset::describe(size_t index) const {
  return source_ + "[" + std::to_string(index) + "]";
}

void TensorImageDataset::load(size_t index, float* out, uint64_t /*sample_seed*/) const {
  const int64_t h = images_.size(1), w = images_.size(2), c = images_.size(3);
  const uint8_t* src = images_.data_ptr<uint8_t>() + index * h * w * c;
  cv::Mat img(static_cast<int>(h), static_cast<int>(w), c == 1 ? CV_8UC1 : CV_8UC3,
              const_cast<uint8_t*>(src));
  if (resize_) {
    cv::Mat resized;
    cv::resize(img, resized, cv::Size(static_cast<int>(spec_.width), static_cast<int>(spec_.height)),
               0, 0, cv::INTER_LINEAR);
    img = resized;
  }
  const int64_t H = spec_.height, W = spec_.width, C = spec_.channels;
  const int64_t pad = resize_ ? 0 : pad_;
  const int64_t ih = img.rows, iw = img.cols;
  for (int64_t ch = 0; ch < C; ++ch) {
    const float scale = static_cast<float>(1.0 / (255.0 * spec_.std[ch]));
    const float shift = static_cast<float>(-spec_.mean[ch] / spec_.std[ch]);
    float* plane = out + ch * H * W;
    for (int64_t y = 0; y < H; ++y) {
      for (int64_t x = 0; x < W; ++x) {
        const int64_t sy = y - pad, sx = x - pad;
        float v = 0.0f;
        if (sy >= 0 && sy < ih && sx >= 0 && sx < iw) {
          const uint8_t* px = img.ptr<uint8_t>(static_cast<int>(sy)) + sx * c;
          if (c == C) {
            v = px[ch];
          } else if (c == 1) {
            v = px[0];  // gray -> RGB: replicate
          } else {
            v = 0.299f * px[0] + 0.587f * px[1] + 0.114f * px[2];  // RGB -> gray (ITU-R 601)
          }
        }
        plane[y * W + x] = v * scale + shift;
      }
    }
  }
}

}  // namespace zoo
