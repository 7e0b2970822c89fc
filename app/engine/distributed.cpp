// Process groups and bucketed gradient averaging; see distributed.h.
#include "app/engine/distributed.h"

#include "common/error.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <torch/autograd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>

namespace zoo {

namespace {

using Clock = std::chrono::steady_clock;

// The integer in environment variable `name`, or `fallback` when it is unset.
int env_int(const char* name, int fallback, int min) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  errno = 0;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (errno != 0 || *end != '\0' || value < min || value > 1 << 20) {
    throw usage_error(std::string("environment variable ") + name + "='" + text + "' is not a valid " +
                      (min == 0 ? "rank" : "count") + "; HINT: start zoo with torchrun, or with "
                      "`zoo train --nproc N`, which set it");
  }
  return static_cast<int>(value);
}

std::string env_text(const char* name, const std::string& fallback) {
  const char* text = std::getenv(name);
  return text == nullptr || *text == '\0' ? fallback : std::string(text);
}

constexpr int64_t kFirstBucketBytes = 1 << 20;  // as c10d's DDP: the first all-reduce starts early

}  // namespace

DistEnv dist_env_from_environment() {
  DistEnv env;
  env.world_size = env_int("WORLD_SIZE", 1, 1);
  if (env.world_size == 1) return env;
  if (std::getenv("RANK") == nullptr) {
    throw usage_error("WORLD_SIZE is " + std::to_string(env.world_size) + " but RANK is not set; "
                      "HINT: start zoo with torchrun, or with `zoo train --nproc N`, which set both");
  }
  env.rank = env_int("RANK", 0, 0);
  env.local_rank = env_int("LOCAL_RANK", env.rank, 0);
  env.local_world_size = env_int("LOCAL_WORLD_SIZE", env.world_size, 1);
  if (env.rank >= env.world_size || env.local_rank >= env.local_world_size) {
    throw usage_error("RANK " + std::to_string(env.rank) + " (LOCAL_RANK " + std::to_string(env.local_rank) +
                      ") is outside WORLD_SIZE " + std::to_string(env.world_size) + " (LOCAL_WORLD_SIZE " +
                      std::to_string(env.local_world_size) + "); HINT: ranks count from 0");
  }
  env.master_addr = env_text("MASTER_ADDR", "");
  if (env.master_addr.empty()) {
    throw usage_error("WORLD_SIZE is " + std::to_string(env.world_size) + " but MASTER_ADDR is not set; "
                      "HINT: set MASTER_ADDR and MASTER_PORT to rank 0's host and a free port (torchrun does)");
  }
  env.master_port = env_int("MASTER_PORT", 29500, 1);
  if (env.master_port > 65535) throw usage_error("MASTER_PORT " + std::to_string(env.master_port) + " is not a port");
  env.agent_store = env_text("TORCHELASTIC_USE_AGENT_STORE", "") == "True";
  env.restart_count = env_int("TORCHELASTIC_RESTART_COUNT", 0, 0);
  return env;
}

std::string resolve_backend(const std::string& backend, const torch::Device& device) {
#ifdef USE_C10D_NCCL
  const bool have_nccl = true;
#else
  const bool have_nccl = false;
#endif
  if (backend == "auto") return device.is_cuda() && have_nccl ? "nccl" : "gloo";
  if (backend == "gloo") return backend;
  if (backend == "nccl") {
    if (!have_nccl) {
      throw usage_error("--dist-backend nccl: this zoo was built against a LibTorch without NCCL; "
                        "HINT: use --dist-backend gloo, or build zoo against a CUDA LibTorch");
    }
    if (!device.is_cuda()) throw usage_error("--dist-backend nccl needs a CUDA --device; HINT: use gloo on the CPU");
    return backend;
  }
  throw usage_error("--dist-backend " + backend + " is not a backend; HINT: auto, gloo or nccl");
}

struct Distributed::Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> group;
  // NCCL takes device tensors only: small host tensors (figures, names, carried state) go
  // through this device and back.
  std::optional<torch::Device> staging;
  template <typename F>
  void on_backend_device(std::vector<torch::Tensor>& tensors, F&& collective) {
    if (!staging || tensors.empty() || !tensors.front().is_cpu()) {
      collective(tensors);
      return;
    }
    std::vector<torch::Tensor> staged = {tensors.front().to(*staging)};
    collective(staged);
    tensors.front().copy_(staged.front().cpu());
  }
};

