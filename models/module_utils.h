// Helpers shared by the model families: replacing one child of a Sequential (heads live at
// fixed torchvision indices such as classifier.6) and counting parameters.
#pragma once

#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/sequential.h>

#include <string>

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

}  // namespace zoo
