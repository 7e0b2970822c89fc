// The training loop; see trainer.h. Read `fit` top to bottom: it is the whole loop.
#include "app/engine/trainer.h"

#include "app/engine/checkpoint.h"
#include "app/engine/evaluate.h"
#include "app/engine/model_io.h"
#include "app/engine/progress.h"
#include "app/engine/run_dir.h"
#include "app/engine/signals.h"
#include "common/error.h"
#include "data/datasets.h"
#include "data/transforms.h"
#include "models/registry.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <spdlog/spdlog.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim/sgd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <thread>

#include <sched.h>

namespace zoo {

namespace fs = std::filesystem;

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(TrainConfig, model, data, epochs, batch_size, lr,
                                                momentum, weight_decay, schedule, seed, threads,
                                                workers, input_size, augment, val_split, drop_last,
                                                aux_logits, name, runs_dir, quiet)

nlohmann::json to_json(const TrainConfig& c) { return nlohmann::json(c); }

TrainConfig train_config_from_json(const nlohmann::json& j) { return j.get<TrainConfig>(); }

void validate(const TrainConfig& c) {
  auto require = [](bool ok, const std::string& what) {
    if (!ok) throw usage_error(what);
  };
  require(c.epochs > 0, "--epochs must be positive, got " + std::to_string(c.epochs));
  require(c.batch_size > 0, "--batch-size must be positive, got " + std::to_string(c.batch_size));
  require(c.lr > 0 && std::isfinite(c.lr), "--lr must be a positive number, got " + std::to_string(c.lr));
  require(c.momentum >= 0 && c.momentum < 1, "--momentum must be in [0, 1), got " + std::to_string(c.momentum));
  require(c.weight_decay >= 0, "--weight-decay must be 0 or more, got " + std::to_string(c.weight_decay));
  require(c.threads >= 0, "--threads must be 0 (one per core) or more, got " + std::to_string(c.threads));
  require(c.workers >= 0, "--workers must be 0 or more, got " + std::to_string(c.workers));
  require(c.input_size >= 0, "--input-size must be positive, got " + std::to_string(c.input_size));
  require(c.val_split > 0 && c.val_split < 1, "--val-split must be in (0, 1), got " + std::to_string(c.val_split));
  parse_augment(c.augment);
  require(c.schedule == "constant" || c.schedule == "cosine",
          "--schedule must be constant or cosine, got '" + c.schedule + "'");
}

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

double scheduled_lr(const TrainConfig& c, int64_t step, int64_t total_steps) {
  if (c.schedule == "cosine" && total_steps > 0) {
    const double progress = std::min(1.0, double(step) / double(total_steps));
    return c.lr * 0.5 * (1.0 + std::cos(M_PI * progress));
  }
  return c.lr;
}

namespace {

constexpr double kAuxLossWeight = 0.3;

class ClassificationTask : public Task {
 public:
  ClassificationTask(Classifier model, int64_t num_classes)
      : model_(std::move(model)), num_classes_(num_classes) {}
  torch::nn::Module& module() override { return *model_; }
  std::string best_metric() const override { return "top1"; }

  torch::Tensor training_loss(const Batch& batch, StepStats& stats) override {
    ClassifierOutput out = model_->forward_with_aux(batch.input);
    const torch::Tensor& logits = out.logits;  // N x classes
    auto loss = torch::nn::functional::cross_entropy(logits, batch.target);
    // Auxiliary heads (GoogLeNet) weigh 0.3 each, as in the paper and torchvision's recipe.
    for (const auto& aux : out.aux) {
      loss = loss + kAuxLossWeight * torch::nn::functional::cross_entropy(aux, batch.target);
    }
    stats.loss_sum += loss.item<double>() * double(batch.target.size(0));
    stats.correct += logits.argmax(1).eq(batch.target).sum().item<int64_t>();
    stats.count += batch.target.size(0);
    return loss;
  }

  nlohmann::json validate(Loader& loader) override {
    EvalResult r = evaluate(*model_, loader, num_classes_);
    return {{"loss", r.loss}, {"top1", r.top1}, {"top5", r.top5}, {"count", r.count},
            {"skipped", r.skipped}};
  }

