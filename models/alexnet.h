// AlexNet (Krizhevsky, Sutskever, Hinton, "ImageNet classification with deep convolutional
// neural networks", NIPS 2012) in two forms:
//  - alexnet: torchvision's variant ("One weird trick", Krizhevsky 2014): 64-192-384-256-256
//    convolutions, no local response normalisation, 61,100,840 parameters for 1000 classes.
//    State-dict keys, shapes and initialisation (PyTorch's defaults) are torchvision's.
//  - alexnet2012: the 2012 paper's layout as a one-GPU network: 3x227x227 input,
//    96-256-384-384-256 convolutions with LocalResponseNorm(5, 1e-4, 0.75, k=2) after conv1
//    and conv2, 62,378,344 parameters for 1000 classes. The paper split conv2/4/5 into two
//    groups across two GPUs; here every convolution is dense (no grouped convs), so it has
//    more parameters than the two-GPU original. Initialisation is PyTorch's default (as for
//    torchvision's AlexNet), not the paper's N(0, 0.01) with unit biases.
// Both end in AdaptiveAvgPool2d(6x6) (the identity at 224 / 227 input), so any input of at
// least 63x63 (alexnet) or 67x67 (alexnet2012) works. The head is classifier.6.
#pragma once

#include "models/classifier.h"
#include "models/registry.h"

#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/pooling.h>

#include <array>
#include <string>

namespace zoo {

// One config for both layouts.
struct AlexNetConfig {
  std::string name = "alexnet";                              // for error messages
  std::array<int64_t, 5> channels{64, 192, 384, 256, 256};  // conv1..conv5 output channels
  int64_t conv1_padding = 2;
  bool local_response_norm = false;  // LRN after the ReLUs of conv1 and conv2 (2012 paper)
  int64_t min_input_size = 63;
};

class AlexNetImpl : public ClassifierImpl {
 public:
  AlexNetImpl(const AlexNetConfig& config, const ModelOptions& options);
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
TORCH_MODULE(AlexNet);

Classifier alexnet(const ModelOptions& options);
Classifier alexnet2012(const ModelOptions& options);

}  // namespace zoo