Distributed::Distributed(DistEnv env, std::string backend, std::chrono::seconds timeout)
    : env_(std::move(env)), backend_(std::move(backend)), timeout_(timeout), group_(std::make_unique<Group>()) {}

Distributed::~Distributed() = default;

template <typename F>
void Distributed::guarded(const char* what, F&& collective) {
  try {
    collective();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    std::string why = e.what();
    why = why.substr(0, why.find('\n'));
    throw io_error(std::string("distributed ") + what + " failed on rank " + std::to_string(env_.rank) + " of " +
                   std::to_string(env_.world_size) + ": " + why.substr(0, 200) +
                   "; HINT: another rank stopped (its own error says why) or did not answer within "
                   "--dist-timeout; resume the run from its last.pt with `zoo train --resume RUN_DIR`");
  }
}

std::shared_ptr<Distributed> Distributed::join(const DistEnv& env, const DistOptions& options,
                                               const torch::Device& device) {
  const std::string backend = resolve_backend(options.backend, device);
  std::shared_ptr<Distributed> d(new Distributed(env, backend, options.timeout));
  const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(options.timeout);
  const std::string where = env.master_addr + ":" + std::to_string(env.master_port);
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(env.master_port);
    so.isServer = env.rank == 0 && !env.agent_store;
    so.numWorkers = env.world_size;
    so.waitWorkers = true;  // clients count themselves in; the server waits for all
    so.timeout = timeout;
    c10::intrusive_ptr<c10d::Store> store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
    if (env.agent_store) {  // keys of an earlier attempt of torchrun's stay in its store
      store = c10::make_intrusive<c10d::PrefixStore>("/worker/attempt_" + std::to_string(env.restart_count), store);
    }
    store = c10::make_intrusive<c10d::PrefixStore>("zoo", store);
    d->group_->store = store;
#ifdef USE_C10D_NCCL
    if (backend == "nccl") {
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = timeout;
      d->group_->group = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, env.rank, env.world_size, opts);
      d->group_->staging = device;
      return d;
    }
#endif
    auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
    const std::string interface = env_text("GLOO_SOCKET_IFNAME", "");
    opts->devices.push_back(interface.empty() ? c10d::ProcessGroupGloo::createDefaultDevice()
                                              : c10d::ProcessGroupGloo::createDeviceForInterface(interface));
    d->group_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, env.rank, env.world_size, opts);
  } catch (const std::exception& e) {
    std::string why = e.what();
    why = why.substr(0, why.find('\n'));
    throw io_error("rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size) +
                   " could not join the process group at " + where + ": " + why.substr(0, 200) +
                   "; HINT: start every rank with the same MASTER_ADDR and MASTER_PORT (a port free "
                   "on rank 0's host), within --dist-timeout of each other");
  }
  return d;
}

void Distributed::broadcast(const std::vector<torch::Tensor>& tensors) {
  // One flat tensor per (dtype, device), in first-seen order (the same on every rank).
  std::vector<std::vector<torch::Tensor>> groups;
  for (const auto& t : tensors) {
    auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) {
      return g.front().scalar_type() == t.scalar_type() && g.front().device() == t.device();
    });
    if (it == groups.end()) groups.push_back({t}); else it->push_back(t);
  }
  torch::NoGradGuard no_grad;
  for (auto& group : groups) {
    std::vector<torch::Tensor> flat_parts;
    for (const auto& t : group) flat_parts.push_back(t.reshape(-1));
    std::vector<torch::Tensor> flat = {torch::cat(flat_parts)};
    guarded("broadcast", [&] {
      group_->on_backend_device(flat, [&](std::vector<torch::Tensor>& t) { group_->group->broadcast(t)->wait(); });
    });
    int64_t offset = 0;
    for (auto& t : group) {
      t.copy_(flat[0].narrow(0, offset, t.numel()).view(t.sizes()));
      offset += t.numel();
    }
  }
}

