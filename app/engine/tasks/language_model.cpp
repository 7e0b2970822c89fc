// Character-level language modelling (language_model.h).
#include "app/engine/tasks/language_model.h"

#include "app/engine/checkpoint.h"
#include "app/engine/run_dir.h"
#include "app/engine/tasks/token_loss.h"
#include "common/error.h"
#include "weights/state_dict.h"

#include <torch/autograd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace zoo {

namespace {

constexpr double kLn2 = 0.69314718055994530942;

std::string count_text(int64_t n) {
  char buf[32];
  if (n >= 1000000) std::snprintf(buf, sizeof buf, "%.2fM", n / 1e6);
  else if (n >= 1000) std::snprintf(buf, sizeof buf, "%.1fk", n / 1e3);
  else std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(n));
  return buf;
}

std::string fraction_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

void add_figures(Sums& sums, double loss_sum, int64_t chars) {
  sums.add("loss", loss_sum, double(chars));
  sums.add("bpc", loss_sum / kLn2, double(chars));
}

}  // namespace

double TextEvalResult::bits_per_char() const { return loss / kLn2; }

TextOptions text_options_of(const TrainConfig& config) {
  TextOptions text;
  text.extensions = config.text_ext;
  text.errors = parse_utf8_errors(config.utf8_errors);
  return text;
}

int64_t validation_chars(int64_t chars, double val_split) {
  return static_cast<int64_t>(std::llround(double(chars) * val_split));
}

int64_t eval_streams(int64_t tokens, int64_t streams, int64_t steps) {
  return std::clamp<int64_t>(tokens / (steps + 1), 1, streams);
}

TextEvalResult evaluate_text(CharLmImpl& model, BatchSource& source, const torch::Device& device,
                             Precision precision, int64_t limit_batches) {
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  RnnState state;
  double sum = 0.0;
  int64_t chars = 0;
  source.start_epoch(0);
  int64_t batches = 0;
  while (auto batch = source.next()) {
    if (limit_batches > 0 && batches++ >= limit_batches) break;
    AutocastGuard autocast(precision, device);
    auto [logits, next] = model.forward(batch->inputs().to(device), state);
    state = next;
    const TokenLoss loss = token_cross_entropy(logits.to(torch::kFloat), batch->targets().to(device));
    sum += loss.sum;
    chars += loss.tokens;
  }
  if (was_training) model.train();
  return {chars > 0 ? sum / double(chars) : 0.0, chars};
}

LanguageModelTask::LanguageModelTask(TrainConfig& config, const TaskContext& context)
    : device_(context.device), precision_(context.precision) {
  if (!config.weights.empty()) {
    throw data_error("charlm trains from scratch; --weights (fine-tuning) is for image "
                      "classifiers; HINT: --resume RUN continues a charlm run");
  }
  if (config.data.empty()) config.data = kDefaultTextCorpus;
  data_ = config.data;
  corpus_ = read_text_corpus(config.data, text_options_of(config));
  vocab_ = Vocabulary::of_text(corpus_.text);
  const torch::Tensor tokens = vocab_.encode(corpus_.text, config.data);
  const int64_t n = tokens.numel();
  val_chars_ = validation_chars(n, config.val_split);
  train_chars_ = n - val_chars_;
  const int64_t streams = config.batch_size, steps = config.seq_len;
  if (val_chars_ < 2 || train_chars_ < streams * context.world_size * (steps + 2)) {
    throw data_error("text " + config.data + " has " + std::to_string(n) + " characters: too few for " +
                     std::to_string(streams) + " streams (--batch-size) of --seq-len " +
                     std::to_string(steps) + " plus a validation tail of " + fraction_text(config.val_split) +
                     " (--val-split); HINT: give more text, or lower --batch-size / --seq-len");
  }
  train_ = std::make_unique<StreamBatcher>(tokens.slice(0, 0, train_chars_),
                                           StreamOptions{streams, steps, /*shift=*/true, config.seed, context.rank, context.world_size});
  const torch::Tensor val = tokens.slice(0, train_chars_, n);
  val_ = std::make_unique<StreamBatcher>(val, StreamOptions{eval_streams(val_chars_, streams, steps), steps, false, 0});

  CharLmOptions options;
  options.vocab_size = vocab_.size();
  options.cell = config.cell;
  options.embed = config.embed;
  options.hidden = config.hidden;
  options.layers = config.layers;
  options.dropout = config.dropout < 0 ? 0.0 : config.dropout;
  model_ = CharLm(options);
  model_->to(device_);
}

std::vector<MetricSpec> LanguageModelTask::declared_metrics() {
  return {{"loss", "loss", Goal::kMin, MetricFormat::kDecimal, true},
          {"bpc", "bits/char", Goal::kMin, MetricFormat::kDecimal, true}};
}

