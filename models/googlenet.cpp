// GoogLeNet, see googlenet.h. Children are registered in torchvision's order (conv1 ...
// inception5b, aux1, aux2, avgpool, dropout, fc) so state-dict keys and their order match.
#include "models/googlenet.h"

#include "common/error.h"
#include "models/module_utils.h"

#include <torch/nn/init.h>

#include <cmath>

namespace zoo {

namespace nn = torch::nn;

namespace {

// Truncated normal as torch.nn.init.trunc_normal_ (which LibTorch 1.13 lacks): inverse-CDF
// sampling of a uniform draw restricted to [cdf(a), cdf(b)], then clamped to [a, b].
void trunc_normal_(torch::Tensor w, double mean, double std, double a, double b) {
  torch::NoGradGuard no_grad;
  auto norm_cdf = [](double x) { return (1.0 + std::erf(x / std::sqrt(2.0))) / 2.0; };
  const double l = norm_cdf((a - mean) / std);
  const double u = norm_cdf((b - mean) / std);
  w.uniform_(2 * l - 1, 2 * u - 1);
  w.erfinv_();
  w.mul_(std * std::sqrt(2.0));
  w.add_(mean);
  w.clamp_(a, b);
}

// torchvision's init_weights: conv and linear weights ~ trunc_normal(0, 0.01, [-2, 2]); BN
// weight 1, bias 0. Linear biases keep their default (uniform) init, as in torchvision.
void init_weights(nn::Module& module) {
  for (const auto& m : module.modules(/*include_self=*/false)) {  // self: no shared_ptr yet
    if (auto* conv = m->as<nn::Conv2d>()) {
      trunc_normal_(conv->weight, 0.0, 0.01, -2.0, 2.0);
    } else if (auto* linear = m->as<nn::Linear>()) {
      trunc_normal_(linear->weight, 0.0, 0.01, -2.0, 2.0);
    } else if (auto* bn = m->as<BatchNorm2d>()) {
      nn::init::ones_(bn->weight);
      nn::init::zeros_(bn->bias);
    }
  }
}

nn::MaxPool2d ceil_max_pool(int64_t kernel, int64_t stride, int64_t padding = 0) {
  return nn::MaxPool2d(
      nn::MaxPool2dOptions(kernel).stride(stride).padding(padding).ceil_mode(true));
}

}  // namespace

BasicConv2dImpl::BasicConv2dImpl(int64_t in_channels, int64_t out_channels, int64_t kernel_size,
                                 int64_t stride, int64_t padding) {
  conv_ = register_module("conv", nn::Conv2d(nn::Conv2dOptions(in_channels, out_channels,
                                                               kernel_size)
                                                 .stride(stride)
                                                 .padding(padding)
                                                 .bias(false)));
  bn_ = register_module("bn", BatchNorm2d(nn::BatchNorm2dOptions(out_channels).eps(0.001)));
}

torch::Tensor BasicConv2dImpl::forward(torch::Tensor x) {
  return bn_->forward(conv_->forward(x)).relu_();
}

InceptionImpl::InceptionImpl(int64_t in_channels, int64_t ch1x1, int64_t ch3x3red, int64_t ch3x3,
                             int64_t ch5x5red, int64_t ch5x5, int64_t pool_proj) {
  branch1_ = register_module("branch1", BasicConv2d(in_channels, ch1x1, 1));
  branch2_ = register_module("branch2",
                             nn::Sequential(BasicConv2d(in_channels, ch3x3red, 1),     // 0
                                            BasicConv2d(ch3x3red, ch3x3, 3, 1, 1)));  // 1
  // torchvision's kernel 3 where the paper has 5 (pytorch/vision#906).
  branch3_ = register_module("branch3",
                             nn::Sequential(BasicConv2d(in_channels, ch5x5red, 1),     // 0
                                            BasicConv2d(ch5x5red, ch5x5, 3, 1, 1)));  // 1
  branch4_ = register_module("branch4",
                             nn::Sequential(ceil_max_pool(3, 1, 1),                     // 0
                                            BasicConv2d(in_channels, pool_proj, 1)));  // 1
}

torch::Tensor InceptionImpl::forward(torch::Tensor x) {
  return torch::cat({branch1_->forward(x), branch2_->forward(x), branch3_->forward(x),
                     branch4_->forward(x)},
                    1);  // N x (ch1x1 + ch3x3 + ch5x5 + pool_proj) x H x W
}

InceptionAuxImpl::InceptionAuxImpl(int64_t in_channels, int64_t num_classes, double dropout) {
  conv_ = register_module("conv", BasicConv2d(in_channels, 128, 1));
  fc1_ = register_module("fc1", nn::Linear(2048, 1024));
  fc2_ = register_module("fc2", nn::Linear(1024, num_classes));
  dropout_ = register_module("dropout", nn::Dropout(nn::DropoutOptions(dropout)));
}

torch::Tensor InceptionAuxImpl::forward(torch::Tensor x) {
  // aux1: N x 512 x 14 x 14, aux2: N x 528 x 14 x 14 (at 224x224 input)
  x = torch::adaptive_avg_pool2d(x, {4, 4});  // N x C x 4 x 4
  x = conv_->forward(x);                      // N x 128 x 4 x 4
  x = x.flatten(1);                           // N x 2048
  x = fc1_->forward(x).relu_();               // N x 1024
  x = dropout_->forward(x);                   // N x 1024
  return fc2_->forward(x);                    // N x num_classes
}

void InceptionAuxImpl::reset_fc2(int64_t num_classes) {
  fc2_ = replace_module("fc2", nn::Linear(1024, num_classes));
  trunc_normal_(fc2_->weight, 0.0, 0.01, -2.0, 2.0);
}

GoogLeNetImpl::GoogLeNetImpl(const GoogLeNetConfig& config) : config_(config) {
  if (config_.transform_input && config_.in_channels != 3) {
    throw usage_error("googlenet --transform-input needs 3 input channels, got " +
                      std::to_string(config_.in_channels) +
                      "; HINT: drop --transform-input or use RGB input");
  }
  conv1_ = register_module("conv1", BasicConv2d(config_.in_channels, 64, 7, 2, 3));
  maxpool1_ = register_module("maxpool1", ceil_max_pool(3, 2));
  conv2_ = register_module("conv2", BasicConv2d(64, 64, 1));
  conv3_ = register_module("conv3", BasicConv2d(64, 192, 3, 1, 1));
  maxpool2_ = register_module("maxpool2", ceil_max_pool(3, 2));

  //                                              in  1x1 3x3r 3x3 5x5r 5x5 pool
  inception3a_ = register_module("inception3a", Inception(192, 64, 96, 128, 16, 32, 32));
  inception3b_ = register_module("inception3b", Inception(256, 128, 128, 192, 32, 96, 64));
  maxpool3_ = register_module("maxpool3", ceil_max_pool(3, 2));

  inception4a_ = register_module("inception4a", Inception(480, 192, 96, 208, 16, 48, 64));
  inception4b_ = register_module("inception4b", Inception(512, 160, 112, 224, 24, 64, 64));
  inception4c_ = register_module("inception4c", Inception(512, 128, 128, 256, 24, 64, 64));
  inception4d_ = register_module("inception4d", Inception(512, 112, 144, 288, 32, 64, 64));
  inception4e_ = register_module("inception4e", Inception(528, 256, 160, 320, 32, 128, 128));
  maxpool4_ = register_module("maxpool4", ceil_max_pool(2, 2));

  inception5a_ = register_module("inception5a", Inception(832, 256, 160, 320, 32, 128, 128));
  inception5b_ = register_module("inception5b", Inception(832, 384, 192, 384, 48, 128, 128));

  if (config_.aux_logits) {
    aux1_ = register_module("aux1", InceptionAux(512, config_.num_classes, config_.dropout_aux));
    aux2_ = register_module("aux2", InceptionAux(528, config_.num_classes, config_.dropout_aux));
  }

  avgpool_ = register_module("avgpool",
                             nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions({1, 1})));
  dropout_ = register_module("dropout", nn::Dropout(nn::DropoutOptions(config_.dropout)));
  fc_ = register_module("fc", nn::Linear(1024, config_.num_classes));

