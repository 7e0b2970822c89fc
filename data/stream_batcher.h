// The stream batcher: batches for models that carry a hidden state from one batch to the next
// (a char-level LSTM trained with truncated backpropagation through time). A token sequence is
// cut into B contiguous streams, one per row; batch i holds steps [i*T, i*T + T) of every
// stream as "inputs" (B x T int64) and the tokens one step later as "targets", so row b of
// batch i+1 continues row b of batch i. The last batch of an epoch may be shorter than T.
// With `shift`, each epoch starts the streams at an offset in [0, T) drawn from (seed, epoch),
// so the cut points move between epochs; the batch count stays the same. Everything is a
// function of (tokens, options, epoch, batch), so an epoch can start at any batch (exact
// resume). Leaves out: shuffling (it would break the streams) and variable T per batch.
#pragma once

#include "data/batch.h"

#include <torch/types.h>

#include <cstdint>

namespace zoo {

struct StreamOptions {
  int64_t streams = 32;  // B
  int64_t steps = 64;    // T
  bool shift = false;    // per-epoch random start offset in [0, T)
  uint64_t seed = 0;
  // Data-parallel shard: the sequence is cut into streams x world streams and this process
  // takes rows rank, rank + world, ...; the ranks' batches together are the batches of one
  // process with streams x world rows.
  int rank = 0;
  int world = 1;
};

class StreamBatcher : public BatchSource {
 public:
  // `tokens`: a 1-D int64 tensor. Throws data_error when it is too short for B streams of at
  // least two tokens (plus T for the shift), usage_error for non-positive B or T.
  StreamBatcher(torch::Tensor tokens, StreamOptions options);

  int64_t batches_per_epoch() const override;
  void start_epoch(int64_t epoch, int64_t first_batch = 0) override;
  std::optional<Batch> next() override;
  int64_t samples() const override { return tokens_.numel(); }

  // Streams (rows) per batch of this process: B.
  int64_t stream_count() const { return options_.streams; }
  // Tokens per stream in every epoch (each stream yields one prediction fewer).
  int64_t stream_length() const { return stream_length_; }
  // The start offset of epoch `epoch` (0 without shift).
  int64_t offset(int64_t epoch) const;

 private:
  torch::Tensor tokens_;
  StreamOptions options_;
  int64_t stream_length_ = 0;
  torch::Tensor streams_;  // B x stream_length view of the current epoch
  int64_t next_ = 0;
};

}  // namespace zoo