std::string LanguageModelTask::describe() const {
  const auto& o = model_->options();
  return "charlm (" + o.cell + ", " + std::to_string(o.layers) + " x " + std::to_string(o.hidden) +
         ", embedding " + std::to_string(o.embed) + ") on " + data_ + " (" +
         std::to_string(corpus_.files.size()) + " file(s), " + count_text(corpus_.bytes) + " bytes, " +
         count_text(train_chars_ + val_chars_) + " characters, vocabulary " +
         std::to_string(vocab_.size()) + ": " + count_text(train_chars_) + " train / " +
         count_text(val_chars_) + " val" +
         (corpus_.replaced > 0 ? ", " + std::to_string(corpus_.replaced) + " invalid UTF-8 sequences replaced" : "") +
         ")";
}

void LanguageModelTask::begin_epoch(int64_t /*epoch*/, int64_t first_batch) {
  if (first_batch == 0) state_ = RnnState();  // a resumed run inside the epoch keeps its loaded state
}

StepOutput LanguageModelTask::train_step(const Batch& batch) {
  const auto inputs = batch.inputs().to(device_, /*non_blocking=*/true);
  const auto targets = batch.targets().to(device_, /*non_blocking=*/true);
  TokenLoss loss;
  {
    AutocastGuard autocast(precision_, device_);
    auto [logits, next] = model_->forward(inputs, state_);
    state_ = next.detach();  // truncated BPTT: the state goes on, its gradient stops here
    loss = token_cross_entropy(logits.to(torch::kFloat), targets);
  }
  StepOutput out;
  out.loss = loss.mean;
  add_figures(out.sums, loss.sum, loss.tokens);
  out.units = loss.tokens;
  return out;
}

nlohmann::json LanguageModelTask::validate(int64_t limit_batches) {
  const TextEvalResult r = evaluate_text(*model_, *val_, device_, precision_, limit_batches);
  return {{"loss", r.loss}, {"bpc", r.bits_per_char()}, {"skipped", 0}};
}

nlohmann::json LanguageModelTask::checkpoint_meta() const {
  return {{"task", "language-model"}, {"char_lm", to_json(model_->options())}, {"vocab", vocab_.to_json()}};
}

void LanguageModelTask::write_run_files(const RunDir& dir) const {
  dir.write_file("vocab.json", vocab_.to_json().dump() + "\n");
}

TaskState LanguageModelTask::state() const {
  TaskState s;
  if (state_.h.defined()) s.tensors.emplace_back("h", state_.h.to(torch::kCPU));
  if (state_.c.defined()) s.tensors.emplace_back("c", state_.c.to(torch::kCPU));
  return s;
}

void LanguageModelTask::load_state(const TaskState& s) {
  state_ = RnnState();
  for (const auto& [name, t] : s.tensors) {
    if (name == "h") state_.h = t.to(device_);
    if (name == "c") state_.c = t.to(device_);
  }
  const auto& o = model_->options();
  const std::vector<int64_t> shape{o.layers, train_->stream_count(), o.hidden};
  const bool fits = !state_.h.defined() || (state_.h.sizes() == shape && (o.cell == "lstm") == state_.c.defined() &&
                                            (!state_.c.defined() || state_.c.sizes() == shape));
  if (!fits) {
    throw data_error("the checkpoint's carried recurrent state does not fit this charlm (" + o.cell + ", " +
                     std::to_string(o.layers) + " x " + std::to_string(train_->stream_count()) + " x " +
                     std::to_string(o.hidden) + "); HINT: resume with the run's own options");
  }
}

bool is_language_model_meta(const nlohmann::json& meta) {
  return meta.value("task", "") == "language-model";
}

LoadedLanguageModel load_language_model(const std::string& path) {
  return load_language_model(load_checkpoint(path), path);
}

LoadedLanguageModel load_language_model(Checkpoint ckpt, const std::string& path) {
  if (!is_language_model_meta(ckpt.meta) || !ckpt.meta.contains("vocab") || !ckpt.meta.contains("char_lm")) {
    throw data_error(path + " holds a '" + ckpt.meta.value("model", std::string("?")) + "' model, not "
                     "a character-level language model; HINT: give a charlm checkpoint "
                     "(runs/charlm-N/checkpoints/best.pt)");
  }
  LoadedLanguageModel out;
  out.meta = ckpt.meta;
  out.vocab = Vocabulary::from_json(ckpt.meta.at("vocab"));
  CharLmOptions options;
  try {
    options = char_lm_options_from_json(ckpt.meta.at("char_lm"));
  } catch (const nlohmann::json::exception& e) {
    throw data_error(path + " has malformed charlm options: " + e.what());
  }
  if (options.vocab_size != out.vocab.size()) {
    throw data_error(path + " has a vocabulary of " + std::to_string(out.vocab.size()) +
                     " characters for a model of " + std::to_string(options.vocab_size));
  }
  out.model = CharLm(options);
  load_state_dict(*out.model, ckpt.model, LoadMode::kStrict, path);
  out.model->eval();
  return out;
}

}  // namespace zoo
