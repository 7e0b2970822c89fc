// Image classification: any classifier of the registry on any image dataset data/ opens.
// Loss: cross-entropy with --label-smoothing (plus 0.3 x each auxiliary head's, GoogLeNet);
// metrics: loss, top-1 (training and validation) and top-5 (validation); throughput in images.
// Checkpoints carry the class names, the model options and the input spec and normalisation,
// so that eval and predict rebuild the model and its preprocessing from the file alone.
#pragma once

#include "app/engine/evaluate.h"
#include "app/engine/task.h"
#include "data/datasets.h"
#include "data/loader.h"
#include "models/registry.h"

#include <memory>

namespace zoo {

class ClassificationTask : public Task {
 public:
  // Opens config.data (the model's default data when empty; filled in), builds config.model
  // for its classes and input size on `device`, and makes the loaders.
  ClassificationTask(TrainConfig& config, torch::Device device, Precision precision);

  // The declaration this task reports under (also what curves of classification runs use).
  static std::vector<MetricSpec> declared_metrics();

  torch::nn::Module& module() override { return *model_; }
  BatchSource& train_data() override { return *train_loader_; }
  std::string describe() const override;
  std::string validation_name() const override { return data_.val_name; }
  std::vector<MetricSpec> metrics() const override { return declared_metrics(); }
  std::string default_best_metric() const override { return "val_top1"; }
  std::string throughput_unit() const override { return "images"; }
  StepOutput train_step(const Batch& batch) override;
  nlohmann::json validate(int64_t limit_batches) override;
  nlohmann::json checkpoint_meta() const override;
  void write_run_files(const RunDir& dir) const override;

 private:
  std::string model_name_;
  DataSplits data_;
  SampleSpec spec_;
  ModelOptions model_options_;
  Classifier model_{nullptr};
  std::unique_ptr<Loader> train_loader_;
  std::unique_ptr<Loader> val_loader_;
  double label_smoothing_ = 0.0;
  EvalSettings eval_;
};

}  // namespace zoo
