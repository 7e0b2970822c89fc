// Model and machine benchmarks behind `zoo bench` (Caffe's `caffe time`): timed training or
// inference steps of a registered classifier on synthetic input, the achieved GFLOP/s from its
// multiply-adds, and that as a share of the machine's measured peak (measure_peak) at the
// same precision and thread count; optionally per top-level stage, forward and backward.
// Leaves out: data loading (synthetic input only) and sequence models.
#pragma once

#include "app/engine/precision.h"

#include <nlohmann/json_fwd.hpp>
#include <torch/types.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace zoo {

struct BenchOptions {
  std::string model;
  int64_t batch_size = 32;
  std::string mode = "train";      // train: forward + cross-entropy + backward + SGD step; infer
  std::string precision = "fp32";  // fp32 | bf16 | fp16 (CUDA; timed without loss scaling)
  bool channels_last = false;
  std::string device = "cpu";
  int threads = 1;                 // intra-op threads, already resolved (> 0)
  int64_t input_size = 0;          // 0: the model's default
  int64_t num_classes = 0;         // 0: as `zoo list` (1000 for ImageNet models, 10 otherwise)
  int warmup = 3;
  int iters = 10;
  bool per_layer = false;
  bool peak = true;                // measure the peak (measure_peak) for the % of peak figure
};

// One top-level stage (ClassifierImpl::stages()) timed on its own: the median over the timed
// iterations of its forward, and of the backward of its output (train mode only).
struct StageTiming {
  std::string name;
  std::string type;
  double forward_ms = 0.0;
  double backward_ms = 0.0;
};

struct BenchResult {
  BenchOptions options;               // with zeros resolved
  std::array<int64_t, 3> input{};     // C, H, W
  int64_t macs_per_image = 0;         // forward, conv + linear (models/profile.h)
  int64_t step_macs_per_image = 0;    // what a step computes: MacCount::training() or the forward
  std::vector<double> step_seconds;   // each timed iteration
  double median_s = 0.0;
  // Train mode: medians of forward + loss, backward, and SGD step + zero_grad + reading the loss.
  double forward_s = 0.0, backward_s = 0.0, optimizer_s = 0.0;
  double images_per_s = 0.0;
  // 2 FLOPs per multiply-add of step_macs_per_image.
  double gflops = 0.0;
  double peak_gflops = 0.0;           // 0 when not measured
  std::vector<StageTiming> stages;    // with --per-layer
};

// How GFLOP/s are counted (for --help and the JSON report).
extern const char* const kFlopConvention;

// Runs the benchmark. Throws usage_error for a bad mode, precision, device or model.
BenchResult run_model_bench(const BenchOptions& options);

// The machine's ceiling for one precision at the current intra-op thread count: the best
// GFLOP/s of an n x n x n matrix product computed two ways, each the way a model's layers may
// run it: torch::mm (on CPU, the BLAS LibTorch uses: OpenBLAS sgemm for fp32; oneDNN's matmul
// for bf16 where the CPU has it) and a 1x1 convolution of n channels to n over n/64 x 8 x 8
// channels-last inputs (on CPU, oneDNN's convolution, which runs ResNet's layers; cuDNN on CUDA).
struct PeakSize {
  int64_t n = 0;
  double mm_gflops = 0.0;
  double conv_gflops = 0.0;  // 0: not available at this precision
};
struct PeakResult {
  Precision precision = Precision::kFp32;
  double gflops = 0.0;       // best over sizes and ways
  double mm_gflops = 0.0;    // best over sizes
  double conv_gflops = 0.0;  // best over sizes; 0: not available
  std::vector<PeakSize> sizes;
};
// sizes: n, multiples of 64; repeats: timed products per size and way (best counts), after one
// untimed product.
PeakResult measure_peak(Precision precision, const torch::Device& device, const std::vector<int64_t>& sizes,
                        int repeats);

nlohmann::json to_json(const BenchResult& r);
nlohmann::json to_json(const PeakResult& r);
// The human-readable report of a model benchmark (several lines, ending in a newline).
std::string format_report(const BenchResult& r);

}  // namespace zoo
