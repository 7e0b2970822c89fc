// The loader benchmark; see bench_data.h. The first batch of each epoch is not timed (it holds
// the pipeline's fill), the rest are: images/s is what the trainer could consume at most.
#include "app/commands/bench_data.h"

#include "app/engine/model_io.h"
#include "common/error.h"
#include "data/datasets.h"
#include "data/loader.h"
#include "models/registry.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>

namespace zoo {

void run_bench_data(const BenchDataOptions& o) {
  if (o.data.empty()) throw usage_error("zoo bench needs --data; HINT: zoo bench --data DIR");
  if (o.epochs <= 0) throw usage_error("--epochs must be positive, got " + std::to_string(o.epochs));
  // The loader builds a few batches ahead (its prefetch window) before the clock starts at the
  // first batch; timing only a handful would measure that head start, not the pipeline.
  constexpr int64_t kMinBatches = 16;
  if (o.batches != 0 && o.batches < kMinBatches) {
    throw usage_error("--batches must be 0 (whole epochs) or at least " + std::to_string(kMinBatches) +
                      ", got " + std::to_string(o.batches) + "; HINT: fewer batches time the "
                      "prefetched head start, not the pipeline");
  }
  DataOptions data_options = data_options_for(find_classifier(o.model, "timing an image pipeline"), o.input_size);
  data_options.augment = o.augment;
  data_options.seed = o.seed;
  const DataSplits splits = open_dataset(o.data, data_options);
  LoaderOptions lo;
  lo.batch_size = o.batch_size;
  lo.workers = o.workers;
  lo.seed = o.seed;
  Loader loader(splits.train, lo);
  const SampleSpec& spec = splits.train->spec();

  using Clock = std::chrono::steady_clock;
  double seconds = 0.0;
  int64_t images = 0, batches = 0, skipped = 0;
  for (int64_t epoch = 0; epoch < o.epochs; ++epoch) {
    loader.start_epoch(epoch);
    Clock::time_point start;
    int64_t in_epoch = 0;
    while (auto batch = loader.next()) {
      if (in_epoch++ == 0) {
        start = Clock::now();
      } else {
        images += batch->size();
        ++batches;
      }
      if (o.batches > 0 && in_epoch > o.batches) break;
    }
    seconds += std::chrono::duration<double>(Clock::now() - start).count();
    skipped += loader.skipped();
  }
  if (batches == 0) {
    throw usage_error("nothing was timed: " + o.data + " gives one batch or fewer; HINT: lower "
                      "--batch-size or raise --epochs");
  }
  const double rate = images / std::max(seconds, 1e-9);
  if (o.json) {
    const nlohmann::json out = {
        {"data", o.data},          {"location", splits.location},
        {"model", o.model},        {"input_shape", {spec.channels, spec.height, spec.width}},
        {"augment", o.augment},    {"batch_size", o.batch_size},
        {"workers", o.workers},    {"batches", batches},
        {"images", images},        {"seconds", seconds},
        {"images_per_s", rate},    {"skipped", skipped}};
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  std::printf("loader %s (%s, %zu train samples) for %s %lldx%lldx%lld, augment %s, batch %lld, "
              "%d workers: %lld images in %.2f s: %.1f images/s",
              o.data.c_str(), splits.location.c_str(), splits.train->size(), o.model.c_str(),
              (long long)spec.channels, (long long)spec.height, (long long)spec.width,
              o.augment.c_str(), (long long)o.batch_size, o.workers, (long long)images, seconds, rate);
  if (skipped) std::printf(", %lld unreadable skipped", (long long)skipped);
  std::printf("\n");
}

}  // namespace zoo
