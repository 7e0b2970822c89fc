// ResNet (He, Zhang, Ren, Sun, "Deep residual learning for image recognition", CVPR 2016):
// resnet18/34 (basic blocks) and resnet50/101/152 (bottleneck blocks) in torchvision's
// form: ResNet v1.5, the bottleneck's stride sits on its 3x3 convolution, not on the first
// 1x1; projection shortcuts (downsample.0 conv1x1, downsample.1 BN) only where the shape
// changes. Keys, shapes and initialisation are torchvision's: convs kaiming_normal_(fan_out,
// relu), BN weight 1 bias 0, fc PyTorch's Linear default, zero_init_residual off.
// The ResNeXt (Xie et al., "Aggregated residual transformations", CVPR 2017) and Wide ResNet
// (Zagoruyko & Komodakis, BMVC 2016) variants are the same network with a bottleneck whose 3x3
// convolution is grouped (groups) and/or wider (width_per_group): its width is
// planes * width_per_group / 64 * groups, as in torchvision. Leaves out dilation and other norms.
// AdaptiveAvgPool2d(1x1) before fc: any input size works. The head is fc.
#pragma once

#include "models/batch_norm.h"
#include "models/classifier.h"
#include "models/registry.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

#include <array>

namespace zoo {

// Two 3x3 convolutions; resnet18/34.
class BasicBlockImpl : public torch::nn::Module {
 public:
  static constexpr int64_t kExpansion = 1;
  // downsample: the projection shortcut, or an empty holder (nullptr) for identity.
  BasicBlockImpl(int64_t inplanes, int64_t planes, int64_t stride,
                 torch::nn::Sequential downsample);
  torch::Tensor forward(torch::Tensor x);

 private:
  torch::nn::Conv2d conv1_{nullptr};
  BatchNorm2d bn1_{nullptr};
  torch::nn::ReLU relu_{nullptr};
  torch::nn::Conv2d conv2_{nullptr};
  BatchNorm2d bn2_{nullptr};
  torch::nn::Sequential downsample_{nullptr};
};
TORCH_MODULE(BasicBlock);

// 1x1 reduce, 3x3 (strided, grouped for ResNeXt), 1x1 expand to 4 * planes; resnet50/101/152,
// resnext*, wide_resnet*.
class BottleneckImpl : public torch::nn::Module {
 public:
  static constexpr int64_t kExpansion = 4;
  BottleneckImpl(int64_t inplanes, int64_t planes, int64_t stride,
                 torch::nn::Sequential downsample, int64_t groups = 1, int64_t width_per_group = 64);
  torch::Tensor forward(torch::Tensor x);

 private:
  torch::nn::Conv2d conv1_{nullptr};
  BatchNorm2d bn1_{nullptr};
  torch::nn::Conv2d conv2_{nullptr};
  BatchNorm2d bn2_{nullptr};
  torch::nn::Conv2d conv3_{nullptr};
  BatchNorm2d bn3_{nullptr};
  torch::nn::ReLU relu_{nullptr};
  torch::nn::Sequential downsample_{nullptr};
};
TORCH_MODULE(Bottleneck);

struct ResNetConfig {
  enum class Block { kBasic, kBottleneck };
  Block block = Block::kBasic;
  std::array<int64_t, 4> layers{2, 2, 2, 2};  // blocks in layer1..layer4
  int64_t groups = 1;                          // bottleneck 3x3 groups (ResNeXt: 32 or 64)
  int64_t width_per_group = 64;                // ResNeXt: 4 or 8; wide: 128
};

class ResNetImpl : public ClassifierImpl {
 public:
  ResNetImpl(const ResNetConfig& config, const ModelOptions& options);
  torch::Tensor forward(torch::Tensor x) override;
  // N x 512 (basic) or N x 2048 (bottleneck): the pooled layer4 output.
  torch::Tensor features(torch::Tensor x) override;
  torch::Tensor classify(torch::Tensor features) override;
  std::vector<std::string> head_prefixes() const override { return {"fc"}; }
  void reset_head(int64_t num_classes) override;
  int64_t num_classes() const override { return num_classes_; }
  std::vector<Stage> stages() override;

 private:
  int64_t num_classes_;
  int64_t feature_dim_;
  torch::nn::Conv2d conv1_{nullptr};
  BatchNorm2d bn1_{nullptr};
  torch::nn::ReLU relu_{nullptr};
  torch::nn::MaxPool2d maxpool_{nullptr};
  torch::nn::Sequential layer1_{nullptr};
  torch::nn::Sequential layer2_{nullptr};
  torch::nn::Sequential layer3_{nullptr};
  torch::nn::Sequential layer4_{nullptr};
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
  torch::nn::Linear fc_{nullptr};
};
TORCH_MODULE(ResNet);

Classifier resnet18(const ModelOptions& options);
Classifier resnet34(const ModelOptions& options);
Classifier resnet50(const ModelOptions& options);
Classifier resnet101(const ModelOptions& options);
Classifier resnet152(const ModelOptions& options);
Classifier resnext50_32x4d(const ModelOptions& options);
Classifier resnext101_32x8d(const ModelOptions& options);
Classifier resnext101_64x4d(const ModelOptions& options);
Classifier wide_resnet50_2(const ModelOptions& options);
Classifier wide_resnet101_2(const ModelOptions& options);

}  // namespace zoo