  init_weights(*this);
}

torch::Tensor GoogLeNetImpl::transform_input(torch::Tensor x) {
  // Inputs normalised with ImageNet mean/std -> the (x - 0.5) / 0.5 scaling the original
  // pretrained weights were trained with.
  return torch::cat({x.select(1, 0).unsqueeze(1) * (0.229 / 0.5) + (0.485 - 0.5) / 0.5,
                     x.select(1, 1).unsqueeze(1) * (0.224 / 0.5) + (0.456 - 0.5) / 0.5,
                     x.select(1, 2).unsqueeze(1) * (0.225 / 0.5) + (0.406 - 0.5) / 0.5},
                    1);
}

torch::Tensor GoogLeNetImpl::trunk(torch::Tensor x, std::vector<torch::Tensor>* aux) {
  if (config_.transform_input) x = transform_input(x);
  const bool run_aux = config_.aux_logits && is_training() && aux != nullptr;
  // N x 3 x 224 x 224
  x = conv1_->forward(x);        // N x 64 x 112 x 112
  x = maxpool1_->forward(x);     // N x 64 x 56 x 56
  x = conv2_->forward(x);        // N x 64 x 56 x 56
  x = conv3_->forward(x);        // N x 192 x 56 x 56
  x = maxpool2_->forward(x);     // N x 192 x 28 x 28
  x = inception3a_->forward(x);  // N x 256 x 28 x 28
  x = inception3b_->forward(x);  // N x 480 x 28 x 28
  x = maxpool3_->forward(x);     // N x 480 x 14 x 14
  x = inception4a_->forward(x);  // N x 512 x 14 x 14
  if (run_aux) aux->push_back(aux1_->forward(x));  // N x num_classes
  x = inception4b_->forward(x);  // N x 512 x 14 x 14
  x = inception4c_->forward(x);  // N x 512 x 14 x 14
  x = inception4d_->forward(x);  // N x 528 x 14 x 14
  if (run_aux) aux->push_back(aux2_->forward(x));  // N x num_classes
  x = inception4e_->forward(x);  // N x 832 x 14 x 14
  x = maxpool4_->forward(x);     // N x 832 x 7 x 7
  x = inception5a_->forward(x);  // N x 832 x 7 x 7
  x = inception5b_->forward(x);  // N x 1024 x 7 x 7
  x = avgpool_->forward(x);      // N x 1024 x 1 x 1
  return x.flatten(1);           // N x 1024
}

