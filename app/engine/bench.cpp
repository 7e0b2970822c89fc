// Model and matmul-peak benchmarks; see bench.h.
#include "app/engine/bench.h"

#include "common/device.h"
#include "common/error.h"
#include "models/profile.h"
#include "models/registry.h"

#include <ATen/ops/mkldnn_convolution.h>
#include <nlohmann/json.hpp>
#include <torch/cuda.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim/sgd.h>
#include <torch/utils.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <optional>

namespace zoo {

const char* const kFlopConvention =
    "2 FLOPs per multiply-add of convolutions and matrix products (as `zoo info`); a training step "
    "counts the forward, the weights' gradients (as many as the forward) and the inputs' gradients "
    "(as many, less the layers fed by the data alone, whose input needs none); element-wise ops, "
    "batch norm and pooling are not counted";

namespace {

// The in-process peak behind "% of peak": large enough to reach the BLAS / oneDNN steady
// state, small enough to cost about a second at fp32 on two cores (both ways of the product,
// measure_peak). `zoo bench --peak` tries
// more sizes; docs/BENCHMARKS.md compares the two.
const std::vector<int64_t> kQuickPeakSizes = {2048};
constexpr int kQuickPeakRepeats = 3;

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

void sync(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

void validate(const BenchOptions& o) {
  if (o.mode != "train" && o.mode != "infer") {
    throw usage_error("--mode must be train or infer, got '" + o.mode + "'");
  }
  if (o.batch_size <= 0) throw usage_error("--batch-size must be positive, got " + std::to_string(o.batch_size));
  if (o.iters <= 0) throw usage_error("--iters must be positive, got " + std::to_string(o.iters));
  if (o.warmup < 0) throw usage_error("--warmup must be 0 or more, got " + std::to_string(o.warmup));
  if (o.threads <= 0) throw internal_error("bench threads must be resolved before run_model_bench");
  if (o.input_size < 0) throw usage_error("--input-size must be 0 (the model's) or positive");
  if (o.num_classes < 0) throw usage_error("--num-classes must be 0 (the model's) or positive");
}

std::string fixed2(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

at::ScalarType peak_dtype(Precision p) {
  return p == Precision::kBf16 ? at::kBFloat16 : p == Precision::kFp16 ? at::kHalf : at::kFloat;
}

// The best GFLOP/s of `fn` (which computes `flops`) over `repeats` timed calls after one untimed.
double best_gflops(const std::function<void()>& fn, double flops, int repeats, const torch::Device& device) {
  fn();  // first touch, kernel selection, weight reorders
  sync(device);
  double best = 0.0;
  for (int r = 0; r < std::max(1, repeats); ++r) {
    const auto start = Clock::now();
    fn();
    sync(device);
    best = std::max(best, flops / seconds_since(start) / 1e9);
  }
  return best;
}

}  // namespace

PeakResult measure_peak(Precision precision, const torch::Device& device, const std::vector<int64_t>& sizes,
                        int repeats) {
  torch::NoGradGuard no_grad;
  PeakResult result;
  result.precision = precision;
  const auto options = torch::TensorOptions().dtype(peak_dtype(precision)).device(device);
  for (int64_t n : sizes) {
    if (n < 64 || n % 64 != 0) throw internal_error("peak sizes must be multiples of 64");
    const double flops = 2.0 * double(n) * double(n) * double(n);
    PeakSize size{n};
    {
      const auto a = torch::randn({n, n}, options), b = torch::randn({n, n}, options);
      auto c = torch::mm(a, b);
      size.mm_gflops = best_gflops([&] { torch::mm_out(c, a, b); }, flops, repeats, device);
    }
    const auto cl = at::MemoryFormat::ChannelsLast;
    const auto x = torch::randn({n / 64, n, 8, 8}, options).contiguous(cl);
    const auto w = torch::randn({n, n, 1, 1}, options).contiguous(cl);
    try {
      size.conv_gflops = best_gflops(
          [&] {
            if (device.is_cpu()) {
              at::mkldnn_convolution(x, w, c10::nullopt, {0, 0}, {1, 1}, {1, 1}, 1);
            } else {
              at::conv2d(x, w);
            }
          },
          flops, repeats, device);
    } catch (const c10::Error&) {
      size.conv_gflops = 0.0;  // this precision has no such kernel here (oneDNN bf16 needs AVX-512)
    }
    result.mm_gflops = std::max(result.mm_gflops, size.mm_gflops);
    result.conv_gflops = std::max(result.conv_gflops, size.conv_gflops);
    result.sizes.push_back(size);
  }
  result.gflops = std::max(result.mm_gflops, result.conv_gflops);
  return result;
}

BenchResult run_model_bench(const BenchOptions& options) {
  validate(options);
  const ModelInfo& info = find_classifier(options.model, "zoo bench");
  const torch::Device device = parse_device(options.device);
  const Precision precision = parse_precision(options.precision, device);
  const bool train = options.mode == "train";

  BenchResult r;
  r.options = options;
  const int64_t default_classes = default_num_classes(info);
  if (r.options.num_classes == 0) r.options.num_classes = default_classes;
  if (r.options.input_size == 0) r.options.input_size = info.input_shape[1];
  r.input = {info.input_shape[0], r.options.input_size, r.options.input_size};

  torch::manual_seed(0);
  ModelOptions mo;
  mo.num_classes = r.options.num_classes;
  mo.input_size = r.options.input_size;
  Classifier model = build_classifier(info.name, mo);
  // The registry's figure holds at the default input and class count; anything else is counted.
  const bool registry_macs =
      r.options.input_size == info.input_shape[1] && r.options.num_classes == default_classes;
  try {
    // Training counts once, with gradients on (its total() is the forward's count as well).
    const MacCount counted = train ? count_training_macs(*model, r.input)
                                   : registry_macs ? MacCount{} : count_macs(*model, r.input);
    r.macs_per_image = registry_macs ? info.macs : counted.total();
    r.step_macs_per_image = train ? counted.training() : r.macs_per_image;
  } catch (const c10::Error& e) {
    throw usage_error(info.name + " cannot run on a " + std::to_string(r.options.input_size) + "x" +
                      std::to_string(r.options.input_size) + " input: " + e.what_without_backtrace() +
                      "; HINT: use a larger --input-size");
  }
  model->to(device);
  if (options.channels_last) to_channels_last(*model);
  if (train) {
    model->train();
  } else {
    model->eval();
  }

  const auto x_options = torch::TensorOptions().device(device);
  torch::Tensor x = torch::randn({options.batch_size, r.input[0], r.input[1], r.input[2]}, x_options);
  if (options.channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
  const torch::Tensor y = torch::randint(0, r.options.num_classes, {options.batch_size}, x_options.dtype(torch::kLong));
  // The same optimizer settings as scripts/bench/resnet50_torch.py.
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9).weight_decay(1e-4));

  // Where a training step's time goes: forward + loss, backward, zero_grad + SGD step.
  std::vector<double> phase[3];
  const auto step = [&] {
    if (train) {
      const auto t0 = Clock::now();
      torch::Tensor loss;
      {
        AutocastGuard autocast(precision, device);
        loss = torch::nn::functional::cross_entropy(model->forward(x), y);
      }
      sync(device);
      const auto t1 = Clock::now();
      loss.backward();
      sync(device);
      const auto t2 = Clock::now();
      sgd.step();
      sgd.zero_grad();
      loss.item<float>();  // a training loop reads its loss (progress, NaN check)
      phase[0].push_back(std::chrono::duration<double>(t1 - t0).count());
      phase[1].push_back(std::chrono::duration<double>(t2 - t1).count());
      phase[2].push_back(seconds_since(t2));
    } else {
      torch::NoGradGuard no_grad;
      AutocastGuard autocast(precision, device);
      model->forward(x);
    }
    sync(device);
  };
  for (int i = 0; i < options.warmup; ++i) step();
  for (auto& p : phase) p.clear();
  for (int i = 0; i < options.iters; ++i) {
    const auto start = Clock::now();
    step();
    r.step_seconds.push_back(seconds_since(start));
  }
  r.median_s = median(r.step_seconds);
  if (train) {
    r.forward_s = median(phase[0]);
    r.backward_s = median(phase[1]);
    r.optimizer_s = median(phase[2]);
  }
  r.images_per_s = double(options.batch_size) / r.median_s;
  r.gflops = 2.0 * double(r.step_macs_per_image) * r.images_per_s / 1e9;

  if (options.per_layer) {
    const std::vector<Stage> stages = model->stages();
    std::vector<std::vector<double>> fwd(stages.size()), bwd(stages.size());
    std::optional<torch::NoGradGuard> no_grad;
    if (!train) no_grad.emplace();
    for (int it = 0; it < 1 + options.iters; ++it) {  // one untimed pass first
      sgd.zero_grad();
      torch::Tensor h = x;
      for (size_t i = 0; i < stages.size(); ++i) {
        // Each stage starts from a leaf, so its backward stops at its own input; the first
        // stage's input needs no gradient, as in training. The stage gets a copy of the leaf:
        // in-place layers (ReLU(inplace)) may not write to a leaf that requires grad.
        const torch::Tensor in = train && i > 0 ? h.detach().requires_grad_(true).clone() : h;
        auto start = Clock::now();
        torch::Tensor out;
        {
          AutocastGuard autocast(precision, device);
          out = stages[i].run(in);
        }
        sync(device);
        const double f = seconds_since(start);
        double b = 0.0;
        if (train && out.requires_grad()) {
          const torch::Tensor grad = torch::ones_like(out);
          start = Clock::now();
          out.backward(grad);
          sync(device);
          b = seconds_since(start);
        }
        if (it > 0) {
          fwd[i].push_back(f);
          bwd[i].push_back(b);
        }
        h = out.detach();
      }
    }
    for (size_t i = 0; i < stages.size(); ++i) {
      StageTiming t;
      t.name = stages[i].name;
      t.type = !stages[i].type.empty() ? stages[i].type
               : stages[i].module      ? module_type(*stages[i].module)
                                       : "?";
      t.forward_ms = 1e3 * median(fwd[i]);
      t.backward_ms = 1e3 * median(bwd[i]);
      r.stages.push_back(std::move(t));
    }
  }

  if (options.peak) {
    r.peak_gflops = measure_peak(precision, device, kQuickPeakSizes, kQuickPeakRepeats).gflops;
  }
  return r;
}

nlohmann::json to_json(const BenchResult& r) {
  const BenchOptions& o = r.options;
  nlohmann::json j = {
      {"model", o.model},
      {"mode", o.mode},
      {"precision", o.precision},
      {"channels_last", o.channels_last},
      {"device", o.device},
      {"threads", o.threads},
      {"batch_size", o.batch_size},
      {"input", {r.input[0], r.input[1], r.input[2]}},
      {"num_classes", o.num_classes},
      {"warmup", o.warmup},
      {"iters", o.iters},
      {"macs_per_image", r.macs_per_image},
      {"step_macs_per_image", r.step_macs_per_image},
      {"step_seconds", r.step_seconds},
      {"median_s", r.median_s},
      {"images_per_s", r.images_per_s},
      {"forward_s", r.forward_s},
      {"backward_s", r.backward_s},
      {"optimizer_s", r.optimizer_s},
      {"gflops", r.gflops},
      {"flop_convention", kFlopConvention},
      {"peak_gflops", r.peak_gflops > 0 ? nlohmann::json(r.peak_gflops) : nlohmann::json(nullptr)},
      {"peak_fraction", r.peak_gflops > 0 ? nlohmann::json(r.gflops / r.peak_gflops) : nlohmann::json(nullptr)},
  };
  if (!r.stages.empty()) {
    nlohmann::json stages = nlohmann::json::array();
    double total = 0.0;
    for (const auto& s : r.stages) total += s.forward_ms + s.backward_ms;
    for (const auto& s : r.stages) {
      stages.push_back({{"name", s.name}, {"type", s.type}, {"forward_ms", s.forward_ms},
                        {"backward_ms", s.backward_ms},
                        {"share", total > 0 ? (s.forward_ms + s.backward_ms) / total : 0.0}});
    }
    j["stages"] = stages;
  }
  return j;
}

nlohmann::json to_json(const PeakResult& r) {
  nlohmann::json sizes = nlohmann::json::array();
  const auto or_null = [](double v) { return v > 0 ? nlohmann::json(v) : nlohmann::json(nullptr); };
  for (const auto& s : r.sizes) {
    sizes.push_back({{"n", s.n}, {"mm_gflops", s.mm_gflops}, {"conv1x1_gflops", or_null(s.conv_gflops)}});
  }
  return {{"precision", precision_name(r.precision)}, {"gflops", r.gflops}, {"mm_gflops", r.mm_gflops},
          {"conv1x1_gflops", or_null(r.conv_gflops)}, {"sizes", sizes}};
}

std::string format_report(const BenchResult& r) {
  const BenchOptions& o = r.options;
  const bool train = o.mode == "train";
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line,
                "%s %s, %s%s, batch %lld, input %lldx%lldx%lld, %lld classes, %s, %d thread%s: "
                "%d timed iterations after %d warm-up\n",
                o.model.c_str(), train ? "training step (forward + loss + backward + SGD)" : "inference",
                o.precision.c_str(), o.channels_last ? " channels-last" : "", (long long)o.batch_size,
                (long long)r.input[0], (long long)r.input[1], (long long)r.input[2],
                (long long)o.num_classes, o.device.c_str(), o.threads, o.threads == 1 ? "" : "s",
                o.iters, o.warmup);
  out += line;
  const auto [lo, hi] = std::minmax_element(r.step_seconds.begin(), r.step_seconds.end());
  std::snprintf(line, sizeof line, "  %.2f ms per step (median; min %.2f, max %.2f): %.1f images/s\n",
                1e3 * r.median_s, 1e3 * *lo, 1e3 * *hi, r.images_per_s);
  out += line;
  if (train) {
    std::snprintf(line, sizeof line,
                  "  medians: forward + loss %.2f ms, backward %.2f ms, SGD step + zero_grad %.2f ms\n",
                  1e3 * r.forward_s, 1e3 * r.backward_s, 1e3 * r.optimizer_s);
    out += line;
  }
  const bool giga = r.step_macs_per_image >= 10'000'000;
  std::snprintf(line, sizeof line, "  %.3f %s per image%s x 2 FLOPs: %.1f GFLOP/s",
                r.step_macs_per_image / (giga ? 1e9 : 1e6), giga ? "GMACs" : "MMACs",
                train ? " (forward, weight and input gradients)" : "", r.gflops);
  out += line;
  if (r.peak_gflops > 0) {
    std::snprintf(line, sizeof line, ", %.0f%% of the %s peak (%.1f GFLOP/s, same threads)",
                  100.0 * r.gflops / r.peak_gflops, o.precision.c_str(), r.peak_gflops);
    out += line;
  }
  out += "\n";
  if (!r.stages.empty()) {
    double fwd = 0.0, bwd = 0.0;
    for (const auto& s : r.stages) fwd += s.forward_ms, bwd += s.backward_ms;
    const double total = fwd + bwd;
    std::snprintf(line, sizeof line, "\n%-24s %-18s %12s %12s %12s %7s\n", "stage", "type", "forward ms",
                  train ? "backward ms" : "", "total ms", "share");
    out += line;
    for (const auto& s : r.stages) {
      const double t = s.forward_ms + s.backward_ms;
      std::snprintf(line, sizeof line, "%-24s %-18s %12.2f %12s %12.2f %6.1f%%\n", s.name.c_str(),
                    s.type.c_str(), s.forward_ms,
                    train ? fixed2(s.backward_ms).c_str() : "",
                    t, total > 0 ? 100.0 * t / total : 0.0);
      out += line;
    }
    std::snprintf(line, sizeof line, "%-24s %-18s %12.2f %12s %12.2f %6.1f%%\n", "sum of stages", "", fwd,
                  train ? fixed2(bwd).c_str() : "",
                  total, 100.0);
    out += line;
    const double rest = 1e3 * r.median_s - total;
    std::snprintf(line, sizeof line, "whole step %.2f ms (median); %s\n", 1e3 * r.median_s,
                  rest >= 0 ? ("the rest (" + std::string(train ? "loss, optimizer step, autograd "
                               "outside the stages" : "overhead") + ") " + fixed2(rest) + " ms").c_str()
                            : "the stages timed one by one sum to more (synchronisation and timing "
                              "noise per stage)");
    out += line;
    out += train ? "Stages run one at a time from a detached input; backward with a gradient of ones.\n"
                 : "Stages run one at a time.\n";
  }
  return out;
}

}  // namespace zoo
