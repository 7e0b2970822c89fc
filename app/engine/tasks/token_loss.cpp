// Per-token cross-entropy; see token_loss.h.
#include "app/engine/tasks/token_loss.h"

#include "common/error.h"

#include <torch/nn/functional/loss.h>

#include <algorithm>

namespace zoo {

TokenLoss token_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets,
                              const torch::Tensor& mask) {
  if (logits.dim() != 3 || targets.sizes() != logits.sizes().slice(0, 2)) {
    throw internal_error("token_cross_entropy takes N x T x V logits and N x T targets");
  }
  namespace F = torch::nn::functional;
  const auto flat_logits = logits.reshape({-1, logits.size(2)}).to(torch::kFloat);
  auto flat_targets = targets.reshape({-1}).to(flat_logits.device());
  if (mask.defined()) {  // padded positions get a valid class; their loss is dropped below
    flat_targets = flat_targets.masked_fill(mask.reshape({-1}).logical_not().to(flat_targets.device()), 0);
  }
  auto per_token = F::cross_entropy(flat_logits, flat_targets,
                                    F::CrossEntropyFuncOptions().reduction(torch::kNone));
  TokenLoss out;
  torch::Tensor sum;
  if (mask.defined()) {
    const auto keep = mask.reshape({-1}).to(per_token.device());
    sum = per_token.masked_select(keep).sum();
    out.tokens = keep.sum().item<int64_t>();
  } else {
    sum = per_token.sum();
    out.tokens = per_token.numel();
  }
  out.mean = sum / double(std::max<int64_t>(out.tokens, 1));
  out.sum = sum.item<double>();
  return out;
}

}  // namespace zoo
