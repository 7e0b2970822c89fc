// Native checkpoints (.pt): one file holding the model's state dict, the optimizer state, the
// CPU (and CUDA) RNG states, the tensors of state a task carries across batches, and a JSON
// metadata block (format version, model name, training position, schedule, metrics, resolved
// config, and the task's own part: class names, input shape, normalization, model options),
// so that eval, predict and resume need nothing else. The container is LibTorch's serialize archive
// (a zip); writes are atomic (common/atomic_file.h).
//
// Integrity (format 3): the metadata lists a checksum of every tensor (common/checksum.h), the
// optimizer's state included, and the archive holds a checksum of the metadata's bytes. Every
// load checks all of them, so a byte changed on disk is an error naming what it damaged, never
// a run resumed from garbage.
#pragma once

#include "weights/state_dict.h"

#include <nlohmann/json.hpp>
#include <torch/optim/optimizer.h>
#include <torch/serialize/input-archive.h>

#include <optional>
#include <string>
#include <vector>

namespace zoo {

// 2: the position keeps the epoch's running figures by name ("epoch_sums") and the task may
// add "task_state" (metadata) and task tensors. 3: checksums; the optimizer's state is one
// nested archive stored as bytes ("optimizer_archive"). Versions 1 and 2 still load, unchecked.
constexpr int kCheckpointFormatVersion = 3;

struct Checkpoint {
  nlohmann::json meta;
  StateDict model;
  std::optional<torch::serialize::InputArchive> optimizer;  // absent in weights-only files
  torch::Tensor rng_cpu;                                     // undefined when absent
  std::vector<torch::Tensor> rng_cuda;                       // one per CUDA device, when saved
  StateDict task_state;  // tensors a task carries across batches (an RNN's hidden state)
  int checksums = 0;     // how many checksums the load verified (0: a file older than format 3)
};

// meta gets "format", "format_version" and "checksums" added. optimizer may be null (weights
// only). With `keep_previous`, a checkpoint already at `path` becomes that file (the last two
// are kept; see AtomicFile::commit).
void save_checkpoint(const std::string& path, nlohmann::json meta, const StateDict& model,
                     torch::optim::Optimizer* optimizer, bool with_rng = true,
                     const StateDict& task_state = {}, const std::string& keep_previous = {});

// Throws missing_error / data_error (not a zoo checkpoint, newer format, corrupt file, a
// checksum that does not match: the message names the tensor, or the metadata).
// The optimizer state is loaded onto `device` (weights and RNG states stay on the CPU).
Checkpoint load_checkpoint(const std::string& path, torch::Device device = torch::kCPU);

// Restores the RNG states a checkpoint holds (CPU, and CUDA when saved and present).
void restore_rng_states(const Checkpoint& ckpt);

}  // namespace zoo
