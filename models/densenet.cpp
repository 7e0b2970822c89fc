// DenseNet, see densenet.h. Keys: features.{conv0, norm0, denseblockB.denselayerL.{norm1,
// conv1, norm2, conv2}, transitionT.{norm, conv}, norm5}, classifier. relu0, pool0 and the
// transitions' relu and pool are registered parameter-free children, as in torchvision.
#include "models/densenet.h"

#include "models/module_utils.h"

#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/pooling.h>

namespace zoo {

namespace nn = torch::nn;

DenseLayerImpl::DenseLayerImpl(int64_t num_input_features, int64_t growth_rate, int64_t bn_size,
                               double drop_rate)
    : drop_rate_(drop_rate) {
  norm1_ = register_module("norm1", BatchNorm2d(num_input_features));
  conv1_ = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(num_input_features,
                                                                 bn_size * growth_rate, 1)
                                                   .bias(false)));
  norm2_ = register_module("norm2", BatchNorm2d(bn_size * growth_rate));
  conv2_ = register_module("conv2", nn::Conv2d(nn::Conv2dOptions(bn_size * growth_rate,
                                                                 growth_rate, 3)
                                                   .padding(1)
                                                   .bias(false)));
}

torch::Tensor DenseLayerImpl::forward(const std::vector<torch::Tensor>& inputs) {
  torch::Tensor x = torch::cat(inputs, 1);           // N x C_in x H x W
  x = conv1_->forward(norm1_->forward(x).relu_());  // N x bn_size*k x H x W
  x = conv2_->forward(norm2_->forward(x).relu_());  // N x k x H x W
  if (drop_rate_ > 0) x = torch::dropout(x, drop_rate_, is_training());
  return x;
}

DenseBlockImpl::DenseBlockImpl(int64_t num_layers, int64_t num_input_features, int64_t bn_size,
                               int64_t growth_rate, double drop_rate) {
  for (int64_t i = 0; i < num_layers; ++i) {
    layers_.push_back(register_module(
        "denselayer" + std::to_string(i + 1),
        DenseLayer(num_input_features + i * growth_rate, growth_rate, bn_size, drop_rate)));
  }
}

torch::Tensor DenseBlockImpl::forward(torch::Tensor x) {
  std::vector<torch::Tensor> features{x};  // N x C0 x H x W
  features.reserve(layers_.size() + 1);
  for (auto& layer : layers_) features.push_back(layer->forward(features));  // + N x k x H x W
  return torch::cat(features, 1);  // N x (C0 + L*k) x H x W
}

TransitionImpl::TransitionImpl(int64_t num_input_features, int64_t num_output_features) {
  push_back("norm", BatchNorm2d(num_input_features));
  push_back("relu", nn::ReLU(nn::ReLUOptions(true)));
  push_back("conv", nn::Conv2d(nn::Conv2dOptions(num_input_features, num_output_features, 1)
                                   .bias(false)));
  push_back("pool", nn::AvgPool2d(nn::AvgPool2dOptions(2).stride(2)));
}

DenseNetImpl::DenseNetImpl(const DenseNetConfig& config) : config_(config) {
  nn::Sequential body;
  // Stem
  body->push_back("conv0", nn::Conv2d(nn::Conv2dOptions(config_.in_channels,
                                                        config_.num_init_features, 7)
                                          .stride(2)
                                          .padding(3)
                                          .bias(false)));
  body->push_back("norm0", BatchNorm2d(config_.num_init_features));
  body->push_back("relu0", nn::ReLU(nn::ReLUOptions(true)));
  body->push_back("pool0", nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).padding(1)));

  int64_t num_features = config_.num_init_features;
  const size_t num_blocks = config_.block_config.size();
  for (size_t i = 0; i < num_blocks; ++i) {
    const int64_t num_layers = config_.block_config[i];
    const std::string index = std::to_string(i + 1);
    body->push_back("denseblock" + index,
                    DenseBlock(num_layers, num_features, config_.bn_size, config_.growth_rate,
                               config_.drop_rate));
    num_features += num_layers * config_.growth_rate;
    if (i + 1 != num_blocks) {
      body->push_back("transition" + index, Transition(num_features, num_features / 2));
      num_features /= 2;
    }
  }
  body->push_back("norm5", BatchNorm2d(num_features));
  num_features_ = num_features;

  features_ = register_module("features", body);
  classifier_ = register_module("classifier", nn::Linear(num_features_, config_.num_classes));

  // torchvision's init: kaiming-normal convs, BN weight 1 bias 0, linear bias 0.
  for (const auto& m : modules(/*include_self=*/false)) {  // self: not yet in a shared_ptr
    if (auto* conv = m->as<nn::Conv2d>()) {
      nn::init::kaiming_normal_(conv->weight);
    } else if (auto* bn = m->as<BatchNorm2d>()) {
      nn::init::ones_(bn->weight);
      nn::init::zeros_(bn->bias);
    } else if (auto* linear = m->as<nn::Linear>()) {
      nn::init::zeros_(linear->bias);
    }
  }
}

torch::Tensor DenseNetImpl::features(torch::Tensor x) {
  // N x 3 x 224 x 224
  x = features_->forward(x);                 // N x num_features x 7 x 7
  x = x.relu_();                             // N x num_features x 7 x 7
  x = torch::adaptive_avg_pool2d(x, {1, 1});  // N x num_features x 1 x 1
  return x.flatten(1);                       // N x num_features
}

torch::Tensor DenseNetImpl::forward(torch::Tensor x) {
  return classify(features(x));  // N x num_classes
}

torch::Tensor DenseNetImpl::classify(torch::Tensor x) {
  return classifier_->forward(x);  // N x num_features -> N x num_classes
}

std::vector<Stage> DenseNetImpl::stages() {
  std::vector<Stage> stages;
  append_stages(stages, "features", features_);
  stages.push_back({"relu", nullptr, "ReLU", [](torch::Tensor x) { return x.relu_(); }});
  stages.push_back({"avgpool", nullptr, "AdaptiveAvgPool2d",
                    [](torch::Tensor x) { return torch::adaptive_avg_pool2d(x, {1, 1}); }});
  stages.push_back(flatten_stage());
  stages.push_back(module_stage("classifier", classifier_));
  return stages;
}

void DenseNetImpl::reset_head(int64_t num_classes) {
  config_.num_classes = num_classes;
  classifier_ = replace_module("classifier", nn::Linear(num_features_, num_classes));
  nn::init::zeros_(classifier_->bias);
}

namespace {

Classifier build_densenet(DenseNetConfig config, const ModelOptions& options) {
  config.num_classes = options.num_classes;
  if (options.in_channels > 0) config.in_channels = options.in_channels;
  if (options.dropout >= 0) config.drop_rate = options.dropout;
  return std::make_shared<DenseNetImpl>(config);
}

}  // namespace

// torchvision's (growth_rate, block_config, num_init_features) per variant.
Classifier densenet121(const ModelOptions& o) {
  return build_densenet({32, {6, 12, 24, 16}, 64}, o);
}
Classifier densenet161(const ModelOptions& o) {
  return build_densenet({48, {6, 12, 36, 24}, 96}, o);
}
Classifier densenet169(const ModelOptions& o) {
  return build_densenet({32, {6, 12, 32, 32}, 64}, o);
}
Classifier densenet201(const ModelOptions& o) {
  return build_densenet({32, {6, 12, 48, 32}, 64}, o);
}

}  // namespace zoo
