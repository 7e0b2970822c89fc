// LeNet-5, see lenet.h. Layer indices: features.{0 conv1, 1 relu, 2 pool, 3 conv2, 4 relu,
// 5 pool}, classifier.{0 fc 400-120, 1 relu, 2 fc 120-84, 3 relu, 4 fc 84-classes}.
#include "models/lenet.h"

#include "common/error.h"
#include "models/max_pool.h"
#include "models/module_utils.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

namespace zoo {

namespace nn = torch::nn;

namespace {
constexpr size_t kHeadIndex = 4;  // classifier.4
}  // namespace

LeNet5Impl::LeNet5Impl(const ModelOptions& options) : num_classes_(options.num_classes) {
  const int64_t size = options.input_size == 0 ? 28 : options.input_size;
  if (size != 28 && size != 32) {
    throw usage_error("lenet5 takes 28x28 or 32x32 input, got " + std::to_string(size) +
                      "x" + std::to_string(size) + "; HINT: use --input-size 28 or 32");
  }
  const int64_t in_channels = options.in_channels == 0 ? 1 : options.in_channels;
  const int64_t pad = size == 28 ? 2 : 0;  // both sizes reach 28x28 after conv1
  // push_back one by one: the arguments of a Sequential(a, b, c) call are built in an
  // unspecified order, which would change which random numbers each layer draws.
  nn::Sequential features;
  features->push_back(nn::Conv2d(nn::Conv2dOptions(in_channels, 6, 5).padding(pad)));  // 0
  features->push_back(nn::ReLU(nn::ReLUOptions(true)));                                 // 1
  features->push_back(MaxPool2d(nn::MaxPool2dOptions(2)));                          // 2
  features->push_back(nn::Conv2d(nn::Conv2dOptions(6, 16, 5)));                         // 3
  features->push_back(nn::ReLU(nn::ReLUOptions(true)));                                 // 4
  features->push_back(MaxPool2d(nn::MaxPool2dOptions(2)));                          // 5
  features_ = register_module("features", features);
  nn::Sequential classifier;
  classifier->push_back(nn::Linear(16 * 5 * 5, 120));       // 0
  classifier->push_back(nn::ReLU(nn::ReLUOptions(true)));   // 1
  classifier->push_back(nn::Linear(120, 84));               // 2
  classifier->push_back(nn::ReLU(nn::ReLUOptions(true)));   // 3
  classifier->push_back(nn::Linear(84, num_classes_));      // 4
  classifier_ = register_module("classifier", classifier);
}

torch::Tensor LeNet5Impl::features(torch::Tensor x) {
  x = features_->forward(x);  // N x 16 x 5 x 5
  x = x.flatten(1);           // N x 400
  x = forward_until(classifier_, kHeadIndex, x);  // classifier.0 .. classifier.3
  return x;  // N x 84
}

torch::Tensor LeNet5Impl::forward(torch::Tensor x) {
  return classify(features(x));  // N x num_classes
}

torch::Tensor LeNet5Impl::classify(torch::Tensor x) {
  return classifier_->ptr<nn::LinearImpl>(kHeadIndex)->forward(x);  // N x num_classes
}

std::vector<Stage> LeNet5Impl::stages() {
  std::vector<Stage> stages;
  append_stages(stages, "features", features_);
  stages.push_back(flatten_stage());
  append_stages(stages, "classifier", classifier_);
  return stages;
}

void LeNet5Impl::reset_head(int64_t num_classes) {
  num_classes_ = num_classes;
  classifier_ = replace_module(
      "classifier", with_child_replaced(classifier_, kHeadIndex, nn::AnyModule(nn::Linear(84, num_classes))));
}

Classifier lenet5(const ModelOptions& options) { return std::make_shared<LeNet5Impl>(options); }

}  // namespace zoo
