// VGG, see vgg.h. features holds, per config entry, conv + relu (conv + bn + relu for _bn) or
// one max-pool, numbered in order as torchvision's make_layers does; classifier.{0 fc
// 25088-4096, 1 relu, 2 dropout, 3 fc 4096-4096, 4 relu, 5 dropout, 6 fc 4096-classes}.
#include "models/vgg.h"

#include "models/batch_norm.h"
#include "models/max_pool.h"

#include "common/error.h"
#include "models/module_utils.h"

#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>

namespace zoo {

namespace nn = torch::nn;

namespace {

constexpr size_t kHeadIndex = 6;  // classifier.6
constexpr int64_t kMinInputSize = 32;
constexpr int64_t P = VggConfig::kPool;  // short alias: torchvision's "M"

// The paper's configurations (Table 1).
const std::vector<int64_t> kConfigA{64, P, 128, P, 256, 256, P, 512, 512, P, 512, 512, P};
const std::vector<int64_t> kConfigB{64, 64, P, 128, 128, P, 256, 256, P, 512, 512, P, 512, 512, P};
const std::vector<int64_t> kConfigD{64,  64,  P,   128, 128, P,   256, 256, 256,
                                    P,   512, 512, 512, P,   512, 512, 512, P};
const std::vector<int64_t> kConfigE{64,  64,  P,   128, 128, P,   256, 256, 256, 256, P,
                                    512, 512, 512, 512, P,   512, 512, 512, 512, P};

nn::ReLU relu() { return nn::ReLU(nn::ReLUOptions(true)); }

// torchvision's VGG init: linear N(0, 0.01), zero bias.
nn::Linear init_linear(nn::Linear linear) {
  torch::NoGradGuard no_grad;
  nn::init::normal_(linear->weight, 0.0, 0.01);
  nn::init::zeros_(linear->bias);
  return linear;
}

}  // namespace

VggImpl::VggImpl(const VggConfig& config, const ModelOptions& options)
    : num_classes_(options.num_classes) {
  if (options.input_size != 0 && options.input_size < kMinInputSize) {
    throw usage_error("vgg needs input of at least 32x32, got " +
                      std::to_string(options.input_size) + "; HINT: use a larger --input-size");
  }
  const double dropout = options.dropout < 0 ? 0.5 : options.dropout;

  nn::Sequential features;
  int64_t in_channels = options.in_channels == 0 ? 3 : options.in_channels;
  for (int64_t v : config.layers) {
    if (v == VggConfig::kPool) {
      features->push_back(MaxPool2d(nn::MaxPool2dOptions(2).stride(2)));
      continue;
    }
    features->push_back(nn::Conv2d(nn::Conv2dOptions(in_channels, v, 3).padding(1)));
    if (config.batch_norm) features->push_back(BatchNorm2d(v));
    features->push_back(relu());
    in_channels = v;
  }
  features_ = register_module("features", features);
  avgpool_ = register_module("avgpool", nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions(7)));
  // push_back one by one: a Sequential(a, b, c) constructor call would build its arguments in
  // an unspecified order, and a seeded build must draw its random numbers as torchvision does.
  nn::Sequential classifier;
  classifier->push_back(nn::Linear(in_channels * 7 * 7, 4096));     // 0
  classifier->push_back(relu());                                    // 1
  classifier->push_back(nn::Dropout(nn::DropoutOptions(dropout)));  // 2
  classifier->push_back(nn::Linear(4096, 4096));                    // 3
  classifier->push_back(relu());                                    // 4
  classifier->push_back(nn::Dropout(nn::DropoutOptions(dropout)));  // 5
  classifier->push_back(nn::Linear(4096, num_classes_));            // 6
  classifier_ = register_module("classifier", classifier);

  // torchvision's init, in its module order.
  torch::NoGradGuard no_grad;
  for (const auto& module : modules(/*include_self=*/false)) {
    if (auto* conv = module->as<nn::Conv2d>()) {
      nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
      nn::init::zeros_(conv->bias);
    } else if (auto* bn = module->as<BatchNorm2d>()) {
      nn::init::ones_(bn->weight);
      nn::init::zeros_(bn->bias);
    } else if (auto* linear = module->as<nn::Linear>()) {
      nn::init::normal_(linear->weight, 0.0, 0.01);
      nn::init::zeros_(linear->bias);
    }
  }
}

torch::Tensor VggImpl::features(torch::Tensor x) {
  x = features_->forward(x);  // N x 512 x H/32 x W/32
  x = avgpool_(x);            // N x 512 x 7 x 7
  x = x.flatten(1);           // N x 25088
  x = forward_until(classifier_, kHeadIndex, x);  // classifier.0 .. classifier.5
  return x;  // N x 4096
}

torch::Tensor VggImpl::forward(torch::Tensor x) {
  return classify(features(x));  // N x num_classes
}

torch::Tensor VggImpl::classify(torch::Tensor x) {
  return classifier_->ptr<nn::LinearImpl>(kHeadIndex)->forward(x);  // N x num_classes
}

std::vector<Stage> VggImpl::stages() {
  std::vector<Stage> stages;
  append_stages(stages, "features", features_);
  stages.push_back(module_stage("avgpool", avgpool_));
  stages.push_back(flatten_stage());
  append_stages(stages, "classifier", classifier_);
  return stages;
}

void VggImpl::reset_head(int64_t num_classes) {
  num_classes_ = num_classes;
  classifier_ = replace_module(
      "classifier", with_child_replaced(classifier_, kHeadIndex,
                                        nn::AnyModule(init_linear(nn::Linear(4096, num_classes)))));
}

namespace {
Classifier make_vgg(const std::vector<int64_t>& layers, bool batch_norm, const ModelOptions& o) {
  return std::make_shared<VggImpl>(VggConfig{layers, batch_norm}, o);
}
}  // namespace

Classifier vgg11(const ModelOptions& o) { return make_vgg(kConfigA, false, o); }
Classifier vgg13(const ModelOptions& o) { return make_vgg(kConfigB, false, o); }
Classifier vgg16(const ModelOptions& o) { return make_vgg(kConfigD, false, o); }
Classifier vgg19(const ModelOptions& o) { return make_vgg(kConfigE, false, o); }
Classifier vgg11_bn(const ModelOptions& o) { return make_vgg(kConfigA, true, o); }
Classifier vgg13_bn(const ModelOptions& o) { return make_vgg(kConfigB, true, o); }
Classifier vgg16_bn(const ModelOptions& o) { return make_vgg(kConfigD, true, o); }
Classifier vgg19_bn(const ModelOptions& o) { return make_vgg(kConfigE, true, o); }

}  // namespace zoo
