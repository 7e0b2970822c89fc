// zoo bench MODEL [flags]: timed training or inference steps on synthetic input (Caffe's
// `caffe time`): images/s, achieved GFLOP/s and the share of the peak; --per-layer
// times each top-level stage. zoo bench --peak: the fp32 and bf16 peak of this machine (torch::mm and a oneDNN 1x1 convolution).
// zoo bench [MODEL] --data D: the loader's throughput for MODEL's training pipeline. The work
// is in app/engine/bench.h and app/commands/bench_data.h.
#include "app/commands/bench_data.h"
#include "app/commands/commands.h"
#include "app/engine/bench.h"
#include "app/engine/trainer.h"
#include "common/device.h"
#include "common/error.h"

#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <memory>

namespace zoo {

namespace {

struct BenchCommandOptions {
  BenchOptions bench;
  int threads = 0;      // 0: resolve_threads
  bool peak = false;    // measure the peak instead of a model
  bool no_peak = false; // skip the in-process peak (no "% of peak")
  bool json = false;
  BenchDataOptions data;  // loader throughput when data.data is set
};

// The sizes and repeats of `zoo bench --peak`: more than the quick in-process measurement.
const std::vector<int64_t> kPeakSizes = {1024, 2048, 4096};
constexpr int kPeakRepeats = 3;

void run_peak(const BenchCommandOptions& opts, int threads) {
  const torch::Device device = parse_device(opts.bench.device);
  std::vector<Precision> precisions = {Precision::kFp32, Precision::kBf16};
  if (device.is_cuda()) precisions.push_back(Precision::kFp16);
  nlohmann::json out = {{"device", opts.bench.device}, {"threads", threads}, {"peaks", nlohmann::json::array()}};
  if (!opts.json) {
    std::printf("peak on %s, %d thread%s: the best of n x n x n products as torch::mm and as a 1x1 "
                "convolution (%s), best of %d per size\n",
                opts.bench.device.c_str(), threads, threads == 1 ? "" : "s", device.is_cpu() ? "oneDNN" : "cuDNN",
                kPeakRepeats);
  }
  for (Precision p : precisions) {
    const PeakResult peak = measure_peak(p, device, kPeakSizes, kPeakRepeats);
    out["peaks"].push_back(to_json(peak));
    if (opts.json) continue;
    std::printf("%-5s %8.1f GFLOP/s  (mm", precision_name(p), peak.gflops);
    for (const auto& s : peak.sizes) std::printf(" %lld: %.1f", (long long)s.n, s.mm_gflops);
    std::printf("; 1x1 conv");
    if (peak.conv_gflops <= 0) std::printf(" not available");
    for (const auto& s : peak.sizes) {
      if (s.conv_gflops > 0) std::printf(" %lld: %.1f", (long long)s.n, s.conv_gflops);
    }
    std::printf(")\n");
  }
  if (opts.json) std::printf("%s\n", out.dump(2).c_str());
}

void run_bench(BenchCommandOptions opts) {
  const int threads = resolve_threads(opts.threads);
  at::set_num_threads(threads);
  if (opts.peak) {
    run_peak(opts, threads);
    return;
  }
  if (!opts.data.data.empty()) {  // the loader alone, with MODEL's input pipeline
    if (!opts.bench.model.empty()) opts.data.model = opts.bench.model;
    opts.data.input_size = opts.bench.input_size;
    opts.data.batch_size = opts.bench.batch_size;
    opts.data.json = opts.json;
    run_bench_data(opts.data);
    return;
  }
  if (opts.bench.model.empty()) {
    throw usage_error("zoo bench needs a MODEL (or --peak, or --data); HINT: zoo bench resnet50 "
                      "--batch-size 16");
  }
  opts.bench.threads = threads;
  opts.bench.peak = !opts.no_peak;
  const BenchResult r = run_model_bench(opts.bench);
  if (opts.json) {
    std::printf("%s\n", to_json(r).dump(2).c_str());
  } else {
    std::fputs(format_report(r).c_str(), stdout);
  }
}

}  // namespace

void register_bench(CLI::App& app) {
  auto opts = std::make_shared<BenchCommandOptions>();
  BenchOptions& b = opts->bench;
  CLI::App* cmd = app.add_subcommand(
      "bench", "Time training or inference steps of a model on synthetic input; --peak: the machine's peak");
  cmd->add_option("model", b.model,
                  "Model name (see `zoo list`); not needed with --peak; with --data, whose input "
                  "pipeline (size, normalization) to time (default resnet50)");
  cmd->add_option("--batch-size", b.batch_size, "Images per step")->capture_default_str();
  cmd->add_option("--mode", b.mode,
                  "train: forward + cross-entropy + backward + SGD (momentum) step; infer: forward "
                  "without gradients")
      ->capture_default_str();
  cmd->add_option("--precision", b.precision, "fp32, bf16 (autocast) or fp16 (autocast, CUDA only)")
      ->capture_default_str();
  cmd->add_flag("--channels-last", b.channels_last, "Channels-last weights and input");
  cmd->add_option("--device", b.device, "cpu, cuda or cuda:N (CUDA builds)")->capture_default_str();
  add_threads_option(cmd, opts->threads)
      ->capture_default_str();
  cmd->add_option("--input-size", b.input_size, "Input height and width; 0: the model's default")
      ->capture_default_str();
  cmd->add_option("--num-classes", b.num_classes,
                  "Classes of the head; 0: as `zoo list` (1000 for ImageNet models, 10 otherwise)")
      ->capture_default_str();
  cmd->add_option("--warmup", b.warmup, "Untimed steps first")->capture_default_str();
  cmd->add_option("--iters", b.iters, "Timed steps (the median counts)")->capture_default_str();
  cmd->add_flag("--per-layer", b.per_layer,
                "Also time each top-level stage (as in `zoo info`), forward and backward");
  cmd->add_flag("--peak", opts->peak,
                "Measure the fp32 and bf16 peak (GFLOP/s; torch::mm and oneDNN 1x1 convolution) at --threads instead of a model");
  cmd->add_flag("--no-peak", opts->no_peak, "Skip the in-process peak (no % of peak)");
  cmd->add_flag("--json", opts->json, "Print machine-readable JSON on stdout");
  BenchDataOptions& d = opts->data;
  auto* data = cmd->add_option("--data", d.data,
                               "Time the data loader alone on this dataset (name or path): "
                               "images/s of MODEL's training pipeline, no model attached");
  cmd->add_option("--augment", d.augment, "--data: training augmentation (none, standard, strong)")
      ->check(CLI::IsMember({"none", "standard", "strong"}))
      ->capture_default_str()
      ->needs(data);
  cmd->add_option("--workers", d.workers, "--data: loader threads (0: the calling thread)")
      ->check(kNonNegativeNumber)
      ->capture_default_str()
      ->needs(data);
  cmd->add_option("--batches", d.batches, "--data: batches per epoch to time; 0: whole epochs")
      ->check(kNonNegativeNumber)
      ->capture_default_str()
      ->needs(data);
  cmd->add_option("--epochs", d.epochs, "--data: epochs to time")
      ->check(kPositiveNumber)
      ->capture_default_str()
      ->needs(data);
  cmd->add_option("--seed", d.seed, "--data: seed of shuffling and augmentation")
      ->capture_default_str()
      ->needs(data);
  cmd->footer(std::string("GFLOP/s: ") + kFlopConvention +
              ". % of peak: against the best of torch::mm and a oneDNN 1x1 convolution (n x n x n, "
              "n = 2048) at the same precision and threads, measured in the same process; "
              "--peak tries n = 1024, 2048 and 4096.");
  cmd->callback([opts] { run_bench(*opts); });
}

}  // namespace zoo
