// `zoo bench --data D`: the throughput of the training input pipeline alone (read, decode,
// transform, batch) in images/s, through the same threaded Loader and the same per-model
// transforms as `zoo train`, with no model attached.
#pragma once

#include <cstdint>
#include <string>

namespace zoo {

struct BenchDataOptions {
  std::string data;                  // dataset name or path
  std::string model = "resnet50";    // whose input pipeline (size, normalization)
  int64_t input_size = 0;            // 0: as `zoo train` (dataset native size, else the model's)
  std::string augment = "standard";  // none | standard | strong
  int64_t batch_size = 32;
  int workers = 2;
  int64_t batches = 0;               // 0: whole epochs
  int64_t epochs = 1;
  uint64_t seed = 42;
  bool json = false;
};

// Prints "... images/s" (or JSON with --json) on stdout.
void run_bench_data(const BenchDataOptions& options);

}  // namespace zoo
