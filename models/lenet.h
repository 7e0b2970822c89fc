// LeNet-5 (LeCun, Bottou, Bengio, Haffner, "Gradient-based learning applied to document
// recognition", Proc. IEEE 1998) in its common modern form: ReLU and max pooling instead of
// scaled tanh and trainable subsampling, full C3 connectivity, no RBF output layer.
// Input 1x28x28 (conv1 padded by 2) or 1x32x32 (no padding, the paper's layout); both give a
// 16x5x5 feature map, so the parameter count is 61,706 for 10 classes either way.
#pragma once

#include "models/classifier.h"
#include "models/registry.h"

#include <torch/nn/modules/container/sequential.h>

namespace zoo {

class LeNet5Impl : public ClassifierImpl {
 public:
  explicit LeNet5Impl(const ModelOptions& options);
  torch::Tensor forward(torch::Tensor x) override;
  torch::Tensor features(torch::Tensor x) override;
  torch::Tensor classify(torch::Tensor features) override;
  std::vector<std::string> head_prefixes() const override { return {"classifier.4"}; }
  void reset_head(int64_t num_classes) override;
  int64_t num_classes() const override { return num_classes_; }
  std::vector<Stage> stages() override;

 private:
  int64_t num_classes_;
  torch::nn::Sequential features_{nullptr};
  torch::nn::Sequential classifier_{nullptr};
};
TORCH_MODULE(LeNet5);

Classifier lenet5(const ModelOptions& options);

}  // namespace zoo
