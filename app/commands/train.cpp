// zoo train MODEL [flags]: trains a model from scratch (or --resume a run) and prints the
// final validation figures. `--config run.json` sets any option; flags given on the command
// line override it.
#include "app/commands/commands.h"
#include "app/engine/launch.h"
#include "app/engine/model_io.h"
#include "app/engine/task.h"
#include "app/engine/trainer.h"
#include "common/error.h"

#include <nlohmann/json.hpp>

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

namespace zoo {

namespace {

namespace fs = std::filesystem;

struct TrainOptions {
  TrainConfig config;
  std::string config_file;
  std::string resume;
  int nproc = 0;  // --nproc: local ranks to start
};

// Whether the user typed the flag of TrainConfig key `key` (a key the command has no flag for,
// such as --freeze on `zoo train`, was not typed).
bool typed_on_command_line(const CLI::App& cmd, const std::string& key) {
  const CLI::Option* option = cmd.get_option_no_throw(key == "model" ? "model" : flag_of(key));
  return option != nullptr && option->count() > 0;
}

// The JSON object of --config FILE.
nlohmann::json read_config_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw missing_error("config file " + path + " is a directory; HINT: pass a JSON file such as a run's config.json");
  }
  std::ifstream in(path);
  if (!in) {
    throw missing_error("config file not found: " + path + "; HINT: pass a JSON file such as a "
                        "run's config.json");
  }
  nlohmann::json file;
  try {
    file = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw data_error("config file " + path + " is not valid JSON: " + e.what());
  }
  if (!file.is_object()) throw data_error("config file " + path + " must hold a JSON object");
  return file;
}

// The new run's options: the flags the user typed, then --config's keys, then the model's task
// defaults (task_train_defaults), then TrainConfig's defaults.
TrainConfig resolve_config(const TrainOptions& opts, const CLI::App& cmd) {
  const nlohmann::json file = opts.config_file.empty() ? nlohmann::json::object() : read_config_file(opts.config_file);
  const nlohmann::json flags = to_json(opts.config);
  nlohmann::json merged = flags;
  for (const auto& item : file.items()) {
    if (item.key() == "resolved") continue;  // a run's config.json: what it resolved, not an option
    if (!flags.contains(item.key())) {
      throw data_error("config file " + opts.config_file + " sets unknown option '" + item.key() +
                       "'; HINT: keys are the long flag names with '_' for '-', e.g. batch_size");
    }
    if (!typed_on_command_line(cmd, item.key())) merged[item.key()] = item.value();
  }
  const std::string model = merged.value("model", opts.config.model);
  const nlohmann::json defaults = task_train_defaults(model);
  for (const auto& item : defaults.items()) {
    if (!typed_on_command_line(cmd, item.key()) && !file.contains(item.key())) merged[item.key()] = item.value();
  }
  try {
    return train_config_from_json(merged);
  } catch (const nlohmann::json::exception& e) {
    throw data_error("config file " + opts.config_file + " has a value of the wrong type: " + e.what());
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kUsage) throw;
    throw data_error("config file " + opts.config_file + ": " + e.what());
  }
}

// With --resume, the options typed on the command line become the overrides; resume() refuses
// those that would change the run.
nlohmann::json resume_overrides(const TrainOptions& opts, const CLI::App& cmd) {
  const nlohmann::json options = to_json(opts.config);
  nlohmann::json overrides = nlohmann::json::object();
  for (const auto& item : options.items()) {
    const bool typed = typed_on_command_line(cmd, item.key());
    if (typed) overrides[item.key()] = item.value();
  }
  return overrides;
}

// torchrun --max-restarts reruns the same command after a rank failed: the named run the first
// attempt started continues from its last.pt (TORCHELASTIC_RESTART_COUNT > 0). Returns the run
// directory, or "" for a new run.
std::string restarted_run(const TrainConfig& config) {
  const char* count = std::getenv("TORCHELASTIC_RESTART_COUNT");
  if (count == nullptr || std::string(count).empty() || std::string(count) == "0" || config.name.empty()) return "";
  const fs::path dir = fs::path(config.runs_dir) / config.name;
  std::error_code ec;
  return fs::is_regular_file(dir / "checkpoints" / "last.pt", ec) ? dir.string() : "";
}

