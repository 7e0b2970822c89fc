// Image classification: any classifier of the registry on any image dataset data/ opens.
// Loss: cross-entropy with --label-smoothing (plus 0.3 x each auxiliary head's, GoogLeNet);
// metrics: loss, top-1 (training and validation) and top-5 (validation); throughput in images.
// Checkpoints carry the class names, the model options and the input spec and normalisation,
// so that eval and predict rebuild the model and its preprocessing from the file alone.
//
// Fine-tuning (--weights): the pretrained weights are loaded non-strictly into a model built
// for the dataset: a head whose class count differs is reset (a zoo checkpoint whose classes
// are the dataset's in another order has its head rows reordered instead), a first conv
// trained on 3 channels used on 1 sums over its input channels (the reverse replicates it,
// divided by 3), and anything else that does not fit is an error. With --cache-features the
// frozen backbone's features are computed once and the head trains on them.
#pragma once

#include "app/engine/evaluate.h"
#include "app/engine/task.h"
#include "data/datasets.h"
#include "data/loader.h"
#include "models/registry.h"

#include <memory>
#include <optional>

namespace zoo {

class Freezer;

class ClassificationTask : public Task {
 public:
  // Opens config.data (the model's default data when empty; filled in), builds config.model
  // for its classes, channels and input size on the context's device, loads config.weights
  // unless resuming, and makes the loaders.
  ClassificationTask(TrainConfig& config, const TaskContext& context);

  // The declaration this task reports under (also what curves of classification runs use).
  static std::vector<MetricSpec> declared_metrics();

  torch::nn::Module& module() override { return *model_; }
  BatchSource& train_data() override;
  std::vector<std::string> head_prefixes() const override { return model_->head_prefixes(); }
  std::string describe() const override;
  nlohmann::json resolved_input() const override;
  std::string validation_name() const override { return data_.val_name; }
  std::vector<MetricSpec> metrics() const override { return declared_metrics(); }
  std::string default_best_metric() const override { return "val_top1"; }
  std::string throughput_unit() const override { return "images"; }
  void begin_epoch(int64_t epoch, int64_t first_batch) override;
  StepOutput train_step(const Batch& batch) override;
  nlohmann::json validate(int64_t limit_batches) override;
  nlohmann::json checkpoint_meta() const override;
  void write_run_files(const RunDir& dir) const override;

 private:
  void load_pretrained(const std::string& path);
  void check_backbone_frozen(const Freezer& freezer) const;
  void build_feature_cache();

  std::string model_name_;
  DataSplits data_;
  SampleSpec spec_;
  ModelOptions model_options_;
  Classifier model_{nullptr};
  LoaderOptions train_options_;
  LoaderOptions val_options_;
  std::unique_ptr<Loader> train_loader_;
  std::unique_ptr<Loader> val_loader_;
  double label_smoothing_ = 0.0;
  EvalSettings eval_;
  // --cache-features: backbone features of every sample, made at the first epoch (after the
  // trainer has loaded a resumed run's weights).
  bool cache_features_ = false;
  std::unique_ptr<BatchSource> train_cache_;
  std::unique_ptr<BatchSource> val_cache_;
};

// How the head rows of a checkpoint trained on `from` classes serve a dataset of `to`
// classes: row i of the new head is row map[i] of the old, when both hold the same names in
// another order (or the same order); nullopt when the names differ.
std::optional<std::vector<int64_t>> class_mapping(const std::vector<std::string>& from,
                                                  const std::vector<std::string>& to);

}  // namespace zoo
