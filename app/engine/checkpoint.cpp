// Checkpoint save/load; see checkpoint.h. Archive keys: "meta" (JSON string),
// "meta_checksum" (string: the checksum of meta's bytes), "model" (Dict[str, Tensor] in
// state-dict order), "optimizer_archive" (uint8 tensor: the optimizer's own archive; format 2
// nested it as "optimizer"), "rng_cpu" and "rng_cuda_N" (tensors), "task_state" (Dict[str,
// Tensor], only when the task has any). meta["checksums"]["tensors"] maps "model/<name>",
// "task_state/<name>", "optimizer", "rng_cpu" and "rng_cuda_N" to tensor_checksum().
#include "app/engine/checkpoint.h"

#include "common/atomic_file.h"
#include "common/checksum.h"
#include "common/error.h"
#include "common/json_text.h"
#include "weights/weights_io.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <ATen/core/Dict.h>
#include <torch/cuda.h>
#include <torch/serialize/output-archive.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <set>

namespace zoo {

namespace {

constexpr const char* kFormatName = "zoo-checkpoint";

at::Generator cuda_generator(size_t index) {
  return at::globalContext().defaultGenerator(
      at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index)));
}

std::string hint() { return "HINT: pass a checkpoint written by zoo (runs/<name>/checkpoints/*.pt)"; }

Error damaged(const std::string& path, const std::string& what) {
  return data_error("checkpoint " + path + " is damaged: " + what +
                    "; HINT: the file changed after zoo wrote it (a disk or copy error): copy it again "
                    "or use an earlier checkpoint (`zoo verify FILE` checks one)");
}

// The checksums a format-3 file lists, ticked off as its tensors are read.
class Verifier {
 public:
  Verifier(std::string path, const nlohmann::json& meta, bool required) : path_(std::move(path)) {
    if (!required) return;
    const auto it = meta.find("checksums");
    if (it == meta.end() || !it->is_object() || !it->contains("tensors") || !(*it)["tensors"].is_object()) {
      throw damaged(path_, "its metadata lists no checksums");
    }
    if (it->value("algorithm", "") != kChecksumAlgorithm) {
      throw data_error("checkpoint " + path_ + " uses the checksum '" + it->value("algorithm", "") +
                       "', this zoo knows " + kChecksumAlgorithm + "; HINT: use a newer zoo");
    }
    for (const auto& item : (*it)["tensors"].items()) {
      if (!item.value().is_string()) throw damaged(path_, "the checksum of " + item.key() + " is not a string");
      expected_[item.key()] = item.value().get<std::string>();
    }
    active_ = true;
  }

  // How messages name an entry.
  static std::string described(const std::string& key) {
    return key == "optimizer" ? "its optimizer state" : "tensor " + key;
  }

  void check(const std::string& key, const torch::Tensor& t) {
    if (!active_) return;
    const std::string what = described(key);
    const auto it = expected_.find(key);
    if (it == expected_.end()) throw damaged(path_, what + " has no checksum");
    if (!seen_.insert(key).second) throw damaged(path_, what + " appears twice");
    if (tensor_checksum(t) != it->second) throw damaged(path_, what + " does not match its checksum");
  }

  // Every listed tensor must have been read; returns how many were checked.
  int finish() const {
    if (!active_) return 0;
    for (const auto& kv : expected_) {
      if (!seen_.count(kv.first)) throw damaged(path_, described(kv.first) + " is missing");
    }
    return static_cast<int>(seen_.size()) + 1;  // and the metadata
  }

 private:
  std::string path_;
  std::map<std::string, std::string> expected_;
  std::set<std::string> seen_;
  bool active_ = false;
};

// The dict `value` stored under `key` ("model", "task_state"), each tensor checked.
StateDict read_tensor_dict(const c10::IValue& value, const std::string& key, const std::string& path,
                           Verifier& verifier) {
  StateDict out;
  if (!value.isGenericDict()) throw data_error("checkpoint " + path + " has a corrupt " + key + " entry; " + hint());
  for (const auto& item : value.toGenericDict()) {
    if (!item.key().isString() || !item.value().isTensor()) {
      throw data_error("checkpoint " + path + " has a corrupt " + key + " entry; " + hint());
    }
    const std::string& name = item.key().toStringRef();
    verifier.check(key + "/" + name, item.value().toTensor());
    out.emplace_back(name, item.value().toTensor());
  }
  return out;
}

}  // namespace