// The options typed on the command line whose values differ from those the run in `dir` was
// started with (its config.json): resume() accepts those it may change and names the others.
nlohmann::json changed_options(const TrainConfig& config, const std::string& dir, const CLI::App& cmd) {
  const nlohmann::json saved = read_config_file((fs::path(dir) / "config.json").string());
  const nlohmann::json options = to_json(config);  // items() of a temporary would dangle
  nlohmann::json changed = nlohmann::json::object();
  for (const auto& item : options.items()) {
    if (item.key() == "model" || !typed_on_command_line(cmd, item.key())) continue;
    if (!saved.contains(item.key()) || saved[item.key()] != item.value()) changed[item.key()] = item.value();
  }
  return changed;
}

// Why a run ended, in the words of its flags.
std::string ended_by(const std::string& stop_reason) {
  if (stop_reason == "max_steps") return "stopped at --max-steps";
  if (stop_reason == "patience") return "stopped early: --patience";
  return "all --epochs done";
}

void run_train(const TrainOptions& opts, const CLI::App& cmd) {
  if (opts.nproc > 0) {
    if (opts.nproc == 1) {
      throw usage_error("--nproc 1 is a single process; HINT: drop --nproc, or give 2 or more");
    }
    validate(opts.config);
    launch_local_ranks(opts.nproc, without_option(own_command_line(), "--nproc"),
                       std::chrono::seconds(opts.config.dist_timeout));
    return;  // rank 0 printed the summary
  }
  TrainSummary summary;
  if (!opts.resume.empty()) {
    summary = resume(opts.resume, resume_overrides(opts, cmd));
  } else {
    const TrainConfig config = resolve_config(opts, cmd);
    const std::string restarted = restarted_run(config);
    if (!restarted.empty()) {
      const char* rank = std::getenv("RANK");
      if (rank == nullptr || std::string(rank) == "0") {
        spdlog::warn("torchrun restart {}: continuing {} from its last.pt", std::getenv("TORCHELASTIC_RESTART_COUNT"), restarted);
      }
      summary = resume(restarted, changed_options(config, restarted, cmd));
    } else {
      summary = train(config);
    }
  }
  if (summary.rank != 0) return;
  const auto& m = summary.final_metrics;
  if (m.is_null()) {
    std::printf("nothing to train: the run already ended (%s) after %lld epochs, %lld steps; "
                "HINT: raise --epochs or --max-steps; run: %s\n",
                ended_by(summary.stop_reason).c_str(), (long long)summary.epochs_done,
                (long long)summary.steps_done, summary.run_dir.c_str());
    return;
  }
  const std::string why =
      summary.stop_reason == "epochs" ? "" : " (" + ended_by(summary.stop_reason) + ")";
  const MetricSpec& best = find_validation_metric(summary.metrics, summary.best_metric);
  std::printf("%s: %s after %lld epochs, %lld steps%s; best %s %s; run: %s\n",
              summary.val_name.c_str(), format_metrics(summary.metrics, m, "val_").c_str(),
              (long long)summary.epochs_done, (long long)summary.steps_done, why.c_str(),
              summary.best_metric.c_str(), format_metric(best, summary.best).c_str(),
              summary.run_dir.c_str());
}

