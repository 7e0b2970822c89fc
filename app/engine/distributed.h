// Data-parallel training on PyTorch's own distributed engine (c10d): the torchrun environment,
// a process group over a TCPStore (Gloo on CPU; NCCL on CUDA builds that have it), rank 0's
// weights broadcast to every rank, and gradients averaged over the ranks in size-bounded
// buckets that are all-reduced while the backward pass is still running.
//
// Why zoo buckets gradients itself rather than through c10d::Reducer: the Reducer's header
// needs distributed-autograd headers that LibTorch's packages do not all ship (Debian's does
// not), and its constructor changes between releases. GradientReducer is the same design
// (reverse registration order, a small first bucket, one tensor hook per parameter, buckets
// launched strictly in order so every rank issues the same collectives) in public API.
// Leaves out: sparse gradients, comm hooks (fp16 compression), and uneven inputs across ranks
// (the distributed sampler pads every rank to the same number of steps instead).
#pragma once

#include "models/batch_norm.h"

#include <torch/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace zoo {

// The environment torchrun (or `zoo train --nproc`) gives each process.
struct DistEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  bool agent_store = false;  // TORCHELASTIC_USE_AGENT_STORE=True: the store is torchrun's
  int restart_count = 0;     // TORCHELASTIC_RESTART_COUNT
  bool distributed() const { return world_size > 1; }
};

// RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT,
// TORCHELASTIC_USE_AGENT_STORE and TORCHELASTIC_RESTART_COUNT; none set: one process. A value
// that does not parse, or a rank outside the world, is a usage error naming the variable.
DistEnv dist_env_from_environment();

struct DistOptions {
  std::string backend = "auto";  // auto (nccl for a CUDA device when built with it, else gloo), gloo, nccl
  std::chrono::seconds timeout{1800};  // a collective or the rendezvous waiting longer fails
};

// The backend `options.backend` resolves to for `device`; usage error when it is unavailable.
std::string resolve_backend(const std::string& backend, const torch::Device& device);

// This process's membership of the process group. Every collective is blocking unless named
// otherwise and fails with an io_error (exit 74) naming the rank when a peer is gone or the
// timeout passes.
class Distributed {
 public:
  // Joins the group described by `env` (world_size > 1): rendezvous through the TCPStore at
  // MASTER_ADDR:MASTER_PORT (rank 0 hosts it unless torchrun's agent does), then the backend.
  static std::shared_ptr<Distributed> join(const DistEnv& env, const DistOptions& options,
                                           const torch::Device& device);
  ~Distributed();

  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }
  const DistEnv& env() const { return env_; }
  const std::string& backend() const { return backend_; }
  std::chrono::seconds timeout() const { return timeout_; }

  // Overwrites every rank's `tensors` with rank 0's (coalesced: one broadcast per dtype).
  void broadcast(const std::vector<torch::Tensor>& tensors);
  // Sums `values` over the ranks, in place (one all-reduce in double precision).
  void all_reduce_sum(std::vector<double>& values);
  // Sums `tensor` over the ranks, in place.
  void all_reduce_sum(torch::Tensor& tensor);
  // Rank 0's `text` on every rank.
  std::string broadcast_string(const std::string& text);
  void barrier();

 private:
  friend class GradientReducer;
  struct Group;
  Distributed(DistEnv env, std::string backend, std::chrono::seconds timeout);
  // Runs a collective; a failure becomes one io_error line naming `what` and this rank.
  template <typename F>
  void guarded(const char* what, F&& collective);

  DistEnv env_;
  std::string backend_;
  std::chrono::seconds timeout_;
  std::unique_ptr<Group> group_;
};

// Sums a tensor over the ranks, differentiably (the gradient is summed over the ranks as
// well): what --sync-bn gives the models' batch norms (models/batch_norm.h).
std::shared_ptr<BatchStatisticsSum> rank_sum(Distributed& dist);

// Gradient averaging for one set of parameters: after `arm()`, the next backward pass copies
// each parameter's gradient (plus what .grad already accumulated, for --accumulate) into its
// bucket as it is produced, and all-reduces every bucket once it is full, in bucket order;
// `finish()` waits for them and writes the averages to .grad. Backward passes while unarmed
// (the first batches of an accumulation group) only accumulate locally.
class GradientReducer {
 public:
  // `bucket_bytes`: the size bound of every bucket but the first (1 MiB, so that the first
  // all-reduce starts early in the backward pass). Parameters are bucketed in reverse
  // registration order, roughly the order their gradients are produced.
  GradientReducer(Distributed& dist, std::vector<torch::Tensor> params, int64_t bucket_bytes);
  ~GradientReducer();  // removes its hooks
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // `accumulated`: .grad holds earlier batches of the group (else it is zero and is skipped).
  void arm(bool accumulated);
  void finish();

  size_t bucket_count() const { return buckets_.size(); }
  int64_t bytes_per_step() const { return bytes_; }
  // Seconds finish() spent waiting for all-reduces (what the backward pass did not hide), and
  // the number of finish() calls, since the last take_stats().
  std::pair<double, int64_t> take_stats();

 private:
  struct Slot {
    torch::Tensor param;
    size_t bucket = 0;
    int64_t offset = 0;
    bool filled = false;
    unsigned hook = 0;
  };
  struct Bucket;
  void on_gradient(size_t slot, const torch::Tensor& grad);
  void fill(Slot& slot, const torch::Tensor* grad);
  void launch_ready_buckets(bool all);

  Distributed& dist_;
  std::vector<Slot> slots_;
  std::vector<std::unique_ptr<Bucket>> buckets_;
  int64_t bytes_ = 0;
  bool armed_ = false;
  bool accumulated_ = false;
  size_t next_launch_ = 0;
  double wait_seconds_ = 0.0;
  int64_t finishes_ = 0;
  std::mutex mutex_;
};

}  // namespace zoo
