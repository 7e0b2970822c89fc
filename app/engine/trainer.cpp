// The training loop; see trainer.h. Read `fit` top to bottom: it is the whole loop, one batch
// at a time, with an optimizer step every --accumulate batches.
#include "app/engine/trainer.h"

#include "app/engine/checkpoint.h"
#include "app/engine/evaluate.h"
#include "app/engine/model_io.h"
#include "app/engine/optim.h"
#include "app/engine/plots.h"
#include "app/engine/precision.h"
#include "app/engine/progress.h"
#include "app/engine/run_dir.h"
#include "app/engine/schedule.h"
#include "app/engine/signals.h"
#include "common/error.h"
#include "data/datasets.h"
#include "models/registry.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <spdlog/spdlog.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/utils/clip_grad.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

namespace zoo {

namespace fs = std::filesystem;

namespace {

constexpr double kAuxLossWeight = 0.3;

class ClassificationTask : public Task {
 public:
  ClassificationTask(Classifier model, int64_t num_classes, const TrainConfig& c,
                     torch::Device device, Precision precision)
      : model_(std::move(model)),
        num_classes_(num_classes),
        label_smoothing_(c.label_smoothing),
        eval_{device, precision, c.channels_last, 0} {}
  torch::nn::Module& module() override { return *model_; }

  torch::Tensor training_loss(const Batch& batch, StepStats& stats) override {
    auto input = batch.input.to(eval_.device, /*non_blocking=*/true);
    if (eval_.channels_last) input = input.contiguous(at::MemoryFormat::ChannelsLast);
    const auto target = batch.target.to(eval_.device, /*non_blocking=*/true);
    const auto options =
        torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(label_smoothing_);
    AutocastGuard autocast(eval_.precision, eval_.device);
    ClassifierOutput out = model_->forward_with_aux(input);
    const torch::Tensor& logits = out.logits;  // N x classes
    auto loss = torch::nn::functional::cross_entropy(logits, target, options);
    // Auxiliary heads (GoogLeNet) weigh 0.3 each, as in the paper and torchvision's recipe.
    for (const auto& aux : out.aux) {
      loss = loss + kAuxLossWeight * torch::nn::functional::cross_entropy(aux, target, options);
    }
    stats.last_loss = loss.item<double>();
    stats.loss_sum += stats.last_loss * double(batch.target.size(0));
    stats.correct += logits.argmax(1).eq(target).sum().item<int64_t>();
    stats.count += batch.target.size(0);
    return loss;
  }

  nlohmann::json validate(Loader& loader, int64_t limit_batches) override {
    EvalSettings settings = eval_;
    settings.limit_batches = limit_batches;
    EvalResult r = evaluate(*model_, loader, num_classes_, settings);
    return {{"loss", r.loss}, {"top1", r.top1}, {"top5", r.top5}, {"count", r.count},
            {"skipped", r.skipped}};
  }

