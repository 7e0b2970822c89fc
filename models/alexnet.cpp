// AlexNet and AlexNet-2012, see alexnet.h. Layer indices:
//  alexnet     features.{0 conv1, 1 relu, 2 pool, 3 conv2, 4 relu, 5 pool, 6 conv3, 7 relu,
//              8 conv4, 9 relu, 10 conv5, 11 relu, 12 pool}
//  alexnet2012 features.{0 conv1, 1 relu, 2 lrn, 3 pool, 4 conv2, 5 relu, 6 lrn, 7 pool,
//              8 conv3, 9 relu, 10 conv4, 11 relu, 12 conv5, 13 relu, 14 pool}
//  alexnet2012 shapes at 227x227: conv1 96x55x55, pool1 96x27x27, conv2 256x27x27,
//              pool2 256x13x13, conv3 384x13x13, conv4 384x13x13, conv5 256x13x13, pool3 256x6x6
//  both        classifier.{0 dropout, 1 fc 9216-4096, 2 relu, 3 dropout, 4 fc 4096-4096,
//              5 relu, 6 fc 4096-classes}
#include "models/alexnet.h"

#include "common/error.h"
#include "models/module_utils.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

namespace zoo {

namespace nn = torch::nn;

namespace {

constexpr size_t kHeadIndex = 6;  // classifier.6

nn::ReLU relu() { return nn::ReLU(nn::ReLUOptions(true)); }
nn::MaxPool2d max_pool() { return nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2)); }
nn::LocalResponseNorm lrn() {
  return nn::LocalResponseNorm(nn::LocalResponseNormOptions(5).alpha(1e-4).beta(0.75).k(2.0));
}

}  // namespace

AlexNetImpl::AlexNetImpl(const AlexNetConfig& config, const ModelOptions& options)
    : num_classes_(options.num_classes) {
  if (options.input_size != 0 && options.input_size < config.min_input_size) {
    const std::string min = std::to_string(config.min_input_size);
    throw usage_error(config.name + " needs input of at least " + min + "x" + min + ", got " +
                      std::to_string(options.input_size) + "; HINT: use a larger --input-size");
  }
  const int64_t in_channels = options.in_channels == 0 ? 3 : options.in_channels;
  const double dropout = options.dropout < 0 ? 0.5 : options.dropout;
  const auto& c = config.channels;

  nn::Sequential features;
  features->push_back(nn::Conv2d(
      nn::Conv2dOptions(in_channels, c[0], 11).stride(4).padding(config.conv1_padding)));
  features->push_back(relu());
  if (config.local_response_norm) features->push_back(lrn());
  features->push_back(max_pool());
  features->push_back(nn::Conv2d(nn::Conv2dOptions(c[0], c[1], 5).padding(2)));
  features->push_back(relu());
  if (config.local_response_norm) features->push_back(lrn());
  features->push_back(max_pool());
  features->push_back(nn::Conv2d(nn::Conv2dOptions(c[1], c[2], 3).padding(1)));
  features->push_back(relu());
  features->push_back(nn::Conv2d(nn::Conv2dOptions(c[2], c[3], 3).padding(1)));
  features->push_back(relu());
  features->push_back(nn::Conv2d(nn::Conv2dOptions(c[3], c[4], 3).padding(1)));
  features->push_back(relu());
  features->push_back(max_pool());
  features_ = register_module("features", features);
  avgpool_ = register_module("avgpool", nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions(6)));
  // push_back one by one: a Sequential(a, b, c) constructor call would build its arguments in
  // an unspecified order, and a seeded build must draw its random numbers as torchvision does.
  nn::Sequential classifier;
  classifier->push_back(nn::Dropout(nn::DropoutOptions(dropout)));  // 0
  classifier->push_back(nn::Linear(c[4] * 6 * 6, 4096));            // 1
  classifier->push_back(relu());                                    // 2
  classifier->push_back(nn::Dropout(nn::DropoutOptions(dropout)));  // 3
  classifier->push_back(nn::Linear(4096, 4096));                    // 4
  classifier->push_back(relu());                                    // 5
  classifier->push_back(nn::Linear(4096, num_classes_));            // 6
  classifier_ = register_module("classifier", classifier);
}

torch::Tensor AlexNetImpl::features(torch::Tensor x) {
  x = features_->forward(x);  // N x 256 x 6 x 6 at 224 (alexnet) / 227 (alexnet2012)
  x = avgpool_(x);            // N x 256 x 6 x 6 at any size
  x = x.flatten(1);           // N x 9216
  x = forward_until(classifier_, kHeadIndex, x);  // classifier.0 .. classifier.5
  return x;  // N x 4096
}

torch::Tensor AlexNetImpl::forward(torch::Tensor x) {
  return classify(features(x));  // N x num_classes
}

torch::Tensor AlexNetImpl::classify(torch::Tensor x) {
  return classifier_->ptr<nn::LinearImpl>(kHeadIndex)->forward(x);  // N x num_classes
}

std::vector<Stage> AlexNetImpl::stages() {
  std::vector<Stage> stages;
  append_stages(stages, "features", features_);
  stages.push_back(module_stage("avgpool", avgpool_));
  stages.push_back(flatten_stage());
  append_stages(stages, "classifier", classifier_);
  return stages;
}

void AlexNetImpl::reset_head(int64_t num_classes) {
  num_classes_ = num_classes;
  classifier_ = replace_module(
      "classifier",
      with_child_replaced(classifier_, kHeadIndex, nn::AnyModule(nn::Linear(4096, num_classes))));
}

Classifier alexnet(const ModelOptions& options) {
  return std::make_shared<AlexNetImpl>(AlexNetConfig{}, options);
}

Classifier alexnet2012(const ModelOptions& options) {
  AlexNetConfig config;
  config.name = "alexnet2012";
  config.channels = {96, 256, 384, 384, 256};
  config.conv1_padding = 0;
  config.local_response_norm = true;
  config.min_input_size = 67;
  return std::make_shared<AlexNetImpl>(config, options);
}

}  // namespace zoo
