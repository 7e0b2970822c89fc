// The classification task; see classification.h.
#include "app/engine/tasks/classification.h"

#include "app/engine/model_io.h"
#include "app/engine/run_dir.h"

#include <torch/nn/functional/loss.h>

#include <algorithm>

namespace zoo {

namespace {

constexpr double kAuxLossWeight = 0.3;
constexpr int64_t kMinValBatch = 256;  // validation has no gradients: larger batches are cheap

}  // namespace

ClassificationTask::ClassificationTask(TrainConfig& config, torch::Device device, Precision precision)
    : model_name_(config.model),
      label_smoothing_(config.label_smoothing),
      eval_{device, precision, config.channels_last, 0} {
  const ModelInfo& info = find_model(config.model);
  if (config.data.empty()) config.data = info.default_data;
  DataOptions data_options = data_options_for(info, config.input_size);
  data_options.augment = config.augment;
  data_options.val_split = config.val_split;
  data_options.seed = config.seed;
  data_ = open_dataset(config.data, data_options);
  spec_ = data_.train->spec();  // the dataset's native size when --input-size is 0
  model_options_.num_classes = static_cast<int64_t>(data_.class_names.size());
  model_options_.input_size = spec_.height;
  model_options_.in_channels = spec_.channels;
  model_options_.aux_logits = config.aux_logits;
  model_ = build_classifier(config.model, model_options_);
  model_->to(device);
  if (config.channels_last) to_channels_last(*model_);

  LoaderOptions train_opts;
  train_opts.batch_size = config.batch_size;
  train_opts.workers = config.workers;
  train_opts.seed = config.seed;
  train_opts.drop_last = config.drop_last;
  train_loader_ = std::make_unique<Loader>(data_.train, train_opts);
  LoaderOptions val_opts = train_opts;
  val_opts.shuffle = false;
  val_opts.drop_last = false;
  val_opts.batch_size = std::max<int64_t>(config.batch_size, kMinValBatch);
  val_loader_ = std::make_unique<Loader>(data_.val, val_opts);
}

std::vector<MetricSpec> ClassificationTask::declared_metrics() {
  return {{"loss", "loss", Goal::kMin, MetricFormat::kDecimal, true},
          {"top1", "top-1", Goal::kMax, MetricFormat::kPercent, true},
          {"top5", "top-5", Goal::kMax, MetricFormat::kPercent, false}};
}

std::string ClassificationTask::describe() const {
  return model_name_ + " on " + data_.name + " (" + data_.location + ": " +
         std::to_string(data_.train->size()) + " train / " + std::to_string(data_.val->size()) + " " +
         data_.val_name + " samples, " + std::to_string(data_.class_names.size()) + " classes)";
}

StepOutput ClassificationTask::train_step(const Batch& batch) {
  auto input = batch.inputs().to(eval_.device, /*non_blocking=*/true);
  if (eval_.channels_last) input = input.contiguous(at::MemoryFormat::ChannelsLast);
  const auto target = batch.targets().to(eval_.device, /*non_blocking=*/true);
  const auto options = torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(label_smoothing_);
  AutocastGuard autocast(eval_.precision, eval_.device);
  ClassifierOutput out = model_->forward_with_aux(input);
  const torch::Tensor& logits = out.logits;  // N x classes
  auto loss = torch::nn::functional::cross_entropy(logits, target, options);
  // Auxiliary heads (GoogLeNet) weigh 0.3 each, as in the paper and torchvision's recipe.
  for (const auto& aux : out.aux) {
    loss = loss + kAuxLossWeight * torch::nn::functional::cross_entropy(aux, target, options);
  }
  const double n = double(batch.size());
  StepOutput step;
  step.loss = loss;
  step.sums.add("loss", loss.item<double>() * n, n);
  step.sums.add("top1", double(logits.argmax(1).eq(target).sum().item<int64_t>()), n);
  step.units = batch.size();
  return step;
}

nlohmann::json ClassificationTask::validate(int64_t limit_batches) {
  EvalSettings settings = eval_;
  settings.limit_batches = limit_batches;
  EvalResult r = evaluate(*model_, *val_loader_, model_options_.num_classes, settings);
  return {{"loss", r.loss}, {"top1", r.top1}, {"top5", r.top5}, {"skipped", r.skipped}};
}

nlohmann::json ClassificationTask::checkpoint_meta() const {
  nlohmann::json meta = sample_spec_to_json(spec_);
  meta["model_options"] = model_options_to_json(model_options_);
  meta["class_names"] = data_.class_names;
  return meta;
}

void ClassificationTask::write_run_files(const RunDir& dir) const {
  std::string text;
  for (const auto& name : data_.class_names) text += name + "\n";
  dir.write_file("labels.txt", text);
}

}  // namespace zoo
