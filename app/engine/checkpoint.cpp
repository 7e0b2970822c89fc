// Checkpoint save/load; see checkpoint.h. Archive keys: "meta" (JSON string), "model"
// (Dict[str, Tensor] in state-dict order), "optimizer" (nested archive), "rng_cpu" and
// "rng_cuda_N" (tensors), "task_state" (Dict[str, Tensor], only when the task has any).
#include "app/engine/checkpoint.h"

#include "common/error.h"
#include "common/atomic_file.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <ATen/core/Dict.h>
#include <torch/cuda.h>
#include <torch/serialize/output-archive.h>

#include <filesystem>
#include <mutex>

namespace zoo {

namespace {

constexpr const char* kFormatName = "zoo-checkpoint";

at::Generator cuda_generator(size_t index) {
  return at::globalContext().defaultGenerator(
      at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index)));
}

std::string hint() { return "HINT: pass a checkpoint written by zoo (runs/<name>/checkpoints/*.pt)"; }

}  // namespace

void save_checkpoint(const std::string& path, nlohmann::json meta, const StateDict& model,
                     torch::optim::Optimizer* optimizer, bool with_rng,
                     const StateDict& task_state) {
  meta["format"] = kFormatName;
  meta["format_version"] = kCheckpointFormatVersion;
  torch::serialize::OutputArchive archive;
  archive.write("meta", c10::IValue(meta.dump()));
  auto to_dict = [](const StateDict& sd) {
    c10::Dict<std::string, at::Tensor> dict;
    for (const auto& kv : sd) dict.insert(kv.first, kv.second.detach().cpu());
    return dict;
  };
  archive.write("model", c10::IValue(to_dict(model)));
  if (!task_state.empty()) archive.write("task_state", c10::IValue(to_dict(task_state)));
  if (optimizer) {
    torch::serialize::OutputArchive opt;
    optimizer->save(opt);
    archive.write("optimizer", opt);
  }
  if (with_rng) {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    archive.write("rng_cpu", gen.get_state(), /*is_buffer=*/true);
    for (size_t i = 0; torch::cuda::is_available() && i < torch::cuda::device_count(); ++i) {
      auto cuda = cuda_generator(i);
      std::lock_guard<std::mutex> cuda_lock(cuda.mutex());
      archive.write("rng_cuda_" + std::to_string(i), cuda.get_state(), /*is_buffer=*/true);
    }
  }
  // A write error is caught inside the callback and the rest of the archive is swallowed:
  // LibTorch's zip writer must not see a short write, or it throws again from its destructor
  // (std::terminate). The error is rethrown here; the AtomicFile then removes its temporary.
  AtomicFile file(path);
  std::exception_ptr write_error;
  try {
    archive.save_to([&](const void* data, size_t size) -> size_t {
      if (!write_error) {
        try {
          file.write(data, size);
        } catch (...) {
          write_error = std::current_exception();
        }
      }
      return size;
    });
  } catch (const c10::Error& e) {
    if (write_error) std::rethrow_exception(write_error);
    throw io_error("failed to write checkpoint " + path + ": " + e.what_without_backtrace());
  }
  if (write_error) std::rethrow_exception(write_error);
  file.commit();
}

Checkpoint load_checkpoint(const std::string& path, torch::Device device) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw missing_error("checkpoint not found: " + path + "; " + hint());
  }
  Checkpoint ckpt;
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path);
  } catch (const c10::Error& e) {
    throw data_error("cannot read checkpoint " + path + ": not a zoo checkpoint or corrupt (" +
                     std::string(e.what_without_backtrace()).substr(0, 160) + "); " + hint());
  }
  c10::IValue meta;
  if (!archive.try_read("meta", meta) || !meta.isString()) {
    throw data_error(path + " is a LibTorch archive but not a zoo checkpoint (no metadata); " + hint());
  }
  try {
    ckpt.meta = nlohmann::json::parse(meta.toStringRef());
  } catch (const nlohmann::json::exception& e) {
    throw data_error("checkpoint " + path + " has corrupt metadata: " + e.what() + "; " + hint());
  }
  if (ckpt.meta.value("format", "") != kFormatName) {
    throw data_error(path + " is not a zoo checkpoint; " + hint());
  }
  const int version = ckpt.meta.value("format_version", 0);
  if (version > kCheckpointFormatVersion) {
    throw data_error("checkpoint " + path + " has format version " + std::to_string(version) +
                     ", this zoo reads up to " + std::to_string(kCheckpointFormatVersion) +
                     "; HINT: use a newer zoo");
  }
  c10::IValue weights;
  if (!archive.try_read("model", weights) || !weights.isGenericDict()) {
    throw data_error("checkpoint " + path + " holds no model weights; " + hint());
  }
  for (const auto& item : weights.toGenericDict()) {
    ckpt.model.emplace_back(item.key().toStringRef(), item.value().toTensor());
  }
  c10::IValue task_state;
  if (archive.try_read("task_state", task_state)) {
    if (!task_state.isGenericDict()) throw data_error("checkpoint " + path + " has a corrupt task state; " + hint());
    for (const auto& item : task_state.toGenericDict()) {
      ckpt.task_state.emplace_back(item.key().toStringRef(), item.value().toTensor());
    }
  }
  torch::serialize::InputArchive opt;
  if (archive.try_read("optimizer", opt)) {
    if (!device.is_cpu()) {  // optimizer state belongs beside the parameters
      torch::serialize::InputArchive on_device;
      on_device.load_from(path, device);
      on_device.read("optimizer", opt);
    }
    ckpt.optimizer = std::move(opt);
  }
  torch::Tensor rng;
  if (archive.try_read("rng_cpu", rng, /*is_buffer=*/true)) ckpt.rng_cpu = rng;
  for (size_t i = 0;; ++i) {
    torch::Tensor state;
    if (!archive.try_read("rng_cuda_" + std::to_string(i), state, /*is_buffer=*/true)) break;
    ckpt.rng_cuda.push_back(state);
  }
  return ckpt;
}

void restore_rng_states(const Checkpoint& ckpt) {
  if (ckpt.rng_cpu.defined()) {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(ckpt.rng_cpu);
  }
  const size_t devices = torch::cuda::is_available() ? torch::cuda::device_count() : 0;
  for (size_t i = 0; i < ckpt.rng_cuda.size() && i < devices; ++i) {
    auto gen = cuda_generator(i);
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(ckpt.rng_cuda[i]);
  }
}

}  // namespace zoo
