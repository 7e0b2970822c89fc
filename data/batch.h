// Batches and the sources that produce them, the contract between data/ and the trainer.
// A Batch is a small set of named tensors made by a dataset's collate step: image batches hold
// "inputs" (N x C x H x W float) and "targets" (N int64); padded sequences add "lengths" (N)
// and "mask" (N x T bool); a token stream holds "inputs" and "targets" of B x T. Tasks read
// the names they expect and ignore the rest. A BatchSource yields the batches of an epoch in
// order and can start an epoch at any batch, which exact resume relies on.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace zoo {

inline constexpr const char* kInputs = "inputs";
inline constexpr const char* kTargets = "targets";
inline constexpr const char* kLengths = "lengths";
inline constexpr const char* kMask = "mask";

class Batch {
 public:
  Batch() { tensors_.reserve(4); }
  explicit Batch(int64_t index) : index_(index) { tensors_.reserve(4); }

  // Adds or replaces the tensor `name`.
  void set(std::string_view name, torch::Tensor tensor);
  // Throws internal_error naming the tensor and the ones present when it is absent.
  const torch::Tensor& get(std::string_view name) const;
  const torch::Tensor& inputs() const { return get(kInputs); }
  const torch::Tensor& targets() const { return get(kTargets); }
  // Samples (or streams) in the batch: the first dimension of "targets"; 0 when every sample
  // of the batch was skipped as unreadable.
  int64_t size() const { return targets().size(0); }
  // The batch's number within its epoch.
  int64_t index() const { return index_; }

 private:
  int64_t index_ = 0;
  std::vector<std::pair<std::string, torch::Tensor>> tensors_;
};

// Collate helper for variable-length sequences: pads 1-D int64 sequences to one length (the
// longest, or `min_length` when that is longer) with `pad`, giving "inputs" N x T, "lengths" N
// and "mask" N x T (true on real tokens). Targets are the caller's to set.
Batch pad_sequences(const std::vector<torch::Tensor>& sequences, int64_t pad = 0,
                    int64_t min_length = 0, int64_t index = 0);

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual int64_t batches_per_epoch() const = 0;
  // Starts (or restarts) epoch `epoch` at batch `first_batch`; the batches are the same ones,
  // bit for bit, as those an epoch started at 0 yields from that batch on.
  virtual void start_epoch(int64_t epoch, int64_t first_batch = 0) = 0;
  // The next batch of the epoch in order, or nullopt at its end.
  virtual std::optional<Batch> next() = 0;
  // Samples skipped as unreadable so far in this epoch.
  virtual int64_t skipped() const { return 0; }
  // How many samples (or tokens) the whole training set holds, -1 when unknown: a checkpoint
  // records it so that a run is not resumed over data that changed (exact resume needs the same).
  virtual int64_t samples() const { return -1; }
};

}  // namespace zoo
