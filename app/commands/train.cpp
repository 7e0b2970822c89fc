// zoo train MODEL [flags]: trains a model from scratch (or --resume a run) and prints the
// final validation accuracy. `--config run.json` sets any option; flags given on the command
// line override it.
#include "app/commands/commands.h"
#include "app/engine/trainer.h"
#include "common/error.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <memory>

namespace zoo {

namespace {

struct TrainOptions {
  TrainConfig config;
  std::string config_file;
  std::string resume;
};

// Reads --config and lets the flags the user typed win over it.
TrainConfig merge_config_file(const TrainOptions& opts, const CLI::App& cmd) {
  std::ifstream in(opts.config_file);
  if (!in) {
    throw missing_error("config file not found: " + opts.config_file + "; HINT: pass a JSON file "
                        "such as a run's config.json");
  }
  nlohmann::json file;
  try {
    file = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw data_error("config file " + opts.config_file + " is not valid JSON: " + e.what());
  }
  if (!file.is_object()) throw data_error("config file " + opts.config_file + " must hold a JSON object");
  const nlohmann::json flags = to_json(opts.config);
  nlohmann::json merged = flags;
  for (const auto& item : file.items()) {
    if (!flags.contains(item.key())) {
      throw data_error("config file " + opts.config_file + " sets unknown option '" + item.key() +
                       "'; HINT: keys are the long flag names with '_' for '-', e.g. batch_size");
    }
    std::string flag = "--" + item.key();
    for (auto& ch : flag) ch = ch == '_' ? '-' : ch;
    const bool typed = item.key() == "model" ? cmd.count("model") > 0 : cmd.count(flag) > 0;
    if (!typed) merged[item.key()] = item.value();
  }
  try {
    return train_config_from_json(merged);
  } catch (const nlohmann::json::exception& e) {
    throw data_error("config file " + opts.config_file + " has a value of the wrong type: " + e.what());
  }
}

void run_train(const TrainOptions& opts, const CLI::App& cmd) {
  TrainSummary summary;
  if (!opts.resume.empty()) {
    std::optional<int64_t> epochs;
    if (cmd.count("--epochs")) epochs = opts.config.epochs;
    summary = resume(opts.resume, epochs);
  } else {
    TrainConfig config = opts.config_file.empty() ? opts.config : merge_config_file(opts, cmd);
    summary = train(config);
  }
  const auto& m = summary.final_metrics;
  if (m.is_null()) {
    std::printf("nothing to train: the run already completed its %lld epochs; run: %s\n",
                (long long)summary.epochs_done, summary.run_dir.c_str());
    return;
  }
  std::printf("%s accuracy: %.2f%% (top-5 %.2f%%, loss %.4f) after %lld epochs; best %.2f%%; run: %s\n",
              summary.val_name.c_str(), 100.0 * m["val_top1"].get<double>(),
              100.0 * m["val_top5"].get<double>(), m["val_loss"].get<double>(),
              (long long)summary.epochs_done, 100.0 * summary.best, summary.run_dir.c_str());
}

}  // namespace

void register_train(CLI::App& app) {
  auto opts = std::make_shared<TrainOptions>();
  TrainConfig& c = opts->config;
  CLI::App* cmd = app.add_subcommand("train", "Train a model from scratch (or resume a run)");
  cmd->add_option("model", c.model, "Model to train (see `zoo list`)")->capture_default_str();
  cmd->add_option("--data", c.data,
                  "Dataset name (imagenet, cifar10, cifar100, cifar100-coarse, mnist, "
                  "fashion-mnist under $ZOO_DATA; shapes, generated) or a folder (ImageFolder, "
                  "CIFAR batches, idx files); default: the model's own (fashion-mnist for lenet5)");
  cmd->add_option("--epochs", c.epochs, "Number of passes over the training set")->capture_default_str();
  cmd->add_option("--batch-size", c.batch_size, "Samples per optimizer step")->capture_default_str();
  cmd->add_option("--lr", c.lr, "Learning rate of SGD")->capture_default_str();
  cmd->add_option("--momentum", c.momentum, "SGD momentum, 0 to disable")->capture_default_str();
  cmd->add_option("--weight-decay", c.weight_decay, "L2 weight decay")->capture_default_str();
  cmd->add_option("--schedule", c.schedule,
                  "Learning-rate schedule: constant, or cosine (per step from --lr down to 0)")
      ->capture_default_str();
  cmd->add_option("--seed", c.seed, "Seed of initialisation, shuffling and augmentation")
      ->capture_default_str();
  cmd->add_option("--threads", c.threads,
                  "LibTorch intra-op threads; 0: one per available core. 1 is the default: "
                  "robust when other work shares the cores (docs/BENCHMARKS.md)")
      ->capture_default_str();
  cmd->add_option("--workers", c.workers,
                  "Data loader threads (0: load in the training thread); 2 measured best on 2 "
                  "cores (docs/BENCHMARKS.md)")
      ->capture_default_str();
  cmd->add_option("--input-size", c.input_size,
                  "Input height/width; 0: the dataset's native size (CIFAR 32, shapes 64) when "
                  "smaller than the model's, else the model's default")
      ->capture_default_str();
  cmd->add_option("--augment", c.augment,
                  "Training augmentation: none (evaluation transform), standard (ImageFolder: "
                  "RandomResizedCrop + flip; CIFAR/shapes: pad-4 random crop + flip), strong "
                  "(standard + ColorJitter 0.4/0.4/0.4/0.1)")
      ->check(CLI::IsMember({"none", "standard", "strong"}))
      ->capture_default_str();
  cmd->add_option("--val-split", c.val_split,
                  "Fraction of each class held out for validation when an ImageFolder has no "
                  "val/ or test/ folder (seeded by --seed)")
      ->capture_default_str();
  cmd->add_flag("--drop-last", c.drop_last, "Drop the last incomplete training batch of each epoch");
  cmd->add_flag("--aux-logits", c.aux_logits,
                "Build the auxiliary classifiers (GoogLeNet) and add their losses (weight 0.3 each)");
  cmd->add_option("--name", c.name, "Run directory name under --runs-dir; default <model>-N");
  cmd->add_option("--runs-dir", c.runs_dir, "Where run directories go")->capture_default_str();
  cmd->add_flag("--quiet", c.quiet, "No progress display (log lines still go to train.log)");
  cmd->add_option("--config", opts->config_file,
                  "JSON file of options (keys as flags with '_'), e.g. a run's config.json; flags "
                  "given here override it");
  auto* resume = cmd->add_option("--resume", opts->resume,
                                 "Continue a run exactly where it stopped: its directory or its "
                                 "checkpoints/last.pt (--epochs may change the plan)");
  resume->excludes("--config")->excludes("--name")->excludes("--data");
  cmd->callback([opts, cmd] { run_train(*opts, *cmd); });
}

}  // namespace zoo
