// The trainer: one loop for every model, fed by a task object that supplies the loss and the
// metrics of one batch (classification now; captioning and language modelling plug in the same
// way). It owns the run directory, checkpoints, the learning-rate schedule, precision, progress
// and the stop-signal protocol.
#pragma once

#include "app/engine/train_config.h"
#include "data/loader.h"

#include <nlohmann/json.hpp>
#include <torch/nn/module.h>

#include <cstdint>
#include <optional>
#include <string>

namespace zoo {

// What batches contribute to the running metrics of an epoch.
struct StepStats {
  double loss_sum = 0.0;  // summed over samples
  int64_t correct = 0;
  int64_t count = 0;
  double last_loss = 0.0;  // the mean loss of the latest batch
};

class Task {
 public:
  virtual ~Task() = default;
  virtual torch::nn::Module& module() = 0;
  // Training-mode forward of one batch (under the run's precision): returns the mean loss to
  // backpropagate and adds the batch's figures to `stats`.
  virtual torch::Tensor training_loss(const Batch& batch, StepStats& stats) = 0;
  // Validation metrics over a loader (at most limit_batches batches when > 0): must contain
  // "loss", "top1" and "top5" (the names --best-metric picks from, without "val_").
  virtual nlohmann::json validate(Loader& loader, int64_t limit_batches) = 0;
};

struct TrainSummary {
  std::string run_dir;
  int64_t epochs_done = 0;
  int64_t steps_done = 0;
  nlohmann::json final_metrics;  // the last validation row; null when nothing was left to do
  double best = 0.0;             // the best value of config.best_metric
  std::string best_metric;
  std::string val_name;
  std::string stop_reason;       // "epochs", "max_steps", "patience"
};

// Trains config.model on config.data from scratch.
TrainSummary train(const TrainConfig& config);
// Continues the run in `run_or_checkpoint` (a run directory or a last.pt) exactly where it
// stopped. `overrides` (TrainConfig keys) may change only epochs, max_steps, patience, workers
// and quiet; anything else would change what is being resumed and is a usage error naming the
// flag.
TrainSummary resume(const std::string& run_or_checkpoint, const nlohmann::json& overrides = {});

}  // namespace zoo