void save_checkpoint(const std::string& path, nlohmann::json meta, const StateDict& model,
                     torch::optim::Optimizer* optimizer, bool with_rng,
                     const StateDict& task_state, const std::string& keep_previous) {
  meta["format"] = kFormatName;
  meta["format_version"] = kCheckpointFormatVersion;
  nlohmann::json sums = nlohmann::json::object();
  torch::serialize::OutputArchive archive;
  auto write_tensor = [&](const std::string& key, const torch::Tensor& t) {
    sums[key] = tensor_checksum(t);
    archive.write(key, t, /*is_buffer=*/true);
  };
  auto write_dict = [&](const std::string& key, const StateDict& sd) {
    c10::Dict<std::string, at::Tensor> dict;
    for (const auto& kv : sd) {
      const at::Tensor t = kv.second.detach().cpu();
      sums[key + "/" + kv.first] = tensor_checksum(t);
      dict.insert(kv.first, t);
    }
    archive.write(key, c10::IValue(dict));
  };
  write_dict("model", model);
  if (!task_state.empty()) write_dict("task_state", task_state);
  std::string optimizer_bytes;  // alive until the archive is written
  if (optimizer) {
    torch::serialize::OutputArchive opt;
    optimizer->save(opt);
    opt.save_to([&](const void* data, size_t size) -> size_t {
      optimizer_bytes.append(static_cast<const char*>(data), size);
      return size;
    });
    const torch::Tensor bytes = torch::from_blob(optimizer_bytes.data(),
                                                 {static_cast<int64_t>(optimizer_bytes.size())}, torch::kUInt8);
    sums["optimizer"] = tensor_checksum(bytes);
    archive.write("optimizer_archive", bytes, /*is_buffer=*/true);
  }
  if (with_rng) {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    write_tensor("rng_cpu", gen.get_state());
    for (size_t i = 0; torch::cuda::is_available() && i < torch::cuda::device_count(); ++i) {
      auto cuda = cuda_generator(i);
      std::lock_guard<std::mutex> cuda_lock(cuda.mutex());
      write_tensor("rng_cuda_" + std::to_string(i), cuda.get_state());
    }
  }
  meta["checksums"] = {{"algorithm", kChecksumAlgorithm}, {"tensors", std::move(sums)}};
  // A path that is not UTF-8 (a run started from such a folder) is kept with U+FFFD in its place.
  const std::string meta_text = json_text(meta);
  archive.write("meta", c10::IValue(meta_text));
  archive.write("meta_checksum", c10::IValue(checksum_hex(meta_text)));
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
  file.commit(keep_previous);
}