// The flags `zoo train` and `zoo finetune` share: every TrainConfig option but the
// fine-tuning ones.
void add_train_options(CLI::App* cmd, TrainOptions& opts) {
  TrainConfig& c = opts.config;
  auto option = [&](const std::string& name, auto& value, const std::string& help) {
    return cmd->add_option(name, value, help)->capture_default_str();
  };
  cmd->add_option("--data", c.data,
                  "Dataset name (imagenet, cifar10, cifar100, cifar100-coarse, mnist, "
                  "fashion-mnist under $ZOO_DATA; shapes, generated) or a folder (ImageFolder, "
                  "CIFAR batches, idx files); default: the model's own (fashion-mnist for lenet5). "
                  "charlm: a UTF-8 text file, a folder of them (see --text-ext) or NAME[.txt] under "
                  "$ZOO_DATA; default: common-licenses, the license texts every Debian system has "
                  "in /usr/share/common-licenses");
  option("--input-size", c.input_size,
         "Input height/width; 0: the dataset's native size (CIFAR 32, shapes 64) when smaller "
         "than the model's, else the model's default");
  option("--augment", c.augment,
         "Training augmentation: none (evaluation transform), standard (ImageFolder: "
         "RandomResizedCrop + flip; CIFAR/shapes: pad-4 random crop + flip), strong (standard + "
         "ColorJitter 0.4/0.4/0.4/0.1)")
      ->check(CLI::IsMember({"none", "standard", "strong"}));
  option("--val-split", c.val_split,
         "Fraction of each class held out for validation when an ImageFolder has no val/ or "
         "test/ folder (seeded by --seed); charlm: the fraction of the text, at its end, that "
         "validates");
  cmd->add_flag("--drop-last", c.drop_last, "Drop the last incomplete training batch of each epoch");
  cmd->add_flag("--aux-logits", c.aux_logits,
                "Build the auxiliary classifiers (GoogLeNet) and add their losses (weight 0.3 each)");
  option("--in-channels", c.in_channels,
         "Input channels the data is read as and the model built for: 1 (gray) or 3 (RGB); 0: "
         "the model's own (1 for lenet5, 3 for the ImageNet models)");
  option("--dropout", c.dropout,
         "Dropout probability; negative: the model's default (AlexNet/VGG/GoogLeNet their "
         "paper's; charlm 0, applied between recurrent layers)");
  // charlm
  option("--cell", c.cell, "charlm: recurrent cell, lstm, gru or rnn (tanh)")
      ->check(CLI::IsMember({"lstm", "gru", "rnn"}));
  option("--embed", c.embed, "charlm: character embedding width; captioner: word embedding width (default 256)");
  option("--hidden", c.hidden, "charlm: recurrent state width; captioner: LSTM width (default 512)");
  option("--layers", c.layers, "charlm: recurrent layers; captioner: LSTM layers (default 1)");
  option("--seq-len", c.seq_len,
         "charlm: characters per stream per batch, the span of truncated backpropagation "
         "through time (the state itself carries across batches)");
  cmd->add_option("--text-ext", c.text_ext,
                  "charlm: extensions of the files read from a --data folder, comma-separated; * "
                  "reads every file")
      ->delimiter(',')
      ->capture_default_str();
  option("--utf8-errors", c.utf8_errors,
         "charlm: invalid UTF-8 is an error naming the file and byte (strict) or read as U+FFFD "
         "(replace)")
      ->check(CLI::IsMember({"strict", "replace"}));
  // captioner
  option("--backbone", c.backbone,
         "captioner: the encoder, any zoo image classifier (`zoo list`). Default resnet18: the "
         "smallest torchvision backbone with published weights whose last map keeps a spatial grid "
         "for --attention (7x7 at 224 px), and fast enough to train end to end on a few cores");
  option("--backbone-weights", c.backbone_weights,
         "captioner: the encoder's starting weights: a file (.pt, .pth, .safetensors), a weights "
         "name (torchvision:resnet50) or a URL; default: random initialisation");
  cmd->add_flag("--attention", c.attention, "captioner: Show, Attend and Tell decoder (soft attention "
                "over the encoder's feature map) instead of Show and Tell");
  option("--attention-dim", c.attention_dim, "captioner: width of the attention MLP");
  option("--min-word-count", c.min_word_count,
         "captioner: training-caption words seen fewer times are read as <unk>");
  option("--max-caption-len", c.max_caption_len,
         "captioner: words per caption in training (longer ones are cut) and in validation decoding");
  cmd->add_flag_callback("--freeze-backbone", [&c] { c.freeze.push_back("backbone"); },
                         "captioner: train the decoder only (the same as --freeze backbone)");
  cmd->add_option_function<int64_t>("--finetune-backbone-at", [&c](const int64_t& epoch) { c.unfreeze_at = epoch; },
                                    "captioner: release the frozen encoder at this epoch (the same as "
                                    "--unfreeze-at)");
  // How long
  option("--epochs", c.epochs, "Number of passes over the training set");
  option("--batch-size", c.batch_size, "Samples per batch (per optimizer step without --accumulate); "
         "charlm: streams, each --seq-len characters");
  option("--accumulate", c.accumulate,
         "Batches whose gradients add up to one optimizer step (effective batch = batch size x this)");
  option("--max-steps", c.max_steps, "Stop after this many optimizer steps; 0: no limit (the "
         "schedule then spans the shorter of the two)");
  option("--limit-batches", c.limit_batches, "Train on only the first N batches of each epoch; 0: all");
  option("--limit-val-batches", c.limit_val_batches, "Validate on only the first N batches; 0: all");
  option("--patience", c.patience, "Early stopping: stop after N epochs without a new best "
         "--best-metric; 0: off");
  // Optimizer
  option("--optimizer", c.optimizer, "sgd, adam, adamw or rmsprop (charlm's default: adam)")
      ->check(CLI::IsMember({"sgd", "adam", "adamw", "rmsprop"}));
  option("--lr", c.lr, "Peak learning rate (after warmup); charlm's default: 0.002");
  option("--momentum", c.momentum, "Momentum of SGD and RMSprop, 0 to disable");
  cmd->add_flag("--nesterov", c.nesterov, "Nesterov momentum (SGD)");
  option("--beta1", c.beta1, "Adam/AdamW first-moment decay");
  option("--beta2", c.beta2, "Adam/AdamW second-moment decay");
  option("--alpha", c.alpha, "RMSprop smoothing constant");
  option("--eps", c.eps, "Adam/AdamW/RMSprop denominator epsilon");
  option("--weight-decay", c.weight_decay, "Weight decay (L2 for sgd/adam/rmsprop, decoupled for adamw); charlm's default: 0");
  cmd->add_flag("--wd-skip-norm-bias", c.wd_skip_norm_bias,
                "No weight decay on biases and normalization parameters (every 1-D parameter)");
  option("--label-smoothing", c.label_smoothing, "Label smoothing of the cross-entropy, in [0, 1)");
  option("--clip-grad-norm", c.clip_grad_norm, "Clip the gradients' total L2 norm to this; 0: off; charlm's default: 5");
  // Schedule
  option("--schedule", c.schedule,
         "Learning-rate schedule: constant, step (x gamma every --step-size epochs), multistep "
         "(x gamma at --milestones), cosine (per step down to --min-lr), plateau (x gamma when "
         "--best-metric stalls for --plateau-patience epochs), onecycle (lr/25 up to lr over "
         "--onecycle-pct of the steps, then down to lr/25e4)")
      ->check(CLI::IsMember({"constant", "step", "multistep", "cosine", "plateau", "onecycle"}));
  option("--warmup-epochs", c.warmup_epochs,
         "Linear warmup from lr x --warmup-factor over this many epochs (fractions allowed); the "
         "schedule starts after it");
  option("--warmup-factor", c.warmup_factor, "Warmup's starting fraction of --lr");
  option("--min-lr", c.min_lr, "Floor of cosine and plateau");
  option("--step-size", c.step_size, "step: epochs between decays");
  cmd->add_option("--milestones", c.milestones, "multistep: epochs at which lr is multiplied by "
                  "gamma, comma-separated (e.g. 30,60,80)")
      ->delimiter(',')
      ->expected(1);
  option("--gamma", c.gamma, "Decay factor of step, multistep and plateau");
  option("--plateau-patience", c.plateau_patience, "plateau: epochs without improvement before a decay");
  option("--onecycle-pct", c.onecycle_pct, "onecycle: share of the steps spent rising");
  // Numerics and devices
  option("--precision", c.precision,
         "fp32, bf16 (autocast on CPU or CUDA) or fp16 (autocast with loss scaling, CUDA only)")
      ->check(CLI::IsMember({"fp32", "bf16", "fp16"}));
  cmd->add_flag("--channels-last", c.channels_last, "Channels-last memory layout for weights and inputs");
  option("--device", c.device, "cpu, cuda or cuda:N (CUDA builds of zoo)");
  option("--threads", c.threads, kThreadsHelp);
  option("--workers", c.workers,
         "Data loader threads (0: load in the training thread); 2 measured best on 2 cores "
         "(docs/BENCHMARKS.md)");
  option("--seed", c.seed, "Seed of initialisation, shuffling and augmentation");
  cmd->add_flag("--deterministic", c.deterministic,
                "Deterministic algorithms only (an op without one is an error); with it a resumed "
                "run ends bit-identical to an uninterrupted one");
  // Data parallelism
  option("--nproc", opts.nproc,
         "Train on this many local ranks (processes), started by zoo with torchrun's environment; "
         "0: one process, or as many as torchrun started")->check(kNonNegativeNumber);
  option("--dist-backend", c.dist_backend, "Collectives of a data-parallel run: gloo (CPU), nccl (CUDA builds "
         "with NCCL) or auto (nccl on CUDA when available, else gloo)")
      ->check(CLI::IsMember({"auto", "gloo", "nccl"}));
  option("--bucket-mb", c.bucket_mb, "Size bound of each gradient all-reduce bucket (MiB); the first is 1 MiB so that "
         "communication starts early in the backward pass");
  cmd->add_flag("--sync-bn", c.sync_bn, "Batch-norm statistics over the batches of every rank (default: per rank, "
                "running statistics broadcast from rank 0 before each forward)");
  option("--dist-timeout", c.dist_timeout, "Seconds a rank waits for the others (rendezvous, all-reduce) before it "
         "fails with an error rather than hang");
  // Outputs
  cmd->add_option("--best-metric", c.best_metric,
                  "What picks best.pt (and drives plateau and --patience): a validation metric "
                  "of the task (classifiers: val_top1, val_top5, val_loss); default: the task's "
                  "own (val_top1 for classifiers)");
  option("--save-every", c.save_every, "Also write last.pt every N optimizer steps; 0: at epoch ends only");
  option("--log-every", c.log_every, "Optimizer steps per step row in metrics.jsonl/.csv");
  cmd->add_option("--name", c.name, "Run directory name under --runs-dir; default <model>-N");
  option("--runs-dir", c.runs_dir, "Where run directories go");
  cmd->add_flag("--quiet", c.quiet, "No progress display (log lines still go to train.log)");
  cmd->add_option("--config", opts.config_file,
                  "JSON file of options (keys as flags with '_'), e.g. a run's config.json; flags "
                  "given here override it");
  auto* resume = cmd->add_option("--resume", opts.resume,
                                 "Continue a run exactly where it stopped: its directory or its "
                                 "checkpoints/last.pt (--epochs, --max-steps, --patience may change "
                                 "the plan)");
  resume->excludes("--config");
}

}  // namespace

