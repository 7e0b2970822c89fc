// Multiply-add (MAC) counting for any forward pass, from ATen's RecordFunction callbacks:
// while a MacCounter is alive, every aten convolution and matrix product run on this thread is
// counted from its input and output shapes. Only the outermost counted op of a call chain is
// counted (aten::conv2d -> aten::convolution -> aten::_convolution count once; aten::linear ->
// aten::addmm / aten::matmul once). What is counted: convolutions (N*Cout*Hout*Wout *
// Cin/groups*kh*kw) and matrix products (M*N*K: linear, addmm, mm, matmul, bmm, baddbmm).
// Left out: element-wise ops, batch norm, pooling, activations, softmax — the "conv + linear"
// convention of torchvision's published figures.
#pragma once

#include "models/classifier.h"

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace zoo {

struct MacCount {
  int64_t conv = 0;    // convolutions
  int64_t linear = 0;  // linear / matrix products
  // Of those, the ops whose input (activation) does not require grad, such as the first layer
  // of a network: their backward computes the weight's gradient but none for the input.
  int64_t without_input_grad = 0;
  int64_t total() const { return conv + linear; }
  // A training step's MACs: the forward, the weights' gradients (as many as the forward) and the
  // inputs' gradients (as many, less the ops whose input needs none).
  int64_t training() const { return 3 * total() - without_input_grad; }
};

// Counts while alive, on the constructing thread only. Counters nest: an inner counter sees
// only its own span, and the outer one sees everything. Not copyable or movable.
class MacCounter {
 public:
  MacCounter();
  ~MacCounter();
  MacCounter(const MacCounter&) = delete;
  MacCounter& operator=(const MacCounter&) = delete;
  const MacCount& count() const { return count_; }

 private:
  friend struct MacCounterAccess;
  MacCount count_;
  MacCounter* outer_ = nullptr;
  uint64_t handle_ = 0;
};

// The MACs of running fn() once.
MacCount count_macs(const std::function<void()>& fn);

// The MACs of one eval-mode forward of a 1 x C x H x W input (the model is left in eval mode).
MacCount count_macs(ClassifierImpl& model, const std::array<int64_t, 3>& input_shape);

// The same with gradients enabled, as in training (the input needs no gradient), so that
// `without_input_grad` is filled in; the model is left in eval mode, its gradients untouched.
MacCount count_training_macs(ClassifierImpl& model, const std::array<int64_t, 3>& input_shape);

// One row of a per-layer report: a Stage run once on the previous stage's output.
struct LayerProfile {
  std::string name;                   // "features.0", "layer1.0", "flatten"
  std::string type;                   // "Conv2d", "BasicBlock", "Flatten"
  std::vector<int64_t> output_shape;  // without the batch dimension
  int64_t parameters = 0;
  MacCount macs;
};

// Runs model.stages() in eval mode without gradients on `input` (1 x C x H x W), one row each.
std::vector<LayerProfile> profile_layers(ClassifierImpl& model, const torch::Tensor& input);
// "torch::nn::Conv2dImpl" -> "Conv2d", "zoo::BasicBlockImpl" -> "BasicBlock".
std::string module_type(const torch::nn::Module& module);

}  // namespace zoo
