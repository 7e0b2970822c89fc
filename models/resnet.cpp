// ResNet, see resnet.h. Module names follow torchvision: conv1, bn1, relu, maxpool,
// layer1..layer4 (Sequentials of blocks "0", "1", ...), avgpool, fc; inside a block conv1, bn1,
// conv2, bn2 (conv3, bn3), relu, downsample.{0 conv1x1, 1 bn}.
#include "models/resnet.h"

#include "models/module_utils.h"

#include <torch/nn/init.h>

#include <type_traits>

namespace zoo {

namespace nn = torch::nn;

namespace {

nn::Conv2d conv3x3(int64_t in, int64_t out, int64_t stride = 1, int64_t groups = 1) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).groups(groups).bias(false));
}

nn::Conv2d conv1x1(int64_t in, int64_t out, int64_t stride = 1) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, 1).stride(stride).bias(false));
}

nn::ReLU relu() { return nn::ReLU(nn::ReLUOptions(true)); }

// One block of the layer's kind; ResNeXt / wide settings apply to bottlenecks only.
template <typename BlockImpl>
std::shared_ptr<BlockImpl> make_block(const ResNetConfig& config, int64_t inplanes, int64_t planes,
                                      int64_t stride, nn::Sequential downsample) {
  if constexpr (std::is_same_v<BlockImpl, BottleneckImpl>) {
    return std::make_shared<BlockImpl>(inplanes, planes, stride, downsample, config.groups,
                                       config.width_per_group);
  } else {
    return std::make_shared<BlockImpl>(inplanes, planes, stride, downsample);
  }
}

// torchvision's _make_layer: the projection shortcut is built before the first block (as in
// Python, so that a seeded build draws the same random numbers in the same order).
template <typename BlockImpl>
nn::Sequential make_layer(const ResNetConfig& config, int64_t& inplanes, int64_t planes, int64_t blocks,
                          int64_t stride) {
  const int64_t out = planes * BlockImpl::kExpansion;
  nn::Sequential downsample{nullptr};
  if (stride != 1 || inplanes != out) {
    downsample = nn::Sequential();
    downsample->push_back(conv1x1(inplanes, out, stride));  // 0
    downsample->push_back(BatchNorm2d(out));             // 1
  }
  nn::Sequential layer;
  layer->push_back(make_block<BlockImpl>(config, inplanes, planes, stride, downsample));
  inplanes = out;
  for (int64_t i = 1; i < blocks; ++i) {
    layer->push_back(make_block<BlockImpl>(config, inplanes, planes, 1, nn::Sequential{nullptr}));
  }
  return layer;
}

}  // namespace

BasicBlockImpl::BasicBlockImpl(int64_t inplanes, int64_t planes, int64_t stride,
                               nn::Sequential downsample) {
  conv1_ = register_module("conv1", conv3x3(inplanes, planes, stride));
  bn1_ = register_module("bn1", BatchNorm2d(planes));
  relu_ = register_module("relu", relu());
  conv2_ = register_module("conv2", conv3x3(planes, planes));
  bn2_ = register_module("bn2", BatchNorm2d(planes));
  if (downsample) downsample_ = register_module("downsample", downsample);
}

torch::Tensor BasicBlockImpl::forward(torch::Tensor x) {
  torch::Tensor out = relu_(bn1_(conv1_(x)));  // N x planes x H' x W' (H' = H / stride)
  out = bn2_(conv2_(out));                     // N x planes x H' x W'
  out += downsample_ ? downsample_->forward(x) : x;
  return relu_(out);
}

BottleneckImpl::BottleneckImpl(int64_t inplanes, int64_t planes, int64_t stride,
                               nn::Sequential downsample, int64_t groups, int64_t width_per_group) {
  // torchvision: int(planes * (base_width / 64.0)) * groups.
  const int64_t width = static_cast<int64_t>(static_cast<double>(planes) * (static_cast<double>(width_per_group) / 64.0)) * groups;
  conv1_ = register_module("conv1", conv1x1(inplanes, width));
  bn1_ = register_module("bn1", BatchNorm2d(width));
  conv2_ = register_module("conv2", conv3x3(width, width, stride, groups));
  bn2_ = register_module("bn2", BatchNorm2d(width));
  conv3_ = register_module("conv3", conv1x1(width, planes * kExpansion));
  bn3_ = register_module("bn3", BatchNorm2d(planes * kExpansion));
  relu_ = register_module("relu", relu());
  if (downsample) downsample_ = register_module("downsample", downsample);
}

torch::Tensor BottleneckImpl::forward(torch::Tensor x) {
  torch::Tensor out = relu_(bn1_(conv1_(x)));  // N x w x H x W (w: the width, p for ResNet)
  out = relu_(bn2_(conv2_(out)));              // N x w x H' x W' (H' = H / stride)
  out = bn3_(conv3_(out));                     // N x 4p x H' x W'
  out += downsample_ ? downsample_->forward(x) : x;
  return relu_(out);
}

