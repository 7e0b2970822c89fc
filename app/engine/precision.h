// Numeric precision and memory layout of a training or benchmark step: fp32, bf16 autocast
// (CPU and CUDA) or fp16 autocast (CUDA, with loss scaling done by the caller), and the
// channels-last layout for 4-D weights and inputs. Leaves out: fp16 on CPU (LibTorch's CPU
// autocast only lowers to bf16) and pure-bf16 weights (autocast keeps fp32 masters).
#pragma once

#include <nlohmann/json.hpp>
#include <torch/nn/module.h>
#include <torch/types.h>

#include <string>
#include <vector>

namespace zoo {

enum class Precision { kFp32, kBf16, kFp16 };

// "fp32" | "bf16" | "fp16"; throws usage_error listing the choices otherwise, and for fp16 on a
// CPU device (no CPU fp16 autocast).
Precision parse_precision(const std::string& name, const torch::Device& device);
const char* precision_name(Precision p);


// Turns autocast on for the device's type while alive (no-op for fp32); nests safely.
class AutocastGuard {
 public:
  AutocastGuard(Precision precision, const torch::Device& device);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool active_ = false;
  bool cuda_ = false;
  bool was_enabled_ = false;
  at::ScalarType was_dtype_ = at::kFloat;
};

// Dynamic loss scaling for fp16 training (what PyTorch's GradScaler does): the loss is
// multiplied by the scale before backward; unscale() divides the gradients back and says
// whether they are all finite. A step with an overflow is skipped and the scale halved; after
// 2000 good steps in a row it doubles. Disabled (scale 1, never skips) unless fp16.
class LossScaler {
 public:
  explicit LossScaler(bool enabled) : enabled_(enabled), scale_(enabled ? 65536.0 : 1.0) {}
  bool enabled() const { return enabled_; }
  double scale() const { return scale_; }
  // Divides every gradient by the scale; false when any gradient holds an Inf or a NaN.
  bool unscale(const std::vector<torch::Tensor>& params) const;
  // After a step: `finite` is what unscale() returned.
  void update(bool finite);
  nlohmann::json state() const;
  void load_state(const nlohmann::json& j);

 private:
  bool enabled_;
  double scale_;
  int64_t good_steps_ = 0;
};

// Converts the module's 4-D parameters and buffers to channels-last in place.
void to_channels_last(torch::nn::Module& module);

}  // namespace zoo