Checkpoint load_checkpoint(const std::string& path, torch::Device device) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw missing_error("checkpoint not found: " + path + "; " + hint());
  }
  Checkpoint ckpt;
  torch::serialize::InputArchive archive;
  check_zip_sizes(path, std::filesystem::file_size(path, ec));
  try {
    archive.load_from(path);
  } catch (const c10::Error& e) {
    throw data_error("cannot read checkpoint " + path + ": not a zoo checkpoint or corrupt (" +
                     std::string(e.what_without_backtrace()).substr(0, 160) + "); " + hint());
  } catch (const std::exception& e) {  // LibTorch's TorchScript loader also throws std::out_of_range
    throw data_error("cannot read checkpoint " + path + ": not a zoo checkpoint or corrupt (" +
                     std::string(e.what()).substr(0, 160) + "); " + hint());
  }
  try {
    c10::IValue meta;
    if (!archive.try_read("meta", meta) || !meta.isString()) {
      throw data_error(path + " is a LibTorch archive but not a zoo checkpoint (no metadata); " + hint());
    }
    // The metadata's checksum first: a damaged byte there is named as such, not as bad JSON.
    c10::IValue meta_sum;
    const bool has_meta_sum = archive.try_read("meta_checksum", meta_sum);
    if (has_meta_sum && (!meta_sum.isString() || meta_sum.toStringRef() != checksum_hex(meta.toStringRef()))) {
      throw damaged(path, "its metadata does not match its checksum");
    }
    try {
      ckpt.meta = nlohmann::json::parse(meta.toStringRef());
    } catch (const nlohmann::json::exception& e) {
      throw data_error("checkpoint " + path + " has corrupt metadata: " + e.what() + "; " + hint());
    }
    // The keys every reader looks at first are strings (or absent), so that their readers'
    // meta.value(key, "") answers rather than throws.
    if (ckpt.meta.is_object()) {
      for (const char* key : {"format", "model", "task"}) {
        const auto it = ckpt.meta.find(key);
        if (it != ckpt.meta.end() && !it->is_string()) {
          throw data_error("checkpoint " + path + " has corrupt metadata: its \"" + key + "\" is not a string; " + hint());
        }
      }
    }
    if (!ckpt.meta.is_object() || ckpt.meta.value("format", "") != kFormatName) {
      throw data_error(path + " is not a zoo checkpoint; " + hint());
    }
    const auto version_json = ckpt.meta.find("format_version");
    const int version =
        version_json != ckpt.meta.end() && version_json->is_number_integer() ? version_json->get<int>() : 0;
    if (version > kCheckpointFormatVersion) {
      throw data_error("checkpoint " + path + " has format version " + std::to_string(version) +
                       ", this zoo reads up to " + std::to_string(kCheckpointFormatVersion) +
                       "; HINT: use a newer zoo");
    }
    const bool checked = version >= 3;
    if (checked && !has_meta_sum) throw damaged(path, "the checksum of its metadata is missing");
    Verifier verifier(path, ckpt.meta, checked);
    c10::IValue dict;
    if (!archive.try_read("model", dict) || !dict.isGenericDict()) {
      throw data_error("checkpoint " + path + " holds no model weights; " + hint());
    }
    ckpt.model = read_tensor_dict(dict, "model", path, verifier);
    if (archive.try_read("task_state", dict)) ckpt.task_state = read_tensor_dict(dict, "task_state", path, verifier);
    torch::Tensor opt_bytes;
    if (checked) {
      if (archive.try_read("optimizer_archive", opt_bytes, /*is_buffer=*/true)) {
        verifier.check("optimizer", opt_bytes);
        if (opt_bytes.scalar_type() != torch::kUInt8 || opt_bytes.dim() != 1) throw damaged(path, "its optimizer state");
        const torch::Tensor bytes = opt_bytes.contiguous();
        torch::serialize::InputArchive opt;
        opt.load_from(static_cast<const char*>(bytes.data_ptr()), static_cast<size_t>(bytes.numel()), device);
        ckpt.optimizer = std::move(opt);
      }
    } else {
      torch::serialize::InputArchive opt;
      if (archive.try_read("optimizer", opt)) {
        if (!device.is_cpu()) {  // optimizer state belongs beside the parameters
          torch::serialize::InputArchive on_device;
          on_device.load_from(path, device);
          on_device.read("optimizer", opt);
        }
        ckpt.optimizer = std::move(opt);
      }
    }
    torch::Tensor rng;
    if (archive.try_read("rng_cpu", rng, /*is_buffer=*/true)) {
      verifier.check("rng_cpu", rng);
      ckpt.rng_cpu = rng;
    }
    for (size_t i = 0;; ++i) {
      torch::Tensor state;
      const std::string key = "rng_cuda_" + std::to_string(i);
      if (!archive.try_read(key, state, /*is_buffer=*/true)) break;
      verifier.check(key, state);
      ckpt.rng_cuda.push_back(state);
    }
    ckpt.checksums = verifier.finish();
  } catch (const c10::Error& e) {
    throw data_error("cannot read checkpoint " + path + ": corrupt (" +
                     std::string(e.what_without_backtrace()).substr(0, 160) + "); " + hint());
  } catch (const nlohmann::json::exception& e) {
    throw data_error("checkpoint " + path + " has corrupt metadata: " + e.what() + "; " + hint());
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {  // the optimizer's nested archive, read the same way
    throw data_error("cannot read checkpoint " + path + ": corrupt (" + std::string(e.what()).substr(0, 160) + "); " +
                     hint());
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