ClassifierOutput GoogLeNetImpl::forward_with_aux(torch::Tensor x) {
  ClassifierOutput out;
  x = trunk(x, &out.aux);        // N x 1024
  out.logits = classify(x);      // N x num_classes
  return out;
}

torch::Tensor GoogLeNetImpl::classify(torch::Tensor x) {
  x = dropout_->forward(x);      // N x 1024
  return fc_->forward(x);        // N x num_classes
}

torch::Tensor GoogLeNetImpl::forward(torch::Tensor x) { return forward_with_aux(x).logits; }

torch::Tensor GoogLeNetImpl::features(torch::Tensor x) { return trunk(x, nullptr); }

std::vector<std::string> GoogLeNetImpl::head_prefixes() const {
  if (config_.aux_logits) return {"fc", "aux1", "aux2"};
  return {"fc"};
}

void GoogLeNetImpl::reset_head(int64_t num_classes) {
  config_.num_classes = num_classes;
  fc_ = replace_module("fc", nn::Linear(1024, num_classes));
  trunc_normal_(fc_->weight, 0.0, 0.01, -2.0, 2.0);
  if (config_.aux_logits) {
    aux1_->reset_fc2(num_classes);
    aux2_->reset_fc2(num_classes);
  }
}

std::vector<Stage> GoogLeNetImpl::stages() {
  std::vector<Stage> stages;
  if (config_.transform_input) {
    stages.push_back({"transform_input", nullptr, "TransformInput", transform_input});
  }
  stages.push_back(module_stage("conv1", conv1_));
  stages.push_back(module_stage("maxpool1", maxpool1_));
  stages.push_back(module_stage("conv2", conv2_));
  stages.push_back(module_stage("conv3", conv3_));
  stages.push_back(module_stage("maxpool2", maxpool2_));
  stages.push_back(module_stage("inception3a", inception3a_));
  stages.push_back(module_stage("inception3b", inception3b_));
  stages.push_back(module_stage("maxpool3", maxpool3_));
  stages.push_back(module_stage("inception4a", inception4a_));
  stages.push_back(module_stage("inception4b", inception4b_));
  stages.push_back(module_stage("inception4c", inception4c_));
  stages.push_back(module_stage("inception4d", inception4d_));
  stages.push_back(module_stage("inception4e", inception4e_));
  stages.push_back(module_stage("maxpool4", maxpool4_));
  stages.push_back(module_stage("inception5a", inception5a_));
  stages.push_back(module_stage("inception5b", inception5b_));
  stages.push_back(module_stage("avgpool", avgpool_));
  stages.push_back(flatten_stage());
  stages.push_back(module_stage("dropout", dropout_));
  stages.push_back(module_stage("fc", fc_));
  return stages;
}

Classifier googlenet(const ModelOptions& options) {
  GoogLeNetConfig config;
  config.num_classes = options.num_classes;
  if (options.in_channels > 0) config.in_channels = options.in_channels;
  config.aux_logits = options.aux_logits;
  config.transform_input = options.transform_input;
  if (options.dropout >= 0) config.dropout = options.dropout;
  return std::make_shared<GoogLeNetImpl>(config);
}

}  // namespace zoo
