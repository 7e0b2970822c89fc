// The threaded batch loader; see loader.h.
#include "data/loader.h"

#include "common/error.h"

#include <algorithm>
#include <numeric>
#include <random>

namespace zoo {

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

uint64_t sample_seed(uint64_t seed, int64_t epoch, size_t index) {
  return splitmix64(splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(epoch)) ^ index);
}

Loader::Loader(std::shared_ptr<const Dataset> dataset, LoaderOptions options)
    : dataset_(std::move(dataset)), options_(options) {
  if (options_.batch_size <= 0) {
    throw usage_error("--batch-size must be positive, got " + std::to_string(options_.batch_size));
  }
  if (options_.workers < 0) {
    throw usage_error("--workers must be 0 or more, got " + std::to_string(options_.workers));
  }
  if (options_.world < 1 || options_.rank < 0 || options_.rank >= options_.world) {
    throw internal_error("loader shard " + std::to_string(options_.rank) + " of " + std::to_string(options_.world));
  }
  options_.prefetch = std::max(options_.prefetch, std::max(1, options_.workers));
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { worker_loop(); });
}

Loader::~Loader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

int64_t batch_count(size_t samples, int64_t batch_size, bool drop_last) {
  const auto n = static_cast<int64_t>(samples);
  return drop_last ? n / batch_size : (n + batch_size - 1) / batch_size;
}

int64_t Loader::batches_per_epoch() const {
  return batch_count(shard_size(dataset_->size(), options_), options_.batch_size, options_.drop_last);
}

std::vector<size_t> epoch_order(size_t size, uint64_t seed, int64_t epoch, bool shuffle) {
  std::vector<size_t> order(size);
  std::iota(order.begin(), order.end(), size_t{0});
  if (shuffle) {
    std::mt19937_64 rng(sample_seed(seed, epoch, ~size_t{0}));
    for (size_t i = order.size(); i > 1; --i) {  // Fisher-Yates, portable across libstdc++s
      std::swap(order[i - 1], order[rng() % i]);
    }
  }
  return order;
}

size_t shard_size(size_t size, const LoaderOptions& options) {
  const size_t world = static_cast<size_t>(options.world), rank = static_cast<size_t>(options.rank);
  if (world <= 1) return size;
  if (options.pad_shards) return (size + world - 1) / world;
  return size / world + (rank < size % world ? 1 : 0);
}

std::vector<size_t> shard_order(const std::vector<size_t>& order, const LoaderOptions& options) {
  if (options.world <= 1) return order;
  const size_t world = static_cast<size_t>(options.world);
  const size_t count = shard_size(order.size(), options);
  std::vector<size_t> shard;
  shard.reserve(count);
  for (size_t k = 0; k < count && !order.empty(); ++k) {
    shard.push_back(order[(static_cast<size_t>(options.rank) + k * world) % order.size()]);
  }
  return shard;
}

void Loader::start_epoch(int64_t epoch, int64_t first_batch) {
  auto order = std::make_shared<std::vector<size_t>>(
      shard_order(epoch_order(dataset_->size(), options_.seed, epoch, options_.shuffle), options_));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++generation_;
    epoch_ = epoch;
    order_ = std::move(order);
    end_ = batches_per_epoch();
    next_to_build_ = next_to_return_ = std::min(first_batch, end_);
    ready_.clear();
    skipped_ = 0;
  }
  work_cv_.notify_all();
}

Batch Loader::build(int64_t epoch, int64_t batch_index, const std::vector<size_t>& order) {
  const int64_t begin = batch_index * options_.batch_size;
  const int64_t end = std::min<int64_t>(begin + options_.batch_size, order.size());
  std::vector<size_t> indices(order.begin() + begin, order.begin() + end);
  std::vector<uint64_t> seeds;
  seeds.reserve(indices.size());
  for (size_t index : indices) seeds.push_back(sample_seed(options_.seed, epoch, index));
  int64_t skipped = 0;
  Batch batch = dataset_->collate(indices, seeds, batch_index, &skipped);
  if (skipped) {
    std::lock_guard<std::mutex> lock(mutex_);
    skipped_ += skipped;
  }
  return batch;
}

void Loader::worker_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    work_cv_.wait(lock, [this] {
      return stop_ || (next_to_build_ < end_ && next_to_build_ < next_to_return_ + options_.prefetch);
    });
    if (stop_) return;
    const int64_t index = next_to_build_++;
    const uint64_t generation = generation_;
    const int64_t epoch = epoch_;
    auto order = order_;
    lock.unlock();
    Batch batch;
    std::exception_ptr error;
    try {
      batch = build(epoch, index, *order);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    if (generation != generation_) continue;  // the epoch was restarted meanwhile
    if (error) {  // e.g. out of memory: stop all workers, next() rethrows it
      failure_ = error;
      stop_ = true;
      ready_cv_.notify_all();
      work_cv_.notify_all();
      return;
    }
    ready_.emplace(index, std::move(batch));
    ready_cv_.notify_all();
  }
}

std::optional<Batch> Loader::next() {
  if (!order_) throw internal_error("Loader::next called before start_epoch");
  if (workers_.empty()) {
    if (next_to_return_ >= end_) return std::nullopt;
    return build(epoch_, next_to_return_++, *order_);
  }
  std::unique_lock<std::mutex> lock(mutex_);
  if (next_to_return_ >= end_) return std::nullopt;
  ready_cv_.wait(lock, [this] { return stop_ || ready_.count(next_to_return_) > 0; });
  if (failure_) std::rethrow_exception(failure_);
  Batch batch = std::move(ready_.at(next_to_return_));
  ready_.erase(next_to_return_++);
  lock.unlock();
  work_cv_.notify_all();
  return batch;
}

int64_t Loader::skipped() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return skipped_;
}

}  // namespace zoo
