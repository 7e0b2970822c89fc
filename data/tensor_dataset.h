// An in-memory image dataset over a uint8 tensor (N x H x W grayscale or N x H x W x C),
// for the small formats that are decoded whole (MNIST idx, CIFAR binary batches). Samples are
// converted to the requested channels (gray <-> RGB), padded or resized to the requested size,
// scaled to [0,1] and normalized.
#pragma once

#include "data/dataset.h"

#include <torch/types.h>

namespace zoo {

class TensorImageDataset : public Dataset {
 public:
  // images: uint8 N x H x W or N x H x W x C (C 1 or 3); labels: int64 N.
  TensorImageDataset(torch::Tensor images, torch::Tensor labels, SampleSpec spec,
                     std::string source);
  size_t size() const override { return static_cast<size_t>(images_.size(0)); }
  int64_t label(size_t index) const override { return labels_[index]; }
  void load(size_t index, float* out, uint64_t sample_seed) const override;
  const SampleSpec& spec() const override { return spec_; }
  std::string describe(size_t index) const override;

 private:
  torch::Tensor images_;  // N x H x W x C, contiguous
  std::vector<int64_t> labels_;
  SampleSpec spec_;
  std::string source_;
  int64_t pad_ = 0;       // zero padding per side when the target is larger by an even amount
  bool resize_ = false;   // otherwise bilinear resize
};

}  // namespace zoo
