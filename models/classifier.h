// The interface every image classifier in the zoo implements, so that the trainer, fine-tuning
// and the CLI treat LeNet and DenseNet alike: forward (plus aux logits where the architecture
// has them), the feature extractor / head split used for transfer learning, and head
// replacement for a new class count. Sequence models (captioner, charlm) have their own
// interface and are not classifiers.
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace zoo {

// What a classifier returns in training: the main logits and, for architectures with
// auxiliary heads (GoogLeNet), those logits too. aux is empty when there are none.
struct ClassifierOutput {
  torch::Tensor logits;
  std::vector<torch::Tensor> aux;
};

// One top-level step of a classifier's forward, for per-layer reports (`zoo info`): its name
// (torchvision's module path, e.g. "features.0", "layer2.1", "flatten"), the module that holds
// its parameters (null for functional steps such as flatten), a type for functional steps
// (empty: the module's type) and the step itself.
struct Stage {
  std::string name;
  std::shared_ptr<torch::nn::Module> module;
  std::string type;
  std::function<torch::Tensor(torch::Tensor)> run;
};

class ClassifierImpl : public torch::nn::Module {
 public:
  // N x C x H x W -> N x num_classes logits.
  virtual torch::Tensor forward(torch::Tensor x) = 0;
  // Main logits plus aux logits when the model is training and has aux heads.
  virtual ClassifierOutput forward_with_aux(torch::Tensor x) { return {forward(std::move(x)), {}}; }
  // The backbone: everything before the classification head, flattened to N x D.
  virtual torch::Tensor features(torch::Tensor x) = 0;
  // The head on backbone features: forward(x) == classify(features(x)). Lets a frozen
  // backbone's features be computed once and the head trained on them (--cache-features).
  virtual torch::Tensor classify(torch::Tensor features) = 0;
  // Parameter-name prefixes of the head (e.g. "fc", "classifier.6"); everything else is the
  // backbone. Used by `--freeze` and by non-strict loading that drops a reshaped head.
  virtual std::vector<std::string> head_prefixes() const = 0;
  // Replace the head by a freshly initialised one for num_classes outputs.
  virtual void reset_head(int64_t num_classes) = 0;
  virtual int64_t num_classes() const = 0;
  // The ordered top-level steps of forward: in eval mode, running them in order on x equals
  // forward(x). Aux heads (training only) are not stages. Default: one step, the whole model.
  virtual std::vector<Stage> stages() {
    return {{"forward", nullptr, "Model", [this](torch::Tensor x) { return forward(x); }}};
  }
};

using Classifier = std::shared_ptr<ClassifierImpl>;

}  // namespace zoo
