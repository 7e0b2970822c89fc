// Native checkpoints (.pt): one file holding the model's state dict, the optimizer state, the
// CPU (and CUDA) RNG states and a JSON metadata block (format version, model name and options, class
// names, input shape, normalization, training position, metrics, resolved config), so that
// eval, predict and resume need nothing else. The container is LibTorch's serialize archive
// (a zip); writes are atomic (models/atomic_file.h).
#pragma once

#include "models/state_dict.h"

#include <nlohmann/json.hpp>
#include <torch/optim/optimizer.h>
#include <torch/serialize/input-archive.h>

#include <optional>
#include <string>
#include <vector>

namespace zoo {

constexpr int kCheckpointFormatVersion = 1;

struct Checkpoint {
  nlohmann::json meta;
  StateDict model;
  std::optional<torch::serialize::InputArchive> optimizer;  // absent in weights-only files
  torch::Tensor rng_cpu;                                     // undefined when absent
  std::vector<torch::Tensor> rng_cuda;                       // one per CUDA device, when saved
};

// meta gets "format" and "format_version" added. optimizer may be null (weights only).
void save_checkpoint(const std::string& path, nlohmann::json meta, const StateDict& model,
                     torch::optim::Optimizer* optimizer, bool with_rng = true);

// Throws missing_error / data_error (not a zoo checkpoint, newer format, corrupt file).
// The optimizer state is loaded onto `device` (weights and RNG states stay on the CPU).
Checkpoint load_checkpoint(const std::string& path, torch::Device device = torch::kCPU);

// Restores the RNG states a checkpoint holds (CPU, and CUDA when saved and present).
void restore_rng_states(const Checkpoint& ckpt);

}  // namespace zoo
