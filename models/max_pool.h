// zoo's MaxPool2d: torch::nn::MaxPool2d's options, output and gradients, with a kernel of its
// own for the most common case, 2x2 windows at stride 2 (LeNet-5, VGG): LibTorch 1.13's
// max_pool2d_with_indices spent 1.3 ms of a 6.7 ms LeNet-5 training step at batch 64 on one
// thread (`zoo bench lenet5 --per-layer`), and this kernel spends a small fraction of that.
// The result is bit-identical to torch's: the same scan order within a window (the first
// maximum wins, a NaN wins), the same output, and a backward that adds each output's gradient
// to the input element it came from. It is used for float32 contiguous NCHW input on the CPU
// with kernel 2, stride 2, no padding, dilation 1, floor mode; everything else runs
// torch::max_pool2d. Its backward is not itself differentiable (no double backward).
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/options/pooling.h>
#include <torch/nn/pimpl.h>

#include <ostream>

namespace zoo {

// 2x2 / stride-2 max pooling of a float32 contiguous CPU NCHW tensor with autograd; throws
// c10::Error for other input.
torch::Tensor max_pool_2x2(const torch::Tensor& input);

class MaxPool2dImpl : public torch::nn::Cloneable<MaxPool2dImpl> {
 public:
  explicit MaxPool2dImpl(const torch::nn::MaxPool2dOptions& options) : options(options) {}
  void reset() override {}
  void pretty_print(std::ostream& stream) const override;
  torch::Tensor forward(const torch::Tensor& input);

  torch::nn::MaxPool2dOptions options;
};
TORCH_MODULE(MaxPool2d);

}  // namespace zoo
