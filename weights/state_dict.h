// Flat, ordered state dicts and loading them into a module with a report, the common currency
// of every weights format zoo reads or writes (native checkpoints, torchvision .pth,
// .safetensors). Keys and order are PyTorch's: for each module in pre-order, its parameters,
// then its buffers ("features.0.weight", "layer1.0.bn1.running_mean", ...).
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <string>
#include <utility>
#include <vector>

namespace zoo {

using StateDict = std::vector<std::pair<std::string, torch::Tensor>>;

// The module's parameters and buffers in PyTorch's state_dict order. Tensors alias the module.
StateDict state_dict_of(const torch::nn::Module& module);

struct LoadReport {
  std::vector<std::string> matched;
  std::vector<std::string> missing;      // in the module, not in the file
  std::vector<std::string> unexpected;   // in the file, not in the module
  std::vector<std::string> mismatched;   // in both, shapes differ: "key: file [..] vs model [..]"
  bool clean() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  // One-paragraph human summary: counts, then the keys of each non-empty group.
  std::string summary() const;
};

enum class LoadMode {
  kStrict,     // any missing, unexpected or mismatched key is an error (nothing is copied)
  kNonStrict,  // copy what matches, report the rest
};

// Copies matching tensors into the module (no autograd, dtype converted to the module's).
// In strict mode throws a data Error naming `source` with the report when it is not clean.
LoadReport load_state_dict(torch::nn::Module& module, const StateDict& weights, LoadMode mode,
                           const std::string& source);

}  // namespace zoo
