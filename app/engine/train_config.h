// TrainConfig: every option of `zoo train`, with its default, its validation and its JSON
// form. Serialised whole to config.json and into each checkpoint, so that a run can be resumed
// and reproduced; `--config file.json` reads the same form back.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace zoo {

struct TrainConfig {
  // What to train on
  std::string model = "lenet5";
  std::string data;                  // empty: the model's default dataset
  int64_t input_size = 0;            // 0: the dataset's native size (CIFAR 32, shapes 64) if smaller, else the model's
  std::string augment = "standard";  // none | standard | strong (training split only)
  double val_split = 0.1;            // held-out fraction when an ImageFolder has no val/ or test/
  bool drop_last = false;            // drop the last incomplete training batch
  bool aux_logits = false;           // build auxiliary heads (GoogLeNet) and train them too
  int64_t in_channels = 0;           // 0: the model's; 1 or 3 feeds (and builds) that many
  double dropout = -1.0;             // <0: the model's default (classifiers: their own; charlm: 0)
  // Sequence models: character-level language model (charlm) and captioner
  std::string cell = "lstm";         // lstm | gru | rnn
  int64_t embed = 64;                // character / word embedding width (captioner: 256)
  int64_t hidden = 256;              // recurrent state width (captioner: 512)
  int64_t layers = 2;                // recurrent layers (captioner: 1)
  int64_t seq_len = 64;              // characters per batch row; the state is detached between batches
  std::vector<std::string> text_ext{".txt"};  // extensions read from a folder; "*": every file
  std::string utf8_errors = "strict";         // strict | replace
  // Image captioner
  std::string backbone = "resnet18";  // the encoder: any zoo image classifier
  std::string backbone_weights;       // the encoder's starting weights (file, weights name or URL)
  bool attention = false;             // Show, Attend and Tell decoder
  int64_t attention_dim = 256;        // attention MLP width
  int64_t min_word_count = 1;         // training-caption words seen fewer times read as <unk>
  int64_t max_caption_len = 20;       // words per caption in training (longer ones cut) and decoding
  // Fine-tuning (zoo finetune)
  std::string weights;               // pretrained weights to start from (.pt, .pth, .safetensors)
  std::vector<std::string> freeze;   // conv | features | backbone | none | all | up-to:LAYER | glob
  std::vector<std::string> train;    // globs re-enabled after --freeze
  bool bn_train = false;             // frozen batch norms keep updating their statistics
  double head_lr = 0.0;              // 0: --lr; else the head's learning rate
  int64_t unfreeze_at = 0;           // 0: never; else unfreeze everything at this (1-based) epoch
  double unfrozen_lr_mult = 0.1;     // lr multiplier of the layers --unfreeze-at releases
  bool cache_features = false;       // frozen backbone: compute its features once
  // How long
  int64_t epochs = 10;
  int64_t batch_size = 64;
  int64_t accumulate = 1;            // batches per optimizer step (gradient accumulation)
  int64_t max_steps = 0;             // 0: no limit; else stop after this many optimizer steps
  int64_t limit_batches = 0;         // 0: all; else training batches per epoch
  int64_t limit_val_batches = 0;     // 0: all; else validation batches per epoch
  int64_t patience = 0;              // 0: off; else stop after this many epochs without a new best
  // Optimizer
  std::string optimizer = "sgd";     // sgd | adam | adamw | rmsprop
  double lr = 0.02;
  double momentum = 0.9;             // SGD and RMSprop momentum
  bool nesterov = false;             // SGD
  double beta1 = 0.9;                // Adam/AdamW
  double beta2 = 0.999;              // Adam/AdamW
  double alpha = 0.99;               // RMSprop smoothing constant
  double eps = 1e-8;                 // Adam/AdamW/RMSprop
  double weight_decay = 5e-4;
  bool wd_skip_norm_bias = false;    // no weight decay on biases and norm parameters (1-D)
  double label_smoothing = 0.0;
  double clip_grad_norm = 0.0;       // 0: off
  // Learning-rate schedule
  std::string schedule = "cosine";   // constant | step | multistep | cosine | plateau | onecycle
  double warmup_epochs = 0.0;        // linear warmup (may be fractional)
  double warmup_factor = 0.01;       // warmup starts at lr * warmup_factor
  double min_lr = 0.0;               // cosine floor, plateau floor
  int64_t step_size = 30;            // step: epochs between decays
  std::vector<int64_t> milestones;   // multistep: epochs at which to decay
  double gamma = 0.1;                // step/multistep/plateau decay factor
  int64_t plateau_patience = 5;      // plateau: epochs without improvement before a decay
  double onecycle_pct = 0.3;         // onecycle: share of steps spent rising
  // Numerics and devices
  std::string precision = "fp32";    // fp32 | bf16 | fp16 (CUDA)
  bool channels_last = false;
  std::string device = "cpu";        // cpu | cuda | cuda:N
  int threads = 0;                   // LibTorch intra-op threads; 0: resolve_threads (common/device.h)
  int workers = 2;                   // loader threads (measured: docs/BENCHMARKS.md)
  uint64_t seed = 42;
  bool deterministic = false;
  // Data parallelism (under torchrun or --nproc; ignored by a single process)
  std::string dist_backend = "auto";  // auto | gloo | nccl
  double bucket_mb = 25.0;           // gradient all-reduce bucket size bound (MiB)
  bool sync_bn = false;              // batch-norm statistics over every rank's batch
  int64_t dist_timeout = 1800;       // seconds a collective may wait for the other ranks
  // Outputs
  std::string best_metric;           // a val_<metric> of the task; empty: the task's default
  int64_t save_every = 0;            // 0: last.pt at epoch ends only; else also every N steps
  int64_t log_every = 1;             // optimizer steps between step rows in metrics.*
  std::string name;                  // run directory name; empty: <model>-N
  std::string runs_dir = "runs";
  bool quiet = false;
};

nlohmann::json to_json(const TrainConfig& c);
// Missing keys keep their defaults (configs of older runs still load).
TrainConfig train_config_from_json(const nlohmann::json& j);

// Throws usage_error naming the flag when a value is out of range or options conflict.
void validate(const TrainConfig& c);

// The command-line flag of a TrainConfig key: "batch_size" -> "--batch-size".
std::string flag_of(const std::string& key);

}  // namespace zoo
