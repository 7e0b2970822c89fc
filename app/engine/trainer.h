// The trainer: one loop for every model, fed by a task object that supplies the loss and the
// metrics of one batch (classification now; captioning and language modelling plug in the same
// way). It owns the run directory, checkpoints, progress and the stop-signal protocol.
#pragma once

#include "data/loader.h"

#include <nlohmann/json.hpp>
#include <torch/nn/module.h>

#include <cstdint>
#include <optional>
#include <string>

namespace zoo {

// Every option of `zoo train`, with its default. Serialised whole to config.json and into
// each checkpoint, so a run can be resumed and reproduced.
struct TrainConfig {
  std::string model = "lenet5";
  std::string data;            // empty: the model's default dataset
  int64_t epochs = 10;
  int64_t batch_size = 64;
  double lr = 0.02;
  double momentum = 0.9;
  double weight_decay = 5e-4;
  std::string schedule = "cosine";  // constant | cosine (per step, from lr down to 0)
  uint64_t seed = 42;
  int threads = 1;             // LibTorch intra-op threads; 0: one per available core (measured)
  int workers = 2;             // loader threads (measured: docs/BENCHMARKS.md)
  int64_t input_size = 0;      // 0: the dataset's native size (CIFAR 32, shapes 64) if smaller, else the model's
  std::string augment = "standard";  // none | standard | strong (training split only)
  double val_split = 0.1;      // held-out fraction when an ImageFolder has no val/ or test/
  bool drop_last = false;      // drop the last incomplete training batch
  bool aux_logits = false;     // build auxiliary heads (GoogLeNet) and train them too
  std::string name;            // run directory name; empty: <model>-N
  std::string runs_dir = "runs";
  bool quiet = false;
};

nlohmann::json to_json(const TrainConfig& c);
TrainConfig train_config_from_json(const nlohmann::json& j);
// The number of cores this process may run on (sched_getaffinity), at least 1.
int available_cores();

// Throws usage_error naming the flag when a value is out of range.
void validate(const TrainConfig& c);

// The learning rate of optimizer step `step` (0-based) of `total_steps` under c.schedule.
double scheduled_lr(const TrainConfig& c, int64_t step, int64_t total_steps);

// What one batch contributes to the running metrics of an epoch.
struct StepStats {
  double loss_sum = 0.0;  // summed over samples
  int64_t correct = 0;
  int64_t count = 0;
};

class Task {
 public:
  virtual ~Task() = default;
  virtual torch::nn::Module& module() = 0;
  // Training-mode forward of one batch: returns the mean loss to backpropagate and adds the
  // batch's figures to `stats`.
  virtual torch::Tensor training_loss(const Batch& batch, StepStats& stats) = 0;
  // Validation metrics over a loader: must contain "loss" and the metric named by best_metric().
  virtual nlohmann::json validate(Loader& loader) = 0;
  virtual std::string best_metric() const = 0;  // higher is better
};

struct TrainSummary {
  std::string run_dir;
  int64_t epochs_done = 0;
  nlohmann::json final_metrics;  // the last validation
  double best = 0.0;
  std::string val_name;
};

// Trains config.model on config.data from scratch.
TrainSummary train(const TrainConfig& config);
// Continues the run in `run_or_checkpoint` (a run directory or a last.pt) exactly where it
// stopped; epochs > 0 extends or shortens the planned epoch count.
TrainSummary resume(const std::string& run_or_checkpoint, std::optional<int64_t> epochs);

}  // namespace zoo
