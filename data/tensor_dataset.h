// An in-memory image dataset over a uint8 tensor (N x H x W grayscale or N x H x W x C),
// for the small formats that are decoded whole (MNIST idx, CIFAR binary batches). Samples are
// converted to the requested channels (gray <-> RGB), padded or resized to the requested size,
// augmented when asked (small_image_pipeline in transforms.h), scaled to [0,1] and normalized.
#pragma once

#include "data/dataset.h"
#include "data/transforms.h"

#include <torch/types.h>

namespace zoo {

class TensorImageDataset : public Dataset {
 public:
  // images: uint8 N x H x W or N x H x W x C (C 1 or 3, RGB); labels: int64 N. `augment`:
  // padded random crop (+ horizontal flip when `flip`, + colour jitter when strong).
  TensorImageDataset(torch::Tensor images, torch::Tensor labels, SampleSpec spec,
                     std::string source, Augment augment = Augment::kNone, bool flip = true);
  size_t size() const override { return static_cast<size_t>(images_.size(0)); }
  int64_t label(size_t index) const override { return labels_[index]; }
  void load(size_t index, float* out, uint64_t sample_seed) const override;
  const SampleSpec& spec() const override { return spec_; }
  std::string describe(size_t index) const override;
  std::array<int64_t, 2> source_size(size_t) const override {
    return {images_.size(1), images_.size(2)};
  }

 private:
  torch::Tensor images_;  // N x H x W x C, contiguous
  std::vector<int64_t> labels_;
  SampleSpec spec_;
  std::string source_;
  Augment augment_;
  bool flip_;
};

}  // namespace zoo
