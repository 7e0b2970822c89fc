// The task contract: what the trainer asks of a task (classification, language modelling,
// captioning). The trainer owns the loop, the optimizer, the schedule, precision, checkpoints,
// the run directory, progress and signals; the task owns the model, the data and what a batch
// means: its loss, its metrics and their declaration, its throughput unit, its checkpoint
// metadata and any state it carries from one batch to the next (an RNN's hidden state), which
// is saved in checkpoints so that a resumed run continues bit for bit. Tasks live in
// app/engine/tasks/, one file each; make_task (tasks/tasks.h) picks one for a model.
#pragma once

#include "app/engine/metrics.h"
#include "app/engine/precision.h"
#include "app/engine/train_config.h"
#include "data/batch.h"
#include "weights/state_dict.h"

#include <nlohmann/json.hpp>
#include <torch/nn/module.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace zoo {

class RunDir;

// Where a task is built for: the run's device and precision, and whether a checkpoint's
// weights and state will be loaded into it (resume) rather than pretrained weights.
struct TaskContext {
  torch::Device device = torch::kCPU;
  Precision precision = Precision::kFp32;
  bool resuming = false;
  // Data parallelism: this process's rank of world_size. Training data is the rank's shard
  // (every rank the same number of batches); validation may be a shard too (see validate).
  int rank = 0;
  int world_size = 1;
};

// One training batch's result.
struct StepOutput {
  torch::Tensor loss;  // the batch's mean loss (per sample, per token, ...), to backpropagate
  Sums sums;           // the batch's figures, weighted; "loss" among them
  int64_t units = 0;   // throughput units processed (images, tokens)
};

// State a task carries across batches: JSON and tensors, saved in checkpoints.
struct TaskState {
  nlohmann::json meta = nlohmann::json::object();
  StateDict tensors;
};

class Task {
 public:
  virtual ~Task() = default;

  // The model the optimizer trains and checkpoints save (already on the device).
  virtual torch::nn::Module& module() = 0;
  // Training batches, in order, one epoch at a time.
  virtual BatchSource& train_data() = 0;
  // Parameter-name prefixes of the model's head ("fc", "classifier.6"): --freeze conv keeps
  // them training and --head-lr applies to them. Empty when the model has no such split.
  virtual std::vector<std::string> head_prefixes() const { return {}; }
  // One line for the run log: the model, the data and its splits.
  virtual std::string describe() const = 0;
  // What the model is fed, as resolved from the data and the options, for the run log and
  // config.json's "resolved": "input" [C, H, W], "mean", "std", "train_pipeline",
  // "eval_pipeline" and "notes" (decisions taken for the user, one line each). Tasks without
  // image input leave it empty.
  virtual nlohmann::json resolved_input() const { return nlohmann::json::object(); }
  // What validation runs on, for people: "val", "test".
  virtual std::string validation_name() const = 0;

  // Every metric the task reports, "loss" among them, in display order.
  virtual std::vector<MetricSpec> metrics() const = 0;
  // The default --best-metric, a "val_<name>" of metrics().
  virtual std::string default_best_metric() const = 0;
  // What throughput counts: "images", "tokens", "chars" (rows get "<unit>_per_s").
  virtual std::string throughput_unit() const = 0;

  // Called before the first batch of an epoch; first_batch > 0 when a resumed run starts
  // inside it (carried state then comes from load_state, not from a reset).
  virtual void begin_epoch(int64_t /*epoch*/, int64_t /*first_batch*/) {}
  // Training-mode forward of one batch under the run's precision.
  virtual StepOutput train_step(const Batch& batch) = 0;
  // Called after the last batch of an epoch (or the last of a run stopped inside one).
  virtual void end_epoch(int64_t /*epoch*/) {}
  // Validation means of every metric by name, plus "skipped" (unreadable samples); at most
  // limit_batches batches when > 0. Leaves training state (carried state, mode) as it was.
  // A task that validates its rank's shard only adds "count" (the samples every mean is
  // over), and the trainer combines the ranks' means by it; without "count", every rank
  // validates the whole split (metrics that are not means of samples, such as BLEU).
  virtual nlohmann::json validate(int64_t limit_batches) = 0;

  // The task's part of a checkpoint's metadata: what eval, predict or sample need to rebuild
  // and feed the model (class names, normalisation, vocabulary, model options).
  virtual nlohmann::json checkpoint_meta() const = 0;
  // Files the task adds to a new run directory (labels.txt, vocab.json).
  virtual void write_run_files(const RunDir& /*dir*/) const {}
  // State carried across batches, and restoring it on resume.
  virtual TaskState state() const { return {}; }
  virtual void load_state(const TaskState& /*state*/) {}
};

// Builds the task of a run. It may fill defaults it owns in `config` (e.g. the model's default
// data) before it builds the model and opens the data; the trainer seeds LibTorch first, so
// initial weights follow --seed.
using TaskFactory = std::function<std::unique_ptr<Task>(TrainConfig& config, const TaskContext& context)>;

// The task factory of `zoo train`: the task that trains config.model of the registry
// (tasks/tasks.cpp). Throws usage_error listing the known models for an unknown name.
std::unique_ptr<Task> make_task(TrainConfig& config, const TaskContext& context);

// Training defaults a model's task sets for the options a user leaves alone, as TrainConfig
// JSON keys (charlm: adam at 2e-3, no weight decay, gradient clipping at 5); empty for the
// classifiers, whose defaults are TrainConfig's own.
nlohmann::json task_train_defaults(const std::string& model);

}  // namespace zoo