 private:
  Classifier model_;
  int64_t num_classes_;
  double label_smoothing_;
  EvalSettings eval_;
};

// Where a run is: the next batch to train and the figures of the epoch so far.
struct Position {
  int64_t epoch = 0;
  int64_t batch = 0;  // next batch within the epoch
  int64_t step = 0;   // optimizer steps since the start of the run
  StepStats stats;    // running figures of the current epoch
  bool has_best = false;
  double best = 0.0;
  int64_t best_epoch = 0;  // 1-based epoch of the best metric
  double elapsed = 0.0;    // training seconds of all sessions before this one
};

nlohmann::json position_to_json(const Position& p) {
  return {{"epoch", p.epoch},
          {"batch", p.batch},
          {"step", p.step},
          {"epoch_loss_sum", p.stats.loss_sum},
          {"epoch_correct", p.stats.correct},
          {"epoch_count", p.stats.count},
          {"has_best", p.has_best},
          {"best", p.best},
          {"best_epoch", p.best_epoch},
          {"elapsed", p.elapsed}};
}

Position position_from_json(const nlohmann::json& j) {
  Position p;
  p.epoch = j.at("epoch");
  p.batch = j.at("batch");
  p.step = j.at("step");
  p.stats.loss_sum = j.at("epoch_loss_sum");
  p.stats.correct = j.at("epoch_correct");
  p.stats.count = j.at("epoch_count");
  p.best = j.at("best");
  p.has_best = j.value("has_best", p.best >= 0);  // format 1 wrote best -1 for "none yet"
  p.best_epoch = std::max<int64_t>(0, j.at("best_epoch").get<int64_t>());
  p.elapsed = j.value("elapsed", 0.0);
  return p;
}

struct Run {
  TrainConfig config;
  const ModelInfo* info = nullptr;
  ModelOptions model_options;
  SampleSpec spec;
  DataSplits data;
  torch::Device device = torch::kCPU;
  Precision precision = Precision::kFp32;
  Classifier model{nullptr};
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  std::unique_ptr<ClassificationTask> task;
  std::unique_ptr<Loader> train_loader;
  std::unique_ptr<Loader> val_loader;
  std::unique_ptr<LrSchedule> schedule;
  std::unique_ptr<LossScaler> scaler;
  int64_t batches_per_epoch = 0;  // after --limit-batches
  std::optional<RunDir> dir;
  Position pos;
};

nlohmann::json checkpoint_meta(const Run& run, const nlohmann::json& metrics) {
  nlohmann::json meta = sample_spec_to_json(run.spec);
  meta["model"] = run.config.model;
  meta["model_options"] = model_options_to_json(run.model_options);
  meta["class_names"] = run.data.class_names;
  meta["data"] = run.config.data;
  meta["position"] = position_to_json(run.pos);
  meta["schedule"] = run.schedule->state();
  meta["loss_scaler"] = run.scaler->state();
  meta["metrics"] = metrics;
  meta["config"] = to_json(run.config);
  return meta;
}

void save_last(const Run& run, const nlohmann::json& metrics) {
  save_checkpoint(run.dir->last_checkpoint().string(), checkpoint_meta(run, metrics),
                  state_dict_of(*run.model), run.optimizer.get());
}

// Prepares everything a run needs: model, data, optimizer, schedule, loaders. `ckpt` is set on
// resume.
Run prepare(const TrainConfig& config, RunDir dir, const Checkpoint* ckpt) {
  Run run;
  run.config = config;
  run.info = &find_model(config.model);
  run.dir.emplace(std::move(dir));
  if (run.info->kind != ModelKind::kClassifier) {
    throw usage_error("model '" + config.model + "' is not an image classifier; HINT: see `zoo list`");
  }
  if (run.config.data.empty()) run.config.data = run.info->default_data;
  run.device = parse_device(config.device);
  run.precision = parse_precision(config.precision, run.device);
  at::set_num_threads(config.threads > 0 ? config.threads : available_cores());
  at::globalContext().setDeterministicAlgorithms(config.deterministic, /*warn_only=*/false);
  at::globalContext().setDeterministicCuDNN(config.deterministic);
  at::globalContext().setBenchmarkCuDNN(!config.deterministic);
  torch::manual_seed(config.seed);

  DataOptions data_options = data_options_for(*run.info, config.input_size);
  data_options.augment = config.augment;
  data_options.val_split = config.val_split;
  data_options.seed = config.seed;
  run.data = open_dataset(run.config.data, data_options);
  run.spec = run.data.train->spec();  // the dataset's native size when --input-size is 0
  run.model_options.num_classes = static_cast<int64_t>(run.data.class_names.size());
  run.model_options.input_size = run.spec.height;
  run.model_options.in_channels = run.spec.channels;
  run.model_options.aux_logits = config.aux_logits;
  run.model = build_classifier(config.model, run.model_options);
  if (ckpt) {
    load_state_dict(*run.model, ckpt->model, LoadMode::kStrict, run.dir->last_checkpoint().string());
  }
  run.model->to(run.device);
  if (config.channels_last) to_channels_last(*run.model);
  run.optimizer = make_optimizer(config, *run.model);
  run.task = std::make_unique<ClassificationTask>(run.model, run.model_options.num_classes,
                                                  config, run.device, run.precision);
  run.scaler = std::make_unique<LossScaler>(run.precision == Precision::kFp16);

  LoaderOptions train_opts;
  train_opts.batch_size = config.batch_size;
  train_opts.workers = config.workers;
  train_opts.seed = config.seed;
  train_opts.drop_last = config.drop_last;
  run.train_loader = std::make_unique<Loader>(run.data.train, train_opts);
  LoaderOptions val_opts = train_opts;
  val_opts.shuffle = false;
  val_opts.drop_last = false;
  val_opts.batch_size = std::max<int64_t>(config.batch_size, 256);
  run.val_loader = std::make_unique<Loader>(run.data.val, val_opts);

  run.batches_per_epoch = run.train_loader->batches_per_epoch();
  if (config.limit_batches > 0) run.batches_per_epoch = std::min(run.batches_per_epoch, config.limit_batches);
  const int64_t steps_per_epoch = (run.batches_per_epoch + config.accumulate - 1) / config.accumulate;
  run.schedule = std::make_unique<LrSchedule>(config, steps_per_epoch);

  if (ckpt) {
    if (!ckpt->optimizer) {
      throw data_error("checkpoint " + run.dir->last_checkpoint().string() +
                       " has no optimizer state, so it cannot be resumed exactly");
    }
    try {
      run.optimizer->load(const_cast<torch::serialize::InputArchive&>(*ckpt->optimizer));
    } catch (const c10::Error& e) {
      throw data_error("checkpoint " + run.dir->last_checkpoint().string() + " holds optimizer "
                       "state that does not fit --optimizer " + config.optimizer + " (" +
                       std::string(e.what_without_backtrace()).substr(0, 120) + ")");
    }
    restore_rng_states(*ckpt);
    run.pos = position_from_json(ckpt->meta.at("position"));
    if (ckpt->meta.contains("schedule")) run.schedule->load_state(ckpt->meta["schedule"]);
    if (ckpt->meta.contains("loss_scaler")) run.scaler->load_state(ckpt->meta["loss_scaler"]);
  }
  return run;
}

// Why the run should not start another epoch, or "" to go on.
std::string stop_reason(const Run& run) {
  const TrainConfig& c = run.config;
  const Position& p = run.pos;
  if (c.max_steps > 0 && p.step >= c.max_steps) return "max_steps";
  if (c.patience > 0 && p.has_best && p.epoch - p.best_epoch >= c.patience) return "patience";
  if (p.epoch >= c.epochs) return "epochs";
  return "";
}

// Running figures of the steps since the last step row.
struct Window {
  StepStats stats;
  int64_t images = 0;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
};

TrainSummary fit(Run& run) {
  const TrainConfig& c = run.config;
  Position& pos = run.pos;
  RunDir& dir = *run.dir;
  spdlog::info("training {} on {} ({}: {} train / {} {} samples, {} classes) for {} epochs; run "
               "directory {}",
               c.model, run.data.name, run.data.location, run.data.train->size(), run.data.val->size(),
               run.data.val_name, run.data.class_names.size(), c.epochs, dir.path().string());
  spdlog::info("{} optimizer, lr {} ({} schedule, {} warmup steps of {}), {} on {}", c.optimizer,
               c.lr, c.schedule, run.schedule->warmup_steps(), run.schedule->total_steps(),
               precision_name(run.precision), run.device.str());
  TrainSummary summary;
  summary.run_dir = dir.path().string();
  summary.val_name = run.data.val_name;
  summary.best_metric = c.best_metric;
  const auto session_start = std::chrono::steady_clock::now();
  const double elapsed_before = pos.elapsed;
  auto elapsed = [&] {
    return elapsed_before +
           std::chrono::duration<double>(std::chrono::steady_clock::now() - session_start).count();
  };
  const int64_t nb = run.batches_per_epoch;
  const int64_t accumulate = c.accumulate;
  const auto params = run.model->parameters();
  nlohmann::json last_metrics = nlohmann::json::object();

  while (stop_reason(run).empty()) {
    run.model->train();
    run.train_loader->start_epoch(pos.epoch, pos.batch);
    Progress progress("epoch " + std::to_string(pos.epoch + 1) + "/" + std::to_string(c.epochs), nb,
                      c.quiet);
    const auto start = std::chrono::steady_clock::now();
    int64_t images = 0;
    Window window;
    double lr = run.schedule->lr(pos.step);
    bool group_has_samples = false;
    while (pos.batch < nb) {
      auto batch = run.train_loader->next();
      if (!batch) break;
      // Batches [group, group + group_size) make one optimizer step.
      const int64_t group = pos.batch / accumulate * accumulate;
      const int64_t group_size = std::min(accumulate, nb - group);
      const bool last_in_group = pos.batch == group + group_size - 1;
      if (pos.batch == group) {
        lr = run.schedule->lr(pos.step);
        set_lr(*run.optimizer, lr);
        run.optimizer->zero_grad();
        group_has_samples = false;
      }
      if (batch->target.numel() > 0) {
        StepStats before = pos.stats;
        torch::Tensor loss = run.task->training_loss(*batch, pos.stats);
        if (!std::isfinite(pos.stats.last_loss)) {
          progress.finish();
          throw data_error("loss became " + std::to_string(pos.stats.last_loss) + " at epoch " +
                           std::to_string(pos.epoch + 1) + " step " + std::to_string(pos.step) +
                           "; the run stopped and " + dir.last_checkpoint().string() +
                           " keeps the last good state; HINT: lower --lr, or clip with "
                           "--clip-grad-norm");
        }
        (loss * (run.scaler->scale() / double(group_size))).backward();
        window.stats.loss_sum += pos.stats.loss_sum - before.loss_sum;
        window.stats.correct += pos.stats.correct - before.correct;
        window.stats.count += pos.stats.count - before.count;
        images += batch->target.size(0);
        window.images += batch->target.size(0);
        group_has_samples = true;
      }
      pos.batch = batch->index + 1;
      const double seen = std::max<int64_t>(pos.stats.count, 1);
      progress.update(pos.batch, pos.stats.loss_sum / seen, pos.stats.correct / seen, lr);
      if (!last_in_group) continue;

      if (group_has_samples) {
        const bool finite = run.scaler->unscale(params);
        if (finite && c.clip_grad_norm > 0) torch::nn::utils::clip_grad_norm_(params, c.clip_grad_norm);
        if (finite) run.optimizer->step();
        else spdlog::warn("fp16 gradients overflowed at step {}; step skipped, loss scale now {}",
                          pos.step, run.scaler->scale() / 2);
        run.scaler->update(finite);
        ++pos.step;
      }
      if (pos.step % c.log_every == 0 && window.stats.count > 0) {
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - window.start).count();
        dir.append_metrics({{"kind", "step"},
                            {"epoch", pos.epoch + 1},
                            {"step", pos.step},
                            {"lr", lr},
                            {"loss", window.stats.loss_sum / double(window.stats.count)},
                            {"accuracy", double(window.stats.correct) / double(window.stats.count)},
                            {"images_per_s", double(window.images) / std::max(secs, 1e-9)},
                            {"elapsed", elapsed()}});
        window = Window{};
      }
      const bool at_max_steps = c.max_steps > 0 && pos.step >= c.max_steps;
      if (c.save_every > 0 && pos.step % c.save_every == 0 && pos.batch < nb && !at_max_steps) {
        pos.elapsed = elapsed();
        save_last(run, last_metrics);
      }
      if (const int sig = stop_requested()) {
        progress.finish();
        pos.elapsed = elapsed();
        save_last(run, last_metrics);
        throw Error(ErrorKind::kInterrupted,
                    "stopped by signal " + std::to_string(sig) + " at epoch " +
                        std::to_string(pos.epoch + 1) + " batch " + std::to_string(pos.batch) +
                        "; saved " + dir.last_checkpoint().string() +
                        "; HINT: continue with `zoo train --resume " + dir.path().string() + "`",
                    sig);
      }
      if (at_max_steps) break;
    }
    progress.finish();
    const double train_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (pos.stats.count == 0) {
      throw data_error("no readable training sample in " + run.data.location +
                       "; HINT: check the dataset's files");
    }
    nlohmann::json val = run.task->validate(*run.val_loader, c.limit_val_batches);
    const double seen = double(pos.stats.count);
    const bool epoch_done = pos.batch >= nb;
    last_metrics = {{"kind", "epoch"},
                    {"epoch", pos.epoch + 1},
                    {"step", pos.step},
                    {"lr", lr},
                    {"train_loss", pos.stats.loss_sum / seen},
                    {"train_top1", pos.stats.correct / seen},
                    {"train_skipped", run.train_loader->skipped()},
                    {"images_per_s", images / std::max(train_seconds, 1e-9)},
                    {"epoch_seconds", train_seconds},
                    {"elapsed", elapsed()},
                    {"val_loss", val["loss"]},
                    {"val_top1", val["top1"]},
                    {"val_top5", val["top5"]},
                    {"val_skipped", val["skipped"]}};
    if (!epoch_done) last_metrics["partial"] = true;  // stopped inside the epoch (--max-steps)
    spdlog::info("epoch {}/{}: train loss {:.4f} acc {:.2f}% | {} loss {:.4f} top1 {:.2f}% top5 "
                 "{:.2f}% | {:.0f} img/s, {}",
                 pos.epoch + 1, c.epochs, pos.stats.loss_sum / seen, 100.0 * pos.stats.correct / seen,
                 run.data.val_name, val["loss"].get<double>(), 100.0 * val["top1"].get<double>(),
                 100.0 * val["top5"].get<double>(), last_metrics["images_per_s"].get<double>(),
                 format_duration(train_seconds));
    if (run.train_loader->skipped()) {
      spdlog::warn("epoch {}: skipped {} unreadable samples", pos.epoch + 1, run.train_loader->skipped());
    }
    dir.append_metrics(last_metrics);
    write_curves_png(dir.curves_png().string(), dir.read_metrics());
    const double metric = last_metrics[c.best_metric].get<double>();
    const bool is_best = !pos.has_best || (higher_is_better(c.best_metric) ? metric > pos.best
                                                                          : metric < pos.best);
    if (is_best) {
      pos.has_best = true;
      pos.best = metric;
      pos.best_epoch = pos.epoch + 1;
    }
    if (run.schedule->observe(metric)) {
      spdlog::info("{} stalled for {} epochs: lr now {}", c.best_metric, c.plateau_patience,
                   run.schedule->lr(pos.step));
    }
    if (epoch_done) {  // checkpoints record the position to continue from: next epoch, batch 0
      ++pos.epoch;
      pos.batch = 0;
      pos.stats = {};
    }
    pos.elapsed = elapsed();
    save_last(run, last_metrics);
    if (is_best) {
      save_checkpoint(dir.best_checkpoint().string(), checkpoint_meta(run, last_metrics),
                      state_dict_of(*run.model), nullptr, /*with_rng=*/false);
    }
    summary.final_metrics = last_metrics;
  }
  summary.stop_reason = stop_reason(run);
  if (summary.stop_reason == "patience") {
    spdlog::info("early stop: {} has not improved for {} epochs (best {:.4f} at epoch {})",
                 c.best_metric, c.patience, pos.best, pos.best_epoch);
  }
  summary.epochs_done = pos.epoch;
  summary.steps_done = pos.step;
  summary.best = pos.best;
  return summary;
}

}  // namespace

