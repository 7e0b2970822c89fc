// Freezing: which parameters of a model train. Belongs to the engine, not to a task: a task
// names its head (head_prefixes) and the rest follows from the model's own structure.
//   conv, features, backbone  everything but the head
//   none                      nothing (the default)
//   all                       everything (re-enable some with --train PATTERN)
//   up-to:LAYER               every parameter of the modules up to and including LAYER, in
//                             registration (forward) order: up-to:layer3 (ResNet),
//                             up-to:features.16 (VGG), up-to:denseblock3 (DenseNet: a unique
//                             suffix of a module path is enough)
//   a glob                    parameter names, fnmatch-style: 'layer1.*', 'bn*'
// Several --freeze values add up; --train globs then re-enable parameters. A pattern or layer
// that selects nothing is a usage error naming what there is. Frozen parameters get
// requires_grad false (no gradient, so no optimizer state and no weight decay, and no backward
// through a frozen prefix); batch norms whose parameters are all frozen run in inference mode
// (running statistics untouched) unless --bn-train.
#pragma once

#include <torch/nn/module.h>

#include <set>
#include <string>
#include <vector>

namespace zoo {

struct FreezeOptions {
  std::vector<std::string> freeze;  // groups, up-to:LAYER, globs
  std::vector<std::string> train;   // globs re-enabled after freezing
  bool bn_train = false;
};

class Freezer {
 public:
  Freezer() = default;
  // Resolves the options against `model` (head: the task's head prefixes, e.g. "fc"). Throws
  // usage_error for an unknown group, a layer that is not a module path, a glob that matches
  // no parameter, or a --train glob that matches no frozen parameter.
  Freezer(const torch::nn::Module& model, const std::vector<std::string>& head,
          const FreezeOptions& options);

  // The frozen parameters' names, in state-dict order.
  const std::vector<std::string>& frozen() const { return frozen_; }
  bool empty() const { return frozen_.empty(); }
  bool is_frozen(const std::string& name) const;
  // The frozen parameters of `model`, in state-dict order.
  std::vector<torch::Tensor> frozen_params(const torch::nn::Module& model) const;

  // requires_grad false on every frozen parameter (true on the rest).
  void freeze(torch::nn::Module& model) const;
  // requires_grad true on every parameter (the frozen list stays, naming what was released).
  void unfreeze(torch::nn::Module& model) const;
  // After model.train(), while frozen: frozen batch norms back to inference mode (unless
  // --bn-train).
  void set_modes(torch::nn::Module& model) const;

  // One line per top-level module: trainable and frozen parameter counts, and a total line.
  std::vector<std::string> table(const torch::nn::Module& model) const;

 private:
  std::vector<std::string> frozen_;
  std::set<std::string> lookup_;
  bool bn_train_ = false;
};

// Whether parameter `name` is under one of the head's prefixes ("fc" holds "fc.weight").
bool in_head(const std::string& name, const std::vector<std::string>& head);

// The module paths up-to:LAYER accepts, in forward order, for `zoo info --groups`: every
// top-level module, and the children of top-level Sequential containers (features.0, layer1.1,
// features.denseblock2).
std::vector<std::string> freeze_layers(const torch::nn::Module& model);

}  // namespace zoo