void register_train(CLI::App& app) {
  auto opts = std::make_shared<TrainOptions>();
  CLI::App* cmd = app.add_subcommand("train", "Train a model from scratch (or resume a run)");
  cmd->add_option("model", opts->config.model, "Model to train (see `zoo list`)")->capture_default_str();
  add_train_options(cmd, *opts);
  cmd->callback([opts, cmd] { run_train(*opts, *cmd); });
}

void register_finetune(CLI::App& app) {
  auto opts = std::make_shared<TrainOptions>();
  TrainConfig& c = opts->config;
  c.model.clear();
  CLI::App* cmd = app.add_subcommand(
      "finetune", "Fine-tune pretrained weights on a dataset, with frozen layers (or resume a run)");
  cmd->add_option("model", c.model,
                  "Model of the weights; default: the one a zoo checkpoint (.pt) or a weights name "
                  "names, required for .pth and .safetensors");
  cmd->add_option("--weights", c.weights,
                  "Pretrained weights: a zoo checkpoint (.pt), a PyTorch state dict (.pth), "
                  ".safetensors, or a weights name (torchvision:resnet50, fetched once; `zoo weights "
                  "list`) or URL. Loaded non-strictly: a head whose class count differs is reset "
                  "(same class names in another order: its rows are reordered); a first conv "
                  "trained on 3 channels used on 1 sums over its input channels, on 1 used on "
                  "3 is replicated / 3 (see --in-channels); anything else that does not fit is "
                  "an error");
  add_train_options(cmd, *opts);
  cmd->add_option("--freeze", c.freeze,
                  "What not to train (repeatable): conv, features or backbone (everything but "
                  "the head), none, all, up-to:LAYER (the modules up to and including LAYER, "
                  "e.g. up-to:layer3, up-to:features.16, up-to:denseblock3), or a glob on "
                  "parameter names ('layer1.*'); `zoo info MODEL --groups` lists them")
      ->capture_default_str();
  cmd->add_option("--train", c.train,
                  "Globs of parameters to train after all (repeatable), e.g. --freeze all "
                  "--train 'layer4.*' --train 'fc.*'");
  cmd->add_flag("--bn-train", c.bn_train,
                "Frozen batch norms keep updating their running statistics (default: inference "
                "mode, statistics untouched)");
  cmd->add_option("--head-lr", c.head_lr, "Learning rate of the head; 0: --lr")->capture_default_str();
  cmd->add_option("--unfreeze-at", c.unfreeze_at,
                  "Unfreeze the frozen layers at the start of this epoch (1-based), trained at "
                  "--lr x --unfrozen-lr-mult; 0: never")
      ->capture_default_str();
  cmd->add_option("--unfrozen-lr-mult", c.unfrozen_lr_mult,
                  "Learning-rate multiplier of the layers --unfreeze-at releases")
      ->capture_default_str();
  cmd->add_flag("--cache-features", c.cache_features,
                "With the whole backbone frozen and --augment none: compute its features once "
                "(in inference mode) and train the head on them every epoch");
  cmd->callback([opts, cmd] {
    TrainOptions resolved = *opts;
    if (resolved.resume.empty()) {
      if (resolved.config.weights.empty()) {
        throw usage_error("zoo finetune needs --weights (or --resume RUN); HINT: zoo finetune "
                          "resnet18 --weights resnet18.pth --data flowers/ --freeze conv");
      }
      if (resolved.config.model.empty()) resolved.config.model = model_of_weights(resolved.config.weights);
    }
    run_train(resolved, *cmd);
  });
}

}  // namespace zoo
