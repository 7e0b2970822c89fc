// Named-tensor batches and sequence padding; see batch.h.
#include "data/batch.h"

#include "common/error.h"

#include <algorithm>

namespace zoo {

void Batch::set(std::string_view name, torch::Tensor tensor) {
  for (auto& item : tensors_) {
    if (item.first == name) {
      item.second = std::move(tensor);
      return;
    }
  }
  tensors_.emplace_back(name, std::move(tensor));
}

const torch::Tensor& Batch::get(std::string_view name) const {
  for (const auto& item : tensors_) {
    if (item.first == name) return item.second;
  }
  std::string present;
  for (const auto& item : tensors_) present += (present.empty() ? "" : ", ") + item.first;
  throw internal_error("batch has no tensor '" + std::string(name) + "' (it holds: " +
                       (present.empty() ? "nothing" : present) + ")");
}

Batch pad_sequences(const std::vector<torch::Tensor>& sequences, int64_t pad, int64_t min_length,
                    int64_t index) {
  const auto n = static_cast<int64_t>(sequences.size());
  int64_t length = std::max<int64_t>(min_length, 0);
  for (const auto& s : sequences) {
    if (s.dim() != 1) throw internal_error("pad_sequences takes 1-D sequences");
    length = std::max(length, s.size(0));
  }
  auto inputs = torch::full({n, length}, pad, torch::kInt64);
  auto lengths = torch::empty({n}, torch::kInt64);
  auto mask = torch::zeros({n, length}, torch::kBool);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t len = sequences[i].size(0);
    inputs[i].narrow(0, 0, len).copy_(sequences[i]);
    mask[i].narrow(0, 0, len).fill_(true);
    lengths[i] = len;
  }
  Batch batch(index);
  batch.set(kInputs, inputs);
  batch.set(kLengths, lengths);
  batch.set(kMask, mask);
  return batch;
}

}  // namespace zoo