ResNetImpl::ResNetImpl(const ResNetConfig& config, const ModelOptions& options)
    : num_classes_(options.num_classes) {
  const int64_t in_channels = options.in_channels == 0 ? 3 : options.in_channels;
  const bool basic = config.block == ResNetConfig::Block::kBasic;
  const auto make = basic ? make_layer<BasicBlockImpl> : make_layer<BottleneckImpl>;
  const auto& n = config.layers;
  int64_t inplanes = 64;

  conv1_ = register_module(
      "conv1", nn::Conv2d(nn::Conv2dOptions(in_channels, 64, 7).stride(2).padding(3).bias(false)));
  bn1_ = register_module("bn1", BatchNorm2d(64));
  relu_ = register_module("relu", relu());
  maxpool_ = register_module("maxpool", nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).padding(1)));
  layer1_ = register_module("layer1", make(config, inplanes, 64, n[0], 1));
  layer2_ = register_module("layer2", make(config, inplanes, 128, n[1], 2));
  layer3_ = register_module("layer3", make(config, inplanes, 256, n[2], 2));
  layer4_ = register_module("layer4", make(config, inplanes, 512, n[3], 2));
  avgpool_ = register_module("avgpool", nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions(1)));
  feature_dim_ = inplanes;
  fc_ = register_module("fc", nn::Linear(feature_dim_, num_classes_));

  // torchvision's init, in its module order; fc keeps Linear's default.
  torch::NoGradGuard no_grad;
  for (const auto& module : modules(/*include_self=*/false)) {
    if (auto* conv = module->as<nn::Conv2d>()) {
      nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
    } else if (auto* bn = module->as<BatchNorm2d>()) {
      nn::init::ones_(bn->weight);
      nn::init::zeros_(bn->bias);
    }
  }
}

torch::Tensor ResNetImpl::features(torch::Tensor x) {
  x = relu_(bn1_(conv1_(x)));  // N x 64 x H/2 x W/2
  x = maxpool_(x);             // N x 64 x H/4 x W/4
  x = layer1_->forward(x);     // N x 64e x H/4 x W/4     (e: 1 basic, 4 bottleneck)
  x = layer2_->forward(x);     // N x 128e x H/8 x W/8
  x = layer3_->forward(x);     // N x 256e x H/16 x W/16
  x = layer4_->forward(x);     // N x 512e x H/32 x W/32
  x = avgpool_(x);             // N x 512e x 1 x 1
  return x.flatten(1);         // N x 512e
}

torch::Tensor ResNetImpl::forward(torch::Tensor x) {
  return classify(features(x));  // N x num_classes
}

torch::Tensor ResNetImpl::classify(torch::Tensor x) {
  return fc_(x);  // N x 512e -> N x num_classes
}

std::vector<Stage> ResNetImpl::stages() {
  std::vector<Stage> stages{module_stage("conv1", conv1_), module_stage("bn1", bn1_),
                            module_stage("relu", relu_), module_stage("maxpool", maxpool_)};
  append_stages(stages, "layer1", layer1_);
  append_stages(stages, "layer2", layer2_);
  append_stages(stages, "layer3", layer3_);
  append_stages(stages, "layer4", layer4_);
  stages.push_back(module_stage("avgpool", avgpool_));
  stages.push_back(flatten_stage());
  stages.push_back(module_stage("fc", fc_));
  return stages;
}

void ResNetImpl::reset_head(int64_t num_classes) {
  num_classes_ = num_classes;
  fc_ = replace_module("fc", nn::Linear(feature_dim_, num_classes));
}

namespace {
Classifier make_resnet(ResNetConfig::Block block, std::array<int64_t, 4> layers,
                       const ModelOptions& options, int64_t groups = 1, int64_t width_per_group = 64) {
  return std::make_shared<ResNetImpl>(ResNetConfig{block, layers, groups, width_per_group}, options);
}
constexpr auto kBasic = ResNetConfig::Block::kBasic;
constexpr auto kBottleneck = ResNetConfig::Block::kBottleneck;
}  // namespace

Classifier resnet18(const ModelOptions& o) { return make_resnet(kBasic, {2, 2, 2, 2}, o); }
Classifier resnet34(const ModelOptions& o) { return make_resnet(kBasic, {3, 4, 6, 3}, o); }
Classifier resnet50(const ModelOptions& o) { return make_resnet(kBottleneck, {3, 4, 6, 3}, o); }
Classifier resnet101(const ModelOptions& o) { return make_resnet(kBottleneck, {3, 4, 23, 3}, o); }
Classifier resnet152(const ModelOptions& o) { return make_resnet(kBottleneck, {3, 8, 36, 3}, o); }
Classifier resnext50_32x4d(const ModelOptions& o) { return make_resnet(kBottleneck, {3, 4, 6, 3}, o, 32, 4); }
Classifier resnext101_32x8d(const ModelOptions& o) { return make_resnet(kBottleneck, {3, 4, 23, 3}, o, 32, 8); }
Classifier resnext101_64x4d(const ModelOptions& o) { return make_resnet(kBottleneck, {3, 4, 23, 3}, o, 64, 4); }
Classifier wide_resnet50_2(const ModelOptions& o) { return make_resnet(kBottleneck, {3, 4, 6, 3}, o, 1, 128); }
Classifier wide_resnet101_2(const ModelOptions& o) { return make_resnet(kBottleneck, {3, 4, 23, 3}, o, 1, 128); }

}  // namespace zoo