void Distributed::all_reduce_sum(torch::Tensor& tensor) {
  std::vector<torch::Tensor> tensors = {tensor};
  guarded("all-reduce", [&] {
    group_->on_backend_device(tensors, [&](std::vector<torch::Tensor>& t) { group_->group->allreduce(t)->wait(); });
  });
}

void Distributed::all_reduce_sum(std::vector<double>& values) {
  if (values.empty()) return;
  torch::Tensor t = torch::tensor(values, torch::kFloat64);
  all_reduce_sum(t);
  std::memcpy(values.data(), t.data_ptr<double>(), values.size() * sizeof(double));
}

std::string Distributed::broadcast_string(const std::string& text) {
  std::vector<double> length = {env_.rank == 0 ? double(text.size()) : 0.0};
  all_reduce_sum(length);
  torch::Tensor bytes = torch::zeros({static_cast<int64_t>(length[0])}, torch::kUInt8);
  if (env_.rank == 0 && !text.empty()) std::memcpy(bytes.data_ptr(), text.data(), text.size());
  broadcast({bytes});
  return std::string(static_cast<const char*>(bytes.data_ptr()), bytes.numel());
}

void Distributed::barrier() {
  guarded("barrier", [&] { group_->group->barrier()->wait(); });
}

namespace {

// All-reduce (sum) as an autograd function: forward sums the ranks' tensors, backward sums
// the ranks' gradients. Every rank runs the same graph, so the collectives line up.
struct AllReduceSum : public torch::autograd::Function<AllReduceSum> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, Distributed* dist) {
    ctx->saved_data["dist"] = reinterpret_cast<int64_t>(dist);
    torch::Tensor out = x.detach().clone().contiguous();
    dist->all_reduce_sum(out);
    return out;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto* dist = reinterpret_cast<Distributed*>(ctx->saved_data["dist"].toInt());
    torch::Tensor g = grads[0].contiguous().clone();
    dist->all_reduce_sum(g);
    return {g, torch::Tensor()};
  }
};

class RankSum : public BatchStatisticsSum {
 public:
  explicit RankSum(Distributed& dist) : dist_(dist) {}
  torch::Tensor sum(const torch::Tensor& t) override { return AllReduceSum::apply(t, &dist_); }

 private:
  Distributed& dist_;
};

}  // namespace

std::shared_ptr<BatchStatisticsSum> rank_sum(Distributed& dist) { return std::make_shared<RankSum>(dist); }

// ---------------------------------------------------------------------------------------------

struct GradientReducer::Bucket {
  torch::Tensor flat;         // the averaged gradients of its slots, back to back
  std::vector<size_t> slots;  // indices into slots_
  size_t pending = 0;         // slots not yet filled in this step
  c10::intrusive_ptr<c10d::Work> work;
};

GradientReducer::GradientReducer(Distributed& dist, std::vector<torch::Tensor> params, int64_t bucket_bytes)
    : dist_(dist) {
  if (bucket_bytes <= 0) throw usage_error("--bucket-mb must be positive");
  std::reverse(params.begin(), params.end());
  for (auto& p : params) slots_.push_back(Slot{p});
  int64_t bytes_in_bucket = 0;
  std::vector<int64_t> sizes;  // elements per bucket
  for (size_t i = 0; i < slots_.size(); ++i) {
    const torch::Tensor& p = slots_[i].param;
    const int64_t bytes = p.numel() * static_cast<int64_t>(p.element_size());
    const int64_t cap = buckets_.size() == 1 ? kFirstBucketBytes : bucket_bytes;  // the open bucket's
    const bool same_kind = !buckets_.empty() && slots_[buckets_.back()->slots.front()].param.scalar_type() == p.scalar_type() &&
                           slots_[buckets_.back()->slots.front()].param.device() == p.device();
    if (!same_kind || bytes_in_bucket + bytes > cap) {  // a parameter larger than the cap gets a bucket of its own
      buckets_.push_back(std::make_unique<Bucket>());
      sizes.push_back(0);
      bytes_in_bucket = 0;
    }
    Bucket& b = *buckets_.back();
    slots_[i].bucket = buckets_.size() - 1;
    slots_[i].offset = sizes.back();
    b.slots.push_back(i);
    sizes.back() += p.numel();
    bytes_in_bucket += bytes;
    bytes_ += bytes;
  }
  for (size_t b = 0; b < buckets_.size(); ++b) {
    const torch::Tensor& first = slots_[buckets_[b]->slots.front()].param;
    buckets_[b]->flat = torch::zeros({sizes[b]}, first.options().requires_grad(false));
  }
  for (size_t i = 0; i < slots_.size(); ++i) {
    slots_[i].hook = slots_[i].param.register_hook([this, i](const torch::Tensor& grad) { on_gradient(i, grad); });
  }
}

