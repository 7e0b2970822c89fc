// Character-level language modelling: the charlm model (models/charlm.h) on a text corpus
// (data/text.h). The corpus is decoded to code points; the vocabulary is every character in
// it; the last --val-split of the text (a contiguous tail) is the validation text.
//
// Training is truncated backpropagation through time: the training text is cut into
// --batch-size contiguous streams (data/stream_batcher.h), each batch holds the next --seq-len
// characters of every stream, and the recurrent state is carried from one batch to the next and
// detached between them, so gradients span --seq-len steps while the state spans the epoch.
// The state resets at each epoch's start (the streams move by a seeded offset each epoch) and is
// saved in last.pt, so a resumed run continues exactly. Loss: cross-entropy per character
// (nats); metrics: loss and bits per character (loss / ln 2), both in training and validation;
// the best checkpoint has the lowest val_loss. Validation reads the validation text as
// contiguous streams from a zero state. Checkpoints carry the vocabulary and the model's sizes,
// so that sample and eval rebuild the model from the file alone.
#pragma once

#include "app/engine/checkpoint.h"
#include "app/engine/precision.h"
#include "app/engine/task.h"
#include "data/stream_batcher.h"
#include "data/text.h"
#include "models/charlm.h"

#include <memory>

namespace zoo {

class LanguageModelTask : public Task {
 public:
  // Reads config.data (the default corpus when empty; filled in) and builds the model for its
  // vocabulary. Fine-tuning from --weights is not a language-model feature (a usage error).
  LanguageModelTask(TrainConfig& config, const TaskContext& context);

  static std::vector<MetricSpec> declared_metrics();

  torch::nn::Module& module() override { return *model_; }
  BatchSource& train_data() override { return *train_; }
  std::string describe() const override;
  std::string validation_name() const override { return "val"; }
  std::vector<MetricSpec> metrics() const override { return declared_metrics(); }
  std::string default_best_metric() const override { return "val_loss"; }
  std::string throughput_unit() const override { return "chars"; }
  void begin_epoch(int64_t epoch, int64_t first_batch) override;
  StepOutput train_step(const Batch& batch) override;
  nlohmann::json validate(int64_t limit_batches) override;
  nlohmann::json checkpoint_meta() const override;
  void write_run_files(const RunDir& dir) const override;
  TaskState state() const override;
  void load_state(const TaskState& state) override;

 private:
  std::string data_;
  TextCorpus corpus_;
  Vocabulary vocab_;
  CharLm model_{nullptr};
  std::unique_ptr<StreamBatcher> train_;
  std::unique_ptr<StreamBatcher> val_;
  int64_t train_chars_ = 0;
  int64_t val_chars_ = 0;
  torch::Device device_;
  Precision precision_;
  RnnState state_;  // carried across the batches of an epoch
};

// Mean cross-entropy per character (nats) of a model over a batch source of token streams,
// each stream read from a zero state; at most limit_batches batches when > 0.
struct TextEvalResult {
  double loss = 0.0;
  int64_t chars = 0;
  double bits_per_char() const;
};
TextEvalResult evaluate_text(CharLmImpl& model, BatchSource& source, const torch::Device& device,
                             Precision precision, int64_t limit_batches = 0);

// How a run reads its text (--text-ext, --utf8-errors), and how many characters at the end of
// a text of `chars` characters validate (--val-split): the task trains by these and `zoo eval`
// rescores the same validation tail by them.
TextOptions text_options_of(const TrainConfig& config);
int64_t validation_chars(int64_t chars, double val_split);

// The streams a text of `tokens` characters is cut into for evaluation: at most `streams`,
// each at least `steps` + 1 long where the text allows.
int64_t eval_streams(int64_t tokens, int64_t streams, int64_t steps);

// A language model rebuilt from a zoo checkpoint, in eval mode on the CPU.
struct LoadedLanguageModel {
  CharLm model{nullptr};
  Vocabulary vocab;
  nlohmann::json meta;
};
// Throws data_error when `path` is a checkpoint of another model or lacks the vocabulary.
LoadedLanguageModel load_language_model(const std::string& path);
// The same from a checkpoint already read from `path`.
LoadedLanguageModel load_language_model(Checkpoint ckpt, const std::string& path);

// Whether a zoo checkpoint's metadata is a language model's.
bool is_language_model_meta(const nlohmann::json& meta);

}  // namespace zoo
