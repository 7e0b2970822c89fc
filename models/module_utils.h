// Helpers shared by the model families: replacing one child of a Sequential (heads live at
// fixed torchvision indices such as classifier.6) and building the Stage lists of stages().
#pragma once

#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/sequential.h>

#include "models/classifier.h"

#include <string>
#include <vector>

namespace zoo {

// A new Sequential holding the same child modules as `seq` except at `index`, which becomes
// `replacement`. Names (and so state-dict keys) stay "0", "1", ...
inline torch::nn::Sequential with_child_replaced(const torch::nn::Sequential& seq, size_t index,
                                                 torch::nn::AnyModule replacement) {
  torch::nn::Sequential out;
  size_t i = 0;
  for (const auto& child : *seq) {
    out->push_back(std::to_string(i), i == index ? replacement : child);
    ++i;
  }
  return out;
}

// Runs the children of `seq` before index `end`, in order: the part of a classifier Sequential
// that comes before its head (classifier.0 .. classifier.5 of AlexNet/VGG, say).
inline torch::Tensor forward_until(torch::nn::Sequential& seq, size_t end, torch::Tensor x) {
  size_t i = 0;
  for (auto& layer : *seq) {
    if (i++ == end) break;
    x = layer.forward(x);
  }
  return x;
}

// Appends one Stage per child of `seq`, named prefix.<child name> ("features.0",
// "features.denseblock1").
inline void append_stages(std::vector<Stage>& stages, const std::string& prefix,
                          const torch::nn::Sequential& seq) {
  const auto children = seq->named_children();
  size_t i = 0;
  for (const auto& child : *seq) {
    torch::nn::AnyModule layer = child;
    stages.push_back({prefix + "." + children[i].key(), children[i].value(), "",
                      [layer](torch::Tensor x) mutable { return layer.forward(x); }});
    ++i;
  }
}

// A Stage for a module with a Tensor(Tensor) forward (a ModuleHolder such as nn::Conv2d).
template <typename Holder>
Stage module_stage(const std::string& name, Holder holder) {
  return {name, holder.ptr(), "", [holder](torch::Tensor x) mutable { return holder->forward(x); }};
}

// flatten(1), the step between pooling and the classifier.
inline Stage flatten_stage() {
  return {"flatten", nullptr, "Flatten", [](torch::Tensor x) { return x.flatten(1); }};
}

}  // namespace zoo