GradientReducer::~GradientReducer() {
  for (auto& slot : slots_) slot.param.remove_hook(slot.hook);
  for (auto& b : buckets_) {  // an all-reduce still running writes into b->flat: let it end
    if (b->work) {
      try {
        b->work->wait();
      } catch (...) {
      }
    }
  }
}

void GradientReducer::arm(bool accumulated) {
  std::lock_guard<std::mutex> lock(mutex_);
  armed_ = true;
  accumulated_ = accumulated;
  next_launch_ = 0;
  for (auto& slot : slots_) slot.filled = false;
  for (auto& b : buckets_) b->pending = b->slots.size();
}

// The slot's part of its bucket: this backward's gradient `grad` (null: none) plus what .grad
// has accumulated from earlier batches of the group, divided by the world size.
void GradientReducer::fill(Slot& slot, const torch::Tensor* grad) {
  torch::NoGradGuard no_grad;
  Bucket& b = *buckets_[slot.bucket];
  torch::Tensor view = b.flat.narrow(0, slot.offset, slot.param.numel()).view(slot.param.sizes());
  const torch::Tensor& held = slot.param.grad();
  const bool add_held = accumulated_ && held.defined();
  const double scale = 1.0 / dist_.world_size();
  if (grad != nullptr && add_held) {
    torch::add_out(view, *grad, held).mul_(scale);
  } else if (grad != nullptr) {
    torch::mul_out(view, *grad, torch::scalar_tensor(scale, view.options()));  // one pass
  } else if (add_held) {
    torch::mul_out(view, held, torch::scalar_tensor(scale, view.options()));
  } else {
    view.zero_();
  }
  slot.filled = true;
  --b.pending;
}

void GradientReducer::on_gradient(size_t index, const torch::Tensor& grad) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!armed_) return;
  Slot& slot = slots_[index];
  if (slot.filled) return;  // cannot happen for a leaf (its hook sees the summed gradient once)
  fill(slot, &grad);
  launch_ready_buckets(false);
}

// All-reduces full buckets in bucket order (every rank issues the same collectives in the same
// order); `all`: fills what the backward pass left empty first (unused parameters).
void GradientReducer::launch_ready_buckets(bool all) {
  while (next_launch_ < buckets_.size()) {
    Bucket& b = *buckets_[next_launch_];
    if (all) {
      for (size_t i : b.slots) {
        if (!slots_[i].filled) fill(slots_[i], nullptr);
      }
    }
    if (b.pending > 0) return;
    std::vector<torch::Tensor> tensors = {b.flat};
    dist_.guarded("gradient all-reduce", [&] { b.work = dist_.group_->group->allreduce(tensors); });
    ++next_launch_;
  }
}

void GradientReducer::finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!armed_) throw internal_error("GradientReducer::finish without arm");
  launch_ready_buckets(true);
  const auto start = Clock::now();
  for (auto& b : buckets_) {
    dist_.guarded("gradient all-reduce", [&] { b->work->wait(); });
    b->work.reset();
  }
  wait_seconds_ += std::chrono::duration<double>(Clock::now() - start).count();
  ++finishes_;
  torch::NoGradGuard no_grad;
  for (auto& slot : slots_) {
    const Bucket& b = *buckets_[slot.bucket];
    torch::Tensor average = b.flat.narrow(0, slot.offset, slot.param.numel()).view(slot.param.sizes());
    if (slot.param.grad().defined()) {
      slot.param.mutable_grad().copy_(average);
    } else {
      slot.param.mutable_grad() = average.clone();
    }
  }
  armed_ = false;
}

std::pair<double, int64_t> GradientReducer::take_stats() {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::pair<double, int64_t> out{wait_seconds_, finishes_};
  wait_seconds_ = 0.0;
  finishes_ = 0;
  return out;
}

}  // namespace zoo
