// The classification task; see classification.h.
#include "app/engine/tasks/classification.h"

#include "app/engine/checkpoint.h"
#include "app/engine/freeze.h"
#include "app/engine/model_io.h"
#include "app/engine/run_dir.h"
#include "common/error.h"
#include "common/text.h"
#include "weights/hub.h"
#include "weights/weights_io.h"

#include <spdlog/spdlog.h>
#include <torch/nn/functional/loss.h>

#include <algorithm>
#include <chrono>
#include <map>

namespace zoo {

namespace {

constexpr double kAuxLossWeight = 0.3;
constexpr int64_t kMinValBatch = 256;  // validation has no gradients: larger batches are cheap

std::string shape(const torch::Tensor& t) {
  std::string out = "[";
  for (int64_t i = 0; i < t.dim(); ++i) out += (i ? ", " : "") + std::to_string(t.size(i));
  return out + "]";
}

// Batches of cached backbone features in the order a Loader with the same options would
// give them; samples that could not be read when the cache was made are skipped again.
class FeatureSource : public BatchSource {
 public:
  FeatureSource(torch::Tensor features, torch::Tensor labels, std::vector<int64_t> row_of,
                LoaderOptions options)
      : features_(std::move(features)), labels_(std::move(labels)), row_of_(std::move(row_of)),
        options_(options) {}
  int64_t batches_per_epoch() const override {
    return batch_count(shard_size(row_of_.size(), options_), options_.batch_size, options_.drop_last);
  }
  int64_t samples() const override { return static_cast<int64_t>(row_of_.size()); }
  void start_epoch(int64_t epoch, int64_t first_batch) override {
    order_ = shard_order(epoch_order(row_of_.size(), options_.seed, epoch, options_.shuffle), options_);
    next_ = std::min(first_batch, batches_per_epoch());
    skipped_ = 0;
  }
  std::optional<Batch> next() override {
    if (next_ >= batches_per_epoch()) return std::nullopt;
    const int64_t begin = next_ * options_.batch_size;
    const int64_t end = std::min<int64_t>(begin + options_.batch_size, order_.size());
    std::vector<int64_t> rows;
    for (int64_t i = begin; i < end; ++i) {
      const int64_t row = row_of_[order_[i]];
      if (row >= 0) rows.push_back(row); else ++skipped_;
    }
    const auto index = torch::tensor(rows, torch::kInt64);
    Batch batch(next_++);
    batch.set(kInputs, features_.index_select(0, index));
    batch.set(kTargets, labels_.index_select(0, index));
    return batch;
  }
  int64_t skipped() const override { return skipped_; }

