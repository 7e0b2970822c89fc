// The batch loader: a pool of worker threads that run the dataset's collate step (for images:
// samples loaded straight into preallocated batch tensors) ahead of the trainer, through a
// bounded window of `prefetch` batches. The order of samples is a per-epoch shuffle from the
// seed (our own RNG, not LibTorch's), and every sample gets a seed from (seed, epoch, index),
// so batches are bit-identical whatever the worker count. A sample that fails to load is
// skipped with one warning naming it.
#pragma once

#include "data/dataset.h"

#include <torch/types.h>

#include <condition_variable>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace zoo {

struct LoaderOptions {
  int64_t batch_size = 64;
  bool shuffle = true;
  bool drop_last = false;
  int workers = 1;    // 0: load in the calling thread
  int prefetch = 4;   // batches loaded ahead of the consumer
  uint64_t seed = 0;
  // Data-parallel shard: this process reads every world-th sample of each epoch's order,
  // starting at `rank` (torch's DistributedSampler). With pad_shards the order is first
  // extended with its own start to a multiple of world, so every rank gets as many batches
  // (training); without, shards are disjoint and differ by at most one sample (validation).
  int rank = 0;
  int world = 1;
  bool pad_shards = true;
};

class Loader : public BatchSource {
 public:
  Loader(std::shared_ptr<const Dataset> dataset, LoaderOptions options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  int64_t batches_per_epoch() const override;
  void start_epoch(int64_t epoch, int64_t first_batch = 0) override;
  std::optional<Batch> next() override;
  int64_t skipped() const override;
  int64_t samples() const override { return static_cast<int64_t>(dataset_->size()); }
  const Dataset& dataset() const { return *dataset_; }

 private:
  Batch build(int64_t epoch, int64_t batch_index, const std::vector<size_t>& order);
  void worker_loop();

  std::shared_ptr<const Dataset> dataset_;
  LoaderOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable ready_cv_;
  std::vector<std::thread> workers_;
  bool stop_ = false;
  uint64_t generation_ = 0;  // bumped by start_epoch; stale work is discarded
  int64_t epoch_ = 0;
  std::shared_ptr<const std::vector<size_t>> order_;
  int64_t next_to_build_ = 0;
  int64_t next_to_return_ = 0;
  int64_t end_ = 0;
  std::map<int64_t, Batch> ready_;
  int64_t skipped_ = 0;
  std::exception_ptr failure_;  // a worker's exception, rethrown by next()
};

// The per-sample seed: a SplitMix64 mix of (seed, epoch, index).
uint64_t sample_seed(uint64_t seed, int64_t epoch, size_t index);

// Batches of `batch_size` over `samples` samples: the last one partial, or dropped with
// drop_last.
int64_t batch_count(size_t samples, int64_t batch_size, bool drop_last);

// The order in which a loader visits `size` samples in epoch `epoch`: 0..size-1, shuffled
// from (seed, epoch) when `shuffle`. Batches are consecutive runs of it.
std::vector<size_t> epoch_order(size_t size, uint64_t seed, int64_t epoch, bool shuffle);

// `options`' shard of `order` (all of it for world 1), and its size for `size` samples.
std::vector<size_t> shard_order(const std::vector<size_t>& order, const LoaderOptions& options);
size_t shard_size(size_t size, const LoaderOptions& options);

}  // namespace zoo