 private:
  Classifier model_;
  int64_t num_classes_;
};

// Where a run is: the next batch to train and the figures of the epoch so far.
struct Position {
  int64_t epoch = 0;
  int64_t batch = 0;  // next batch within the epoch
  int64_t step = 0;   // optimizer steps since the start of the run
  StepStats stats;    // running figures of the current epoch
  double best = -1.0;
  int64_t best_epoch = -1;
};

nlohmann::json position_to_json(const Position& p) {
  return {{"epoch", p.epoch},
          {"batch", p.batch},
          {"step", p.step},
          {"epoch_loss_sum", p.stats.loss_sum},
          {"epoch_correct", p.stats.correct},
          {"epoch_count", p.stats.count},
          {"best", p.best},
          {"best_epoch", p.best_epoch}};
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
  p.best_epoch = j.at("best_epoch");
  return p;
}

void set_cpu_rng_state(const torch::Tensor& state) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

struct Run {
  TrainConfig config;
  const ModelInfo* info = nullptr;
  ModelOptions model_options;
  SampleSpec spec;
  DataSplits data;
  Classifier model;
  std::unique_ptr<torch::optim::SGD> optimizer;
  std::unique_ptr<ClassificationTask> task;
  std::unique_ptr<Loader> train_loader;
  std::unique_ptr<Loader> val_loader;
  RunDir dir;
  Position pos;
};

nlohmann::json checkpoint_meta(const Run& run, const nlohmann::json& metrics) {
  nlohmann::json meta = sample_spec_to_json(run.spec);
  meta["model"] = run.config.model;
  meta["model_options"] = model_options_to_json(run.model_options);
  meta["class_names"] = run.data.class_names;
  meta["data"] = run.config.data;
  meta["position"] = position_to_json(run.pos);
  meta["metrics"] = metrics;
  meta["config"] = to_json(run.config);
  return meta;
}

void save_last(const Run& run, const nlohmann::json& metrics) {
  save_checkpoint(run.dir.last_checkpoint().string(), checkpoint_meta(run, metrics),
                  state_dict_of(*run.model), run.optimizer.get());
}

// Prepares everything a run needs: model, data, optimizer, loaders. `ckpt` is set on resume.
Run prepare(const TrainConfig& config, RunDir dir, const Checkpoint* ckpt) {
  Run run{config, &find_model(config.model), {}, {}, {}, nullptr, nullptr, nullptr,
          nullptr, nullptr, std::move(dir), {}};
  if (run.info->kind != ModelKind::kClassifier) {
    throw usage_error("model '" + config.model + "' is not an image classifier; HINT: see `zoo list`");
  }
  if (run.config.data.empty()) run.config.data = run.info->default_data;
  at::set_num_threads(config.threads > 0 ? config.threads : available_cores());
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
  run.optimizer = std::make_unique<torch::optim::SGD>(
      run.model->parameters(),
      torch::optim::SGDOptions(config.lr).momentum(config.momentum).weight_decay(config.weight_decay));
  run.task = std::make_unique<ClassificationTask>(run.model, run.model_options.num_classes);

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

  if (ckpt) {
    load_state_dict(*run.model, ckpt->model, LoadMode::kStrict, run.dir.last_checkpoint().string());
    if (!ckpt->optimizer) {
      throw data_error("checkpoint " + run.dir.last_checkpoint().string() +
                       " has no optimizer state, so it cannot be resumed exactly");
    }
    run.optimizer->load(const_cast<torch::serialize::InputArchive&>(*ckpt->optimizer));
    if (ckpt->rng_cpu.defined()) set_cpu_rng_state(ckpt->rng_cpu);
    run.pos = position_from_json(ckpt->meta.at("position"));
  }
  return run;
}

TrainSummary fit(Run& run) {
  const TrainConfig& c = run.config;
  spdlog::info("training {} on {} ({}: {} train / {} {} samples, {} classes) for {} epochs; run "
               "directory {}",
               c.model, run.data.name, run.data.location, run.data.train->size(), run.data.val->size(),
               run.data.val_name, run.data.class_names.size(), c.epochs, run.dir.path().string());
  TrainSummary summary;
  summary.run_dir = run.dir.path().string();
  summary.val_name = run.data.val_name;
  Position& pos = run.pos;
  nlohmann::json last_metrics = nlohmann::json::object();
  while (pos.epoch < c.epochs) {
    run.model->train();
    run.train_loader->start_epoch(pos.epoch, pos.batch);
    Progress progress("epoch " + std::to_string(pos.epoch + 1) + "/" + std::to_string(c.epochs),
                      run.train_loader->batches_per_epoch(), c.quiet);
    const auto start = std::chrono::steady_clock::now();
    int64_t images = 0;
    const int64_t total_steps = c.epochs * run.train_loader->batches_per_epoch();
    double lr = scheduled_lr(c, pos.step, total_steps);
    while (auto batch = run.train_loader->next()) {
      if (batch->target.numel() > 0) {
        lr = scheduled_lr(c, pos.step, total_steps);
        for (auto& group : run.optimizer->param_groups()) {
          static_cast<torch::optim::SGDOptions&>(group.options()).lr(lr);
        }
        run.optimizer->zero_grad();
        torch::Tensor loss = run.task->training_loss(*batch, pos.stats);
        if (!std::isfinite(loss.item<double>())) {
          progress.finish();
          throw data_error("loss became " + std::to_string(loss.item<double>()) + " at epoch " +
                           std::to_string(pos.epoch + 1) + " step " + std::to_string(pos.step) +
                           "; the run stopped and " + run.dir.last_checkpoint().string() +
                           " keeps the last good state; HINT: lower --lr");
        }
        loss.backward();
        run.optimizer->step();
        ++pos.step;
        images += batch->target.size(0);
      }
      pos.batch = batch->index + 1;
      const double seen = std::max<int64_t>(pos.stats.count, 1);
      progress.update(pos.batch, pos.stats.loss_sum / seen, pos.stats.correct / seen, lr);
      if (const int sig = stop_requested()) {
        progress.finish();
        save_last(run, last_metrics);
        throw Error(ErrorKind::kInterrupted,
                    "stopped by signal " + std::to_string(sig) + " at epoch " +
                        std::to_string(pos.epoch + 1) + " batch " + std::to_string(pos.batch) +
                        "; saved " + run.dir.last_checkpoint().string() +
                        "; HINT: continue with `zoo train --resume " + run.dir.path().string() + "`",
                    sig);
      }
    }
    progress.finish();
    const double train_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (pos.stats.count == 0) {
      throw data_error("no readable training sample in " + run.data.location +
                       "; HINT: check the dataset's files");
    }
    nlohmann::json val = run.task->validate(*run.val_loader);
    const double seen = double(pos.stats.count);
    last_metrics = {{"epoch", pos.epoch + 1},
                    {"step", pos.step},
                    {"lr", lr},
                    {"train_loss", pos.stats.loss_sum / seen},
                    {"train_top1", pos.stats.correct / seen},
                    {"train_skipped", run.train_loader->skipped()},
                    {"images_per_s", images / std::max(train_seconds, 1e-9)},
                    {"epoch_seconds", train_seconds},
                    {"val_loss", val["loss"]},
                    {"val_top1", val["top1"]},
                    {"val_top5", val["top5"]}};
    spdlog::info("epoch {}/{}: train loss {:.4f} acc {:.2f}% | {} loss {:.4f} top1 {:.2f}% top5 "
                 "{:.2f}% | {:.0f} img/s, {}",
                 pos.epoch + 1, c.epochs, pos.stats.loss_sum / seen, 100.0 * pos.stats.correct / seen,
                 run.data.val_name, val["loss"].get<double>(), 100.0 * val["top1"].get<double>(),
                 100.0 * val["top5"].get<double>(), last_metrics["images_per_s"].get<double>(),
                 format_duration(train_seconds));
    if (run.train_loader->skipped()) {
      spdlog::warn("epoch {}: skipped {} unreadable samples", pos.epoch + 1, run.train_loader->skipped());
    }
    run.dir.append_metrics(last_metrics);
    const double metric = val[run.task->best_metric()].get<double>();
    const bool is_best = metric > pos.best;
    if (is_best) {
      pos.best = metric;
      pos.best_epoch = pos.epoch + 1;
    }
    ++pos.epoch;  // checkpoints record the position to continue from: next epoch, batch 0
    pos.batch = 0;
    pos.stats = {};
    save_last(run, last_metrics);
    if (is_best) {
      save_checkpoint(run.dir.best_checkpoint().string(), checkpoint_meta(run, last_metrics),
                      state_dict_of(*run.model), nullptr, /*with_rng=*/false);
    }
    summary.final_metrics = last_metrics;
  }
  summary.epochs_done = pos.epoch;
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
  run.dir.write_config(to_json(run.config));
  run.dir.write_labels(run.data.class_names);
  return fit(run);
}

TrainSummary resume(const std::string& run_or_checkpoint, std::optional<int64_t> epochs) {
  std::error_code ec;
  fs::path dir = run_or_checkpoint;
  if (fs::is_regular_file(dir, ec)) dir = dir.parent_path().parent_path();  // runs/x/checkpoints/last.pt
  RunDir run_dir = RunDir::open(dir);
  Checkpoint ckpt = load_checkpoint(run_dir.last_checkpoint().string());
  TrainConfig config = train_config_from_json(ckpt.meta.at("config"));
  if (epochs) config.epochs = *epochs;
  validate(config);
  run_dir.attach_log();
  spdlog::info("resuming {} from {}", dir.string(), run_dir.last_checkpoint().string());
  Run run = prepare(config, std::move(run_dir), &ckpt);
  run.dir.write_config(to_json(run.config));
  return fit(run);
}

}  // namespace zoo
