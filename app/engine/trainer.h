// The trainer: one loop for every task. A task (task.h) supplies the model, the batches, the
// loss and the metrics of a batch; the trainer owns the run directory, checkpoints, the
// optimizer and learning-rate schedule, precision, progress and the stop-signal protocol, and
// builds every row, column, curve and summary from the task's declarations.
#pragma once

#include "app/engine/task.h"
#include "app/engine/train_config.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace zoo {

struct TrainSummary {
  std::string run_dir;
  int64_t epochs_done = 0;
  int64_t steps_done = 0;
  nlohmann::json final_metrics;  // the last epoch row; null when nothing was left to do
  double best = 0.0;             // the best value of best_metric
  std::string best_metric;       // "val_top1", "val_loss", ...
  std::string val_name;          // "test", "val"
  std::vector<MetricSpec> metrics;  // the task's declaration
  std::string stop_reason;       // "epochs", "max_steps", "patience"
  int rank = 0;                  // data parallel: this process's rank (rank 0 reports)
};

// Trains the task `factory` builds for `config` from scratch. Under torchrun (WORLD_SIZE > 1 in
// the environment) every rank calls this: they join one process group (distributed.h), train
// on disjoint shards with averaged gradients, and rank 0 alone writes the run directory.
TrainSummary train(const TrainConfig& config, const TaskFactory& factory = make_task);
// Continues the run in `run_or_checkpoint` (a run directory or a last.pt) exactly where it
// stopped, with the task `factory` builds from the run's config. `overrides` (TrainConfig
// keys) may change only epochs, max_steps, patience, workers and quiet; anything else would
// change what is being resumed and is a usage error naming the flag.
TrainSummary resume(const std::string& run_or_checkpoint, const nlohmann::json& overrides = {},
                    const TaskFactory& factory = make_task);

}  // namespace zoo
