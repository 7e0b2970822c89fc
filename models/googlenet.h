// GoogLeNet / Inception v1 (Szegedy et al., "Going Deeper with Convolutions", CVPR 2015,
// arXiv:1409.4842) exactly as torchvision builds it: BatchNorm after every convolution
// (BasicConv2d, eps 0.001), ceil-mode max pooling, adaptive average pooling before the head so
// any input of at least ~32x32 works, and torchvision's 3x3 (not 5x5) convolution in the third
// Inception branch (pytorch/vision#906), kept so that torchvision weights load. The two
// auxiliary classifiers exist only with aux_logits and run only in training.
// Left out: torchvision's quantizable variant and the `blocks` override.
#pragma once

#include "models/batch_norm.h"
#include "models/classifier.h"
#include "models/registry.h"

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

namespace zoo {

// The family's configuration: torchvision's GoogLeNet constructor arguments.
struct GoogLeNetConfig {
  int64_t num_classes = 1000;
  int64_t in_channels = 3;
  bool aux_logits = false;
  bool transform_input = false;  // rescale ImageNet-normalised input as pretrained weights expect
  double dropout = 0.2;          // before fc
  double dropout_aux = 0.7;      // inside each aux classifier
};

// Conv (no bias) -> BatchNorm (eps 0.001) -> ReLU. Keys: conv.weight, bn.{weight,bias,running_*}.
class BasicConv2dImpl : public torch::nn::Module {
 public:
  BasicConv2dImpl(int64_t in_channels, int64_t out_channels, int64_t kernel_size,
                  int64_t stride = 1, int64_t padding = 0);
  torch::Tensor forward(torch::Tensor x);

 private:
  torch::nn::Conv2d conv_{nullptr};
  BatchNorm2d bn_{nullptr};
};
TORCH_MODULE(BasicConv2d);

// Four parallel branches concatenated on channels: 1x1 | 1x1-3x3 | 1x1-3x3 | maxpool-1x1.
// branch4.0 is the (parameter-free) max pool so branch4.1 lines up with torchvision's keys.
class InceptionImpl : public torch::nn::Module {
 public:
  InceptionImpl(int64_t in_channels, int64_t ch1x1, int64_t ch3x3red, int64_t ch3x3,
                int64_t ch5x5red, int64_t ch5x5, int64_t pool_proj);
  torch::Tensor forward(torch::Tensor x);

 private:
  BasicConv2d branch1_{nullptr};
  torch::nn::Sequential branch2_{nullptr};
  torch::nn::Sequential branch3_{nullptr};
  torch::nn::Sequential branch4_{nullptr};
};
TORCH_MODULE(Inception);

// Auxiliary classifier: adaptive avg-pool to 4x4 -> 1x1 conv 128 -> fc1 2048-1024 -> ReLU ->
// dropout -> fc2 1024-classes.
class InceptionAuxImpl : public torch::nn::Module {
 public:
  InceptionAuxImpl(int64_t in_channels, int64_t num_classes, double dropout);
  torch::Tensor forward(torch::Tensor x);
  // Replaces fc2 (the only layer whose shape depends on the class count).
  void reset_fc2(int64_t num_classes);

 private:
  BasicConv2d conv_{nullptr};
  torch::nn::Linear fc1_{nullptr};
  torch::nn::Linear fc2_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
};
TORCH_MODULE(InceptionAux);

class GoogLeNetImpl : public ClassifierImpl {
 public:
  explicit GoogLeNetImpl(const GoogLeNetConfig& config);
  // Main logits; in training with aux heads the aux heads run too (as in torchvision, so the
  // dropout random stream is consumed identically) and their outputs are dropped.
  torch::Tensor forward(torch::Tensor x) override;
  // In training with aux heads: aux = {aux1 (after inception4a), aux2 (after inception4d)}.
  // torchvision returns the same positional order, (logits, aux1, aux2), although its
  // GoogLeNetOutputs field names read aux_logits2, aux_logits1. Empty aux otherwise.
  ClassifierOutput forward_with_aux(torch::Tensor x) override;
  torch::Tensor features(torch::Tensor x) override;  // N x 1024
  torch::Tensor classify(torch::Tensor features) override;
  // The head is "fc"; the aux classifiers "aux1", "aux2" count as head too when present.
  std::vector<std::string> head_prefixes() const override;
  // New fc (and new aux1.fc2, aux2.fc2 when present), initialised as at construction.
  void reset_head(int64_t num_classes) override;
  int64_t num_classes() const override { return config_.num_classes; }
  bool has_aux() const { return config_.aux_logits; }
  // transform_input (when set), conv1 ... inception5b, avgpool, flatten, dropout, fc.
  std::vector<Stage> stages() override;

 private:
  // Input transform + trunk up to the flattened pooled features; computes the aux logits into
  // aux when aux heads exist and the model is training.
  torch::Tensor trunk(torch::Tensor x, std::vector<torch::Tensor>* aux);
  // ImageNet-normalised input -> the (x - 0.5) / 0.5 scaling of the original weights.
  static torch::Tensor transform_input(torch::Tensor x);

  GoogLeNetConfig config_;
  BasicConv2d conv1_{nullptr};
  torch::nn::MaxPool2d maxpool1_{nullptr};
  BasicConv2d conv2_{nullptr};
  BasicConv2d conv3_{nullptr};
  torch::nn::MaxPool2d maxpool2_{nullptr};
  Inception inception3a_{nullptr};
  Inception inception3b_{nullptr};
  torch::nn::MaxPool2d maxpool3_{nullptr};
  Inception inception4a_{nullptr};
  Inception inception4b_{nullptr};
  Inception inception4c_{nullptr};
  Inception inception4d_{nullptr};
  Inception inception4e_{nullptr};
  torch::nn::MaxPool2d maxpool4_{nullptr};
  Inception inception5a_{nullptr};
  Inception inception5b_{nullptr};
  InceptionAux aux1_{nullptr};  // registered only with aux_logits
  InceptionAux aux2_{nullptr};
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear fc_{nullptr};
};
TORCH_MODULE(GoogLeNet);

// ModelOptions -> GoogLeNetConfig: aux_logits, transform_input, dropout (<0: 0.2), in_channels.
Classifier googlenet(const ModelOptions& options);

}  // namespace zoo
