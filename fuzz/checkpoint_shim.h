// The harnesses' doorway to app/engine/checkpoint.h. That header cannot be compiled by clang 14
// against libstdc++ 12 (its std::optional<torch::serialize::InputArchive>: InputArchive's
// deleted non-const copy constructor trips clang's check of optional's defaulted copy), so the
// checkpoint code and checkpoint_shim.cpp are compiled by g++ (fuzz/CMakeLists.txt), without
// sanitizers or coverage, and the clang-built harness and seed generator call these functions.
// zoo::Error passes through them unchanged.
#pragma once

#include <string>

namespace zoo::fuzz {

// load_checkpoint(path) on the CPU, then a walk of what it returns (metadata an object, every
// tensor defined and summed). Aborts when the walk finds a broken property.
void load_checkpoint_and_walk(const std::string& path);

// Writes seeds with save_checkpoint into `dir`: last.pt (weights, SGD state with momentum, the
// CPU RNG state), best.pt (weights only), charlm.pt (with task tensors). `config_json` is the
// resolved config to store in each one's metadata.
void write_checkpoint_seeds(const std::string& dir, const std::string& config_json);

}  // namespace zoo::fuzz
