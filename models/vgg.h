// VGG (Simonyan, Zisserman, "Very deep convolutional networks for large-scale image
// recognition", ICLR 2015): configurations A (vgg11), B (vgg13), D (vgg16), E (vgg19), each
// with or without batch normalisation after every convolution (the _bn variants, not in the
// paper). Keys, shapes and initialisation are torchvision's: conv kaiming_normal_(fan_out,
// relu) with zero bias, BN weight 1 bias 0, linear N(0, 0.01) with zero bias. Leaves out the
// paper's LRN variant (A-LRN) and configuration C (1x1 convolutions).
// AdaptiveAvgPool2d(7x7) before the classifier lets any input of at least 32x32 work.
// The head is classifier.6.
#pragma once

#include "models/classifier.h"
#include "models/registry.h"

#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/pooling.h>

#include <vector>

namespace zoo {

struct VggConfig {
  static constexpr int64_t kPool = 0;  // a 2x2 max-pool in `layers`
  std::vector<int64_t> layers;         // conv output channels, kPool for a max-pool
  bool batch_norm = false;
};

class VggImpl : public ClassifierImpl {
 public:
  VggImpl(const VggConfig& config, const ModelOptions& options);
  torch::Tensor forward(torch::Tensor x) override;
  // N x 4096: everything before classifier.6 (dropout is active in training mode).
  torch::Tensor features(torch::Tensor x) override;
  torch::Tensor classify(torch::Tensor features) override;
  std::vector<std::string> head_prefixes() const override { return {"classifier.6"}; }
  void reset_head(int64_t num_classes) override;
  int64_t num_classes() const override { return num_classes_; }
  std::vector<Stage> stages() override;

 private:
  int64_t num_classes_;
  torch::nn::Sequential features_{nullptr};
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
  torch::nn::Sequential classifier_{nullptr};
};
TORCH_MODULE(Vgg);

Classifier vgg11(const ModelOptions& options);
Classifier vgg13(const ModelOptions& options);
Classifier vgg16(const ModelOptions& options);
Classifier vgg19(const ModelOptions& options);
Classifier vgg11_bn(const ModelOptions& options);
Classifier vgg13_bn(const ModelOptions& options);
Classifier vgg16_bn(const ModelOptions& options);
Classifier vgg19_bn(const ModelOptions& options);

}  // namespace zoo
