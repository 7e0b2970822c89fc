// Contiguous-stream batches for truncated BPTT; see stream_batcher.h.
#include "data/stream_batcher.h"

#include "common/error.h"
#include "data/loader.h"

#include <algorithm>

namespace zoo {

StreamBatcher::StreamBatcher(torch::Tensor tokens, StreamOptions options)
    : tokens_(std::move(tokens)), options_(options) {
  if (options_.streams <= 0 || options_.steps <= 0) {
    throw usage_error("stream batches need positive streams and steps, got " +
                      std::to_string(options_.streams) + " x " + std::to_string(options_.steps));
  }
  if (tokens_.dim() != 1 || tokens_.scalar_type() != torch::kInt64) {
    throw internal_error("StreamBatcher takes a 1-D int64 token tensor");
  }
  if (options_.world < 1 || options_.rank < 0 || options_.rank >= options_.world) {
    throw internal_error("stream shard " + std::to_string(options_.rank) + " of " + std::to_string(options_.world));
  }
  tokens_ = tokens_.contiguous();
  const int64_t reserve = options_.shift ? options_.steps - 1 : 0;  // room for the offset
  stream_length_ = (tokens_.size(0) - reserve) / (options_.streams * options_.world);
  if (stream_length_ < 2) {
    throw data_error("a sequence of " + std::to_string(tokens_.size(0)) + " tokens is too short for " +
                     std::to_string(options_.streams * options_.world) + " streams (each needs at least 2 tokens" +
                     (options_.shift ? ", plus " + std::to_string(reserve) + " for the shift" : "") +
                     "); HINT: use more text or a smaller batch size");
  }
}

int64_t StreamBatcher::batches_per_epoch() const {
  return (stream_length_ - 1 + options_.steps - 1) / options_.steps;
}

int64_t StreamBatcher::offset(int64_t epoch) const {
  if (!options_.shift) return 0;
  return static_cast<int64_t>(sample_seed(options_.seed, epoch, ~size_t{0}) %
                              static_cast<uint64_t>(options_.steps));
}

void StreamBatcher::start_epoch(int64_t epoch, int64_t first_batch) {
  const int64_t b = options_.streams * options_.world;
  streams_ = tokens_.narrow(0, offset(epoch), b * stream_length_).view({b, stream_length_});
  if (options_.world > 1) streams_ = streams_.slice(0, options_.rank, b, options_.world);
  next_ = std::clamp<int64_t>(first_batch, 0, batches_per_epoch());
}

std::optional<Batch> StreamBatcher::next() {
  if (!streams_.defined()) throw internal_error("StreamBatcher::next called before start_epoch");
  if (next_ >= batches_per_epoch()) return std::nullopt;
  const int64_t begin = next_ * options_.steps;
  const int64_t steps = std::min(options_.steps, stream_length_ - 1 - begin);
  Batch batch(next_++);
  batch.set(kInputs, streams_.narrow(1, begin, steps).clone());
  batch.set(kTargets, streams_.narrow(1, begin + 1, steps).clone());
  return batch;
}

}  // namespace zoo
