// TensorImageDataset; see tensor_dataset.h.
#include "data/tensor_dataset.h"

#include "common/error.h"

namespace zoo {

TensorImageDataset::TensorImageDataset(torch::Tensor images, torch::Tensor labels,
                                       SampleSpec spec, std::string source, Augment augment,
                                       bool flip)
    : spec_(spec), source_(std::move(source)), augment_(augment), flip_(flip) {
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
}

std::string TensorImageDataset::describe(size_t index) const {
  return source_ + "[" + std::to_string(index) + "]";
}

void TensorImageDataset::load(size_t index, float* out, uint64_t sample_seed) const {
  const int64_t h = images_.size(1), w = images_.size(2), c = images_.size(3);
  const uint8_t* src = images_.data_ptr<uint8_t>() + index * h * w * c;
  const cv::Mat img(int(h), int(w), c == 1 ? CV_8UC1 : CV_8UC3, const_cast<uint8_t*>(src));
  small_image_pipeline(img, spec_, augment_, flip_, sample_seed, out);
}

}  // namespace zoo
