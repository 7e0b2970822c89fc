// DenseNet-BC (Huang, Liu, van der Maaten, Weinberger, "Densely Connected Convolutional
// Networks", CVPR 2017, arXiv:1608.06993) exactly as torchvision builds it: a 7x7 stem, four
// dense blocks of BN-ReLU-1x1 conv (bn_size * growth) - BN-ReLU-3x3 conv (growth) layers whose
// inputs are the concatenation of every earlier output, 1x1-conv + 2x2 avg-pool transitions
// halving the channels, a final BN, ReLU, global average pool and one linear classifier.
// Variants 121/161/169/201 differ only in DenseNetConfig. Input at least 32x32.
// Left out: torchvision's memory_efficient checkpointing (numerically identical; it only trades
// compute for memory) and its renaming of pre-0.4 checkpoint keys ("norm.1" -> "norm1").
#pragma once

#include "models/batch_norm.h"
#include "models/classifier.h"
#include "models/registry.h"

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <array>

namespace zoo {

// The family's configuration: torchvision's DenseNet constructor arguments.
struct DenseNetConfig {
  int64_t growth_rate = 32;                         // k in the paper
  std::array<int64_t, 4> block_config{6, 12, 24, 16};  // layers per dense block
  int64_t num_init_features = 64;                   // stem output channels
  int64_t bn_size = 4;                              // bottleneck width = bn_size * growth_rate
  double drop_rate = 0.0;                           // dropout after each dense layer
  int64_t num_classes = 1000;
  int64_t in_channels = 3;
};

// norm1 -> relu -> conv1 (1x1, bn_size*k) -> norm2 -> relu -> conv2 (3x3, k) [-> dropout].
class DenseLayerImpl : public torch::nn::Module {
 public:
  DenseLayerImpl(int64_t num_input_features, int64_t growth_rate, int64_t bn_size,
                 double drop_rate);
  // The concatenation of `inputs` (all earlier feature maps of the block) -> N x k x H x W.
  torch::Tensor forward(const std::vector<torch::Tensor>& inputs);

 private:
  double drop_rate_;
  BatchNorm2d norm1_{nullptr};
  torch::nn::Conv2d conv1_{nullptr};
  BatchNorm2d norm2_{nullptr};
  torch::nn::Conv2d conv2_{nullptr};
};
TORCH_MODULE(DenseLayer);

// denselayer1 ... denselayerL; output = input and every layer's output concatenated.
class DenseBlockImpl : public torch::nn::Module {
 public:
  DenseBlockImpl(int64_t num_layers, int64_t num_input_features, int64_t bn_size,
                 int64_t growth_rate, double drop_rate);
  torch::Tensor forward(torch::Tensor x);

 private:
  std::vector<DenseLayer> layers_;
};
TORCH_MODULE(DenseBlock);

// norm -> relu -> 1x1 conv (halving channels) -> 2x2 avg-pool. A Sequential with named children
// as in torchvision; subclassed because a plain Sequential cannot nest in another Sequential.
class TransitionImpl : public torch::nn::SequentialImpl {
 public:
  TransitionImpl(int64_t num_input_features, int64_t num_output_features);
  torch::Tensor forward(torch::Tensor x) { return SequentialImpl::forward(x); }
};
TORCH_MODULE(Transition);

class DenseNetImpl : public ClassifierImpl {
 public:
  explicit DenseNetImpl(const DenseNetConfig& config);
  torch::Tensor forward(torch::Tensor x) override;
  torch::Tensor features(torch::Tensor x) override;  // N x num_features (1024 for 121)
  torch::Tensor classify(torch::Tensor features) override;
  std::vector<std::string> head_prefixes() const override { return {"classifier"}; }
  void reset_head(int64_t num_classes) override;
  int64_t num_classes() const override { return config_.num_classes; }
  int64_t num_features() const { return num_features_; }
  // features.conv0 ... features.norm5, relu, avgpool, flatten, classifier.
  std::vector<Stage> stages() override;

 private:
  DenseNetConfig config_;
  int64_t num_features_ = 0;
  // conv0, norm0, relu0, pool0, denseblock1, transition1, ..., denseblock4, norm5
  torch::nn::Sequential features_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(DenseNet);

// One builder per torchvision name. ModelOptions.dropout >= 0 sets drop_rate (default 0).
Classifier densenet121(const ModelOptions& options);
Classifier densenet161(const ModelOptions& options);
Classifier densenet169(const ModelOptions& options);
Classifier densenet201(const ModelOptions& options);

}  // namespace zoo