TrainSummary train(const TrainConfig& config) {
  validate(config);
  find_model(config.model);  // unknown names fail before a run directory is made
  RunDir dir = RunDir::create(config.runs_dir, config.name, config.model);
  dir.attach_log();
  Run run = prepare(config, std::move(dir), nullptr);
  run.dir->write_config(to_json(run.config));
  run.dir->write_labels(run.data.class_names);
  return fit(run);
}

TrainSummary resume(const std::string& run_or_checkpoint, const nlohmann::json& overrides) {
  // What may change on resume: the plan and what does not touch the numbers.
  static const std::vector<std::string> kOverridable = {"epochs", "max_steps", "patience",
                                                        "workers", "quiet"};
  for (const auto& item : overrides.items()) {
    if (std::find(kOverridable.begin(), kOverridable.end(), item.key()) != kOverridable.end()) continue;
    std::string allowed;
    for (size_t i = 0; i < kOverridable.size(); ++i) {
      allowed += (i == 0 ? "" : i + 1 == kOverridable.size() ? " and " : ", ") + flag_of(kOverridable[i]);
    }
    throw usage_error(flag_of(item.key()) + " cannot be given with --resume: the run continues "
                      "with the options it was started with; HINT: only " + allowed +
                      " may change on resume");
  }
  std::error_code ec;
  fs::path dir = run_or_checkpoint;
  if (fs::is_regular_file(dir, ec)) dir = dir.parent_path().parent_path();  // runs/x/checkpoints/last.pt
  RunDir run_dir = RunDir::open(dir);
  Checkpoint peek = load_checkpoint(run_dir.last_checkpoint().string());
  nlohmann::json merged = peek.meta.at("config");
  for (const auto& item : overrides.items()) merged[item.key()] = item.value();
  TrainConfig config = train_config_from_json(merged);
  validate(config);
  const Checkpoint ckpt = config.device == "cpu"
                              ? std::move(peek)
                              : load_checkpoint(run_dir.last_checkpoint().string(),
                                                parse_device(config.device));
  run_dir.attach_log();
  spdlog::info("resuming {} from {}", dir.string(), run_dir.last_checkpoint().string());
  Run run = prepare(config, std::move(run_dir), &ckpt);
  run.dir->truncate_metrics(run.pos.step);
  run.dir->write_config(to_json(run.config));
  return fit(run);
}

}  // namespace zoo
