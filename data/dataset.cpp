// The default (image) collate step; see dataset.h.
#include "data/dataset.h"

#include "common/error.h"

#include <spdlog/spdlog.h>

namespace zoo {

Batch Dataset::collate(const std::vector<size_t>& indices, const std::vector<uint64_t>& seeds,
                       int64_t index, int64_t* skipped) const {
  const SampleSpec& s = spec();
  const auto count = static_cast<int64_t>(indices.size());
  auto input = torch::empty({count, s.channels, s.height, s.width});
  auto target = torch::empty({count}, torch::kInt64);
  float* in = input.data_ptr<float>();
  int64_t* tg = target.data_ptr<int64_t>();
  int64_t n = 0;
  for (size_t i = 0; i < indices.size(); ++i) {
    try {
      load(indices[i], in + n * s.numel(), seeds[i]);
      tg[n++] = label(indices[i]);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kBadData) throw;  // a file gone or unreadable: the dataset changed
      spdlog::warn("skipping unreadable sample {}: {}", describe(indices[i]), e.what());
      ++*skipped;
    }
  }
  Batch batch(index);
  batch.set(kInputs, input.narrow(0, 0, n));
  batch.set(kTargets, target.narrow(0, 0, n));
  return batch;
}

}  // namespace zoo