 private:
  torch::Tensor features_;
  torch::Tensor labels_;
  std::vector<int64_t> row_of_;  // sample index -> row of features_, -1 when unreadable
  LoaderOptions options_;
  std::vector<size_t> order_;
  int64_t next_ = 0;
  int64_t skipped_ = 0;
};

// The backbone features of every sample of `dataset`, in index order, as a FeatureSource.
std::unique_ptr<BatchSource> cache_features(ClassifierImpl& model, std::shared_ptr<const Dataset> dataset,
                                            const LoaderOptions& source_options, const EvalSettings& eval) {
  LoaderOptions o = source_options;
  o.shuffle = false;
  o.rank = 0;  // every sample's features, whatever shard trains on them
  o.world = 1;
  o.drop_last = false;
  o.batch_size = std::max<int64_t>(o.batch_size, kMinValBatch);
  Loader loader(dataset, o);
  std::vector<torch::Tensor> features, labels;
  std::vector<int64_t> row_of(dataset->size(), -1);
  int64_t rows = 0;
  auto add = [&](const Batch& b, const std::vector<size_t>& indices) {
    auto x = b.inputs().to(eval.device);
    if (eval.channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
    AutocastGuard autocast(eval.precision, eval.device);
    features.push_back(model.features(x).to(torch::kCPU, torch::kFloat));
    labels.push_back(b.targets());
    for (size_t i : indices) row_of[i] = rows++;
  };
  loader.start_epoch(0);
  while (auto batch = loader.next()) {
    const auto begin = static_cast<size_t>(batch->index() * o.batch_size);
    const size_t end = std::min(begin + static_cast<size_t>(o.batch_size), dataset->size());
    if (batch->size() == static_cast<int64_t>(end - begin)) {
      std::vector<size_t> indices(end - begin);
      for (size_t i = begin; i < end; ++i) indices[i - begin] = i;
      if (!indices.empty()) add(*batch, indices);
      continue;
    }
    for (size_t i = begin; i < end; ++i) {  // a sample was unreadable: find which, one by one
      int64_t skipped = 0;
      const Batch one = dataset->collate({i}, {sample_seed(o.seed, 0, i)}, 0, &skipped);
      if (one.size() == 1) add(one, {i});
    }
  }
  if (features.empty()) throw data_error("no readable sample to cache features of; HINT: check the dataset's files");
  return std::make_unique<FeatureSource>(torch::cat(features), torch::cat(labels), std::move(row_of), source_options);
}

}  // namespace

std::optional<std::vector<int64_t>> class_mapping(const std::vector<std::string>& from,
                                                  const std::vector<std::string>& to) {
  if (from.size() != to.size()) return std::nullopt;
  std::map<std::string, int64_t> row;
  for (size_t i = 0; i < from.size(); ++i) row.emplace(from[i], static_cast<int64_t>(i));
  std::vector<int64_t> map;
  for (const auto& name : to) {
    const auto it = row.find(name);
    if (it == row.end()) return std::nullopt;
    map.push_back(it->second);
  }
  std::vector<int64_t> sorted = map;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) return std::nullopt;
  return map;
}

ClassificationTask::ClassificationTask(TrainConfig& config, const TaskContext& context)
    : model_name_(config.model),
      label_smoothing_(config.label_smoothing),
      eval_{context.device, context.precision, config.channels_last, 0},
      cache_features_(config.cache_features) {
  const ModelInfo& info = find_classifier(config.model, "the classification task");
  if (config.dropout >= 0 && (info.family == "lenet" || info.family == "resnet")) {
    throw usage_error("--dropout: " + config.model + " has no dropout layer (neither has torchvision's); "
                      "HINT: drop --dropout");
  }
  check_weights_model(config.weights, config.model);  // a name of another model: before any work
  if (config.data.empty()) config.data = info.default_data;
  DataOptions data_options = data_options_for(info, config.input_size);
  if (config.in_channels > 0) data_options.sample.channels = config.in_channels;
  data_options.augment = config.augment;
  data_options.val_split = config.val_split;
  data_options.seed = config.seed;
  bool transform_input = false;
  if (is_weights_reference(config.weights) && is_catalogue_name(config.weights)) {
    // Pretrained weights by name: the input normalised as they were trained (and GoogLeNet's
    // input rescaling on, as torchvision builds it with its weights).
    const WeightsEntry& entry = find_weights(config.weights);
    data_options.sample.mean = entry.mean;
    data_options.sample.std = entry.std;
    transform_input = entry.transform_input;
  }
  data_ = open_dataset(config.data, data_options);
  spec_ = data_.train->spec();  // the dataset's native size when --input-size is 0
  model_options_.num_classes = static_cast<int64_t>(data_.class_names.size());
  model_options_.input_size = spec_.height;
  model_options_.in_channels = spec_.channels;
  model_options_.aux_logits = config.aux_logits;
  model_options_.dropout = config.dropout;
  model_options_.transform_input = transform_input;
  model_ = build_classifier(config.model, model_options_);
  // --freeze and --train are resolved against the model here, before the weights are read,
  // so that a pattern naming nothing is refused before any work (the trainer applies them).
  const Freezer freezer(*model_, model_->head_prefixes(), {config.freeze, config.train, config.bn_train});
  if (!config.weights.empty() && !context.resuming) load_pretrained(config.weights);
  model_->to(context.device);
  if (config.channels_last) to_channels_last(*model_);
  if (cache_features_) {
    if (config.aux_logits) throw usage_error("--cache-features trains the head alone; HINT: drop --aux-logits");
    check_backbone_frozen(freezer);
  }

  train_options_.batch_size = config.batch_size;
  train_options_.workers = config.workers;
  train_options_.seed = config.seed;
  train_options_.drop_last = config.drop_last;
  train_options_.rank = context.rank;
  train_options_.world = context.world_size;
  train_loader_ = std::make_unique<Loader>(data_.train, train_options_);
  val_options_ = train_options_;
  val_options_.shuffle = false;
  val_options_.drop_last = false;
  val_options_.pad_shards = false;  // disjoint shards: the trainer sums the ranks' counts
  val_options_.batch_size = std::max<int64_t>(config.batch_size, kMinValBatch);
  val_loader_ = std::make_unique<Loader>(data_.val, val_options_);
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

nlohmann::json ClassificationTask::resolved_input() const {
  return resolved_image_input(spec_, data_.train_pipeline, data_.eval_pipeline, data_.notes);
}

BatchSource& ClassificationTask::train_data() {
  if (train_cache_) return *train_cache_;
  return *train_loader_;
}

void ClassificationTask::load_pretrained(const std::string& weights) {
  const WeightsFile resolved = resolve_weights(weights);  // a name or URL: fetched into the cache
  const std::string& path = resolved.path;
  StateDict file;
  std::vector<std::string> file_classes;  // known for zoo checkpoints only
  if (resolved.entry) {
    file = read_state_dict(path);  // its classes count as unnamed, like a .pth file's
  } else if (weights_format_of(path) == WeightsFormat::kZooCheckpoint) {
    Checkpoint ckpt = load_checkpoint(path);
    const std::string model = ckpt.meta.value("model", "");
    if (model != model_name_) {
      throw data_error("--weights " + path + " holds a '" + model + "' model, not '" + model_name_ +
                       "'; HINT: drop the model name to fine-tune the checkpoint's own model");
    }
    file = std::move(ckpt.model);
    file_classes = ckpt.meta.value("class_names", std::vector<std::string>{});
  } else {
    file = read_state_dict(path);
  }
  std::map<std::string, torch::Tensor> own;
  std::string first_conv;  // the first 4-D weight: the input convolution
  for (const auto& [name, t] : state_dict_of(*model_)) {
    own.emplace(name, t);
    if (first_conv.empty() && t.dim() == 4) first_conv = name;
  }
  const auto heads = model_->head_prefixes();
  // The head: kept when the classes are the same, reordered when they are the same names in
  // another order, reset otherwise.
  const std::vector<std::string>& classes = data_.class_names;
  std::optional<std::vector<int64_t>> mapping;
  bool head_fits = true;
  for (const auto& [name, t] : file) {
    if (in_head(name, heads) && own.count(name) && own[name].sizes() != t.sizes()) head_fits = false;
  }
  if (head_fits && !file_classes.empty() && file_classes != classes) {
    mapping = class_mapping(file_classes, classes);
    head_fits = mapping.has_value();
  }
  StateDict load;
  std::vector<std::string> reset, adapted, unexpected, mismatched;
  for (auto [name, t] : file) {
    if (!own.count(name)) {
      unexpected.push_back(name);
      continue;
    }
    const torch::Tensor& mine = own[name];
    if (in_head(name, heads)) {
      if (!head_fits) {
        reset.push_back(name);
        continue;
      }
      if (mapping && t.dim() >= 1 && t.size(0) == static_cast<int64_t>(mapping->size())) {
        t = t.index_select(0, torch::tensor(*mapping, torch::kInt64));
      }
    }
    if (name == first_conv && t.dim() == 4 && mine.dim() == 4 && t.size(1) != mine.size(1)) {
      const std::string before = shape(t);
      if (t.size(1) == 3 && mine.size(1) == 1) {
        t = t.sum(1, /*keepdim=*/true);  // gray input: the three colour filters add up
      } else if (t.size(1) == 1 && mine.size(1) == 3) {
        t = t.repeat({1, 3, 1, 1}) / 3.0;  // colour input: each channel gets a third
      }
      adapted.push_back(name + " " + before + " -> " + shape(t));
    }
    if (t.sizes() != mine.sizes()) {
      mismatched.push_back(name + ": file " + shape(t) + " vs model " + shape(mine));
      continue;
    }
    load.emplace_back(name, t);
  }
  if (!mismatched.empty()) {
    throw data_error("--weights " + path + " does not fit " + model_name_ + " beyond its head: " +
                     name_list(mismatched, 4) + "; HINT: pass weights of the same architecture");
  }
  const LoadReport report = load_state_dict(*model_, load, LoadMode::kNonStrict, path);
  if (std::none_of(report.matched.begin(), report.matched.end(), [&](const std::string& n) { return !in_head(n, heads); })) {
    throw data_error("--weights " + path + " holds none of " + model_name_ + "'s tensors beyond its head (" +
                     std::to_string(report.unexpected.size()) + " tensors of another model); HINT: pass weights "
                     "of the same architecture");
  }
  spdlog::info("loaded {} of {} tensors from {}", report.matched.size(), file.size(), path);
  if (!adapted.empty()) spdlog::info("adapted the input convolution to {} channel(s): {}", spec_.channels, name_list(adapted, 10));
  if (!reset.empty()) {
    spdlog::info("head reset for {} classes ({}): {}", classes.size(), name_list(classes, 10), name_list(reset, 10));
    if (!file_classes.empty()) spdlog::info("the weights' classes were: {}", name_list(file_classes, 10));
  } else if (mapping) {
    std::string pairs;
    for (size_t i = 0; i < mapping->size(); ++i) {
      if ((*mapping)[i] != static_cast<int64_t>(i)) pairs += (pairs.empty() ? "" : ", ") + classes[i] + " <- row " + std::to_string((*mapping)[i]);
    }
    spdlog::info("head rows reordered to the dataset's class order: {}", pairs);
  }
  if (!unexpected.empty()) spdlog::warn("ignored {} tensors the model does not have: {}", unexpected.size(), name_list(unexpected, 10));
  std::vector<std::string> missing;
  for (const auto& name : report.missing) {
    if (!in_head(name, heads)) missing.push_back(name);
  }
  if (!missing.empty()) spdlog::warn("{} tensors keep their initial values (not in the file): {}", missing.size(), name_list(missing, 10));
}

void ClassificationTask::check_backbone_frozen(const Freezer& freezer) const {
  for (const auto& p : model_->named_parameters()) {
    if (!in_head(p.key(), model_->head_prefixes()) && !freezer.is_frozen(p.key())) {
      throw usage_error("--cache-features needs the whole backbone frozen, but " + p.key() +
                        " trains; HINT: add --freeze conv");
    }
  }
}

void ClassificationTask::begin_epoch(int64_t /*epoch*/, int64_t /*first_batch*/) {
  if (cache_features_ && !train_cache_) build_feature_cache();
}

void ClassificationTask::build_feature_cache() {
  torch::NoGradGuard no_grad;
  const bool was_training = model_->is_training();
  model_->eval();
  const auto start = std::chrono::steady_clock::now();
  train_cache_ = cache_features(*model_, data_.train, train_options_, eval_);
  val_cache_ = cache_features(*model_, data_.val, val_options_, eval_);
  spdlog::info("cached the backbone's features of {} + {} samples in {:.1f}s", data_.train->size(),
               data_.val->size(), std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  if (was_training) model_->train();
}

StepOutput ClassificationTask::train_step(const Batch& batch) {
  auto input = batch.inputs().to(eval_.device, /*non_blocking=*/true);
  if (eval_.channels_last && input.dim() == 4) input = input.contiguous(at::MemoryFormat::ChannelsLast);
  const auto target = batch.targets().to(eval_.device, /*non_blocking=*/true);
  const auto options = torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(label_smoothing_);
  AutocastGuard autocast(eval_.precision, eval_.device);
  ClassifierOutput out = train_cache_ ? ClassifierOutput{model_->classify(input), {}} : model_->forward_with_aux(input);
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
  EvalResult r = val_cache_ ? evaluate(*model_, *val_cache_, model_options_.num_classes, settings, /*features_input=*/true)
                            : evaluate(*model_, *val_loader_, model_options_.num_classes, settings);
  return {{"loss", r.loss}, {"top1", r.top1}, {"top5", r.top5}, {"skipped", r.skipped}, {"count", r.count}};
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
