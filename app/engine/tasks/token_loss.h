// Cross-entropy per token, the loss of the sequence tasks (language model, captioner). Over
// padded batches only the real tokens count, and the running figures are kept per token, so a
// batch's loss is the same however much padding it carries, and an epoch's loss is the mean
// over all its tokens, not a mean of per-batch or per-sequence means.
#pragma once

#include <torch/types.h>

#include <cstdint>

namespace zoo {

struct TokenLoss {
  torch::Tensor mean;  // sum / tokens, to backpropagate
  double sum = 0.0;    // summed over the real tokens
  int64_t tokens = 0;  // real tokens in the batch
};

// logits N x T x V, targets N x T (int64); mask N x T (bool, true on real tokens), or
// undefined when every position is real. Padded positions may hold any target value.
TokenLoss token_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets,
                              const torch::Tensor& mask = {});

}  // namespace zoo
