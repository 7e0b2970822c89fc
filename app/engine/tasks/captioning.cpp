// Image captioning (captioning.h).
#include "app/engine/tasks/captioning.h"

#include "app/engine/caption_metrics.h"
#include "app/engine/model_io.h"
#include "app/engine/run_dir.h"
#include "app/engine/tasks/token_loss.h"
#include "common/error.h"
#include "weights/state_dict.h"

#include <spdlog/spdlog.h>
#include <torch/types.h>
#include <torch/utils.h>

namespace zoo {

namespace {

// The image geometry and normalisation the captioner feeds its encoder: the backbone's
// normalisation, square images of --input-size (0: the set decides, see open_caption_data).
SampleSpec caption_spec(const ModelInfo& backbone, int64_t input_size, int64_t in_channels) {
  SampleSpec spec;
  spec.channels = in_channels > 0 ? in_channels : 3;
  spec.height = spec.width = input_size;
  spec.mean = backbone.norm.mean;
  spec.std = backbone.norm.std;
  spec.resize = 0;
  return spec;
}

}  // namespace

CaptioningTask::CaptioningTask(TrainConfig& config, const TaskContext& context)
    : device_(context.device), precision_(context.precision) {
  if (!config.weights.empty()) {
    throw usage_error("the captioner's encoder starts from --backbone-weights, not --weights; HINT: zoo train "
                      "captioner --backbone resnet50 --backbone-weights torchvision:resnet50 --freeze-backbone");
  }
  if (config.data.empty()) config.data = kDefaultCaptionData;
  data_ = config.data;
  const ModelInfo& backbone_info = find_classifier(config.backbone, "--backbone");
  SampleSpec spec = caption_spec(backbone_info, config.input_size, config.in_channels);
  Classifier backbone;
  bool transform_input = false;
  if (!config.backbone_weights.empty()) {
    // Any weights zoo reads (file, name or URL), loaded strictly into the backbone.
    LoadedClassifier loaded = load_classifier(config.backbone_weights, config.backbone);
    backbone = loaded.model;
    spec.mean = loaded.spec.mean;
    spec.std = loaded.spec.std;
    transform_input = loaded.meta.value("model_options", nlohmann::json::object()).value("transform_input", false);
    backbone->train();
  }
  splits_ = open_caption_data(config.data, spec);
  spec_ = splits_.train->spec();
  if (!backbone) {
    ModelOptions o;
    o.num_classes = 1000;
    o.in_channels = spec_.channels;
    o.input_size = spec_.height;
    backbone = build_classifier(config.backbone, o);
  }
  vocab_ = std::make_shared<CaptionVocabulary>(CaptionVocabulary::build(splits_.train->images(), config.min_word_count));
  max_words_ = config.max_caption_len;
  for (auto* split : {splits_.train.get(), splits_.val.get()}) split->set_vocabulary(vocab_, max_words_);

  CaptionerOptions options;
  options.vocab_size = vocab_->size();
  options.backbone = config.backbone;
  options.backbone_classes = backbone->num_classes();
  options.transform_input = transform_input;
  options.in_channels = spec_.channels;
  options.input_size = spec_.height;
  options.embed = config.embed;
  options.hidden = config.hidden;
  options.layers = config.layers;
  options.dropout = config.dropout < 0 ? 0.3 : config.dropout;
  options.attention = config.attention;
  options.attention_dim = config.attention_dim;
  model_ = Captioner(options, backbone);
  model_->to(device_);

  LoaderOptions train_options;
  train_options.batch_size = config.batch_size;
  train_options.shuffle = true;
  train_options.drop_last = config.drop_last;
  train_options.workers = config.workers;
  train_options.seed = config.seed;
  train_options.rank = context.rank;
  train_options.world = context.world_size;
  train_loader_ = std::make_unique<Loader>(splits_.train, train_options);
  LoaderOptions val_options = train_options;
  val_options.rank = 0;  // every rank decodes the whole split: BLEU is not a mean of samples
  val_options.world = 1;
  val_options.shuffle = false;
  val_options.drop_last = false;
  val_loader_ = std::make_unique<Loader>(splits_.val, val_options);
}

std::vector<MetricSpec> CaptioningTask::declared_metrics() {
  return {{"loss", "loss", Goal::kMin, MetricFormat::kDecimal, true},
          {"bleu1", "BLEU-1", Goal::kMax, MetricFormat::kDecimal, false},
          {"bleu4", "BLEU-4", Goal::kMax, MetricFormat::kDecimal, false}};
}

std::string CaptioningTask::describe() const {
  const auto& o = model_->options();
  size_t captions = 0;
  for (const auto& image : splits_.train->images()) captions += image.captions.size();
  return "captioner (" + o.backbone + " encoder, LSTM " + std::to_string(o.layers) + " x " + std::to_string(o.hidden) +
         ", embedding " + std::to_string(o.embed) + (o.attention ? ", soft attention" : "") + ") on " + data_ + " (" +
         splits_.format + ": " + std::to_string(splits_.train->size()) + " train / " +
         std::to_string(splits_.val->size()) + " val images, " + std::to_string(captions) +
         " training captions, vocabulary " + std::to_string(vocab_->size()) + " words, input " +
         std::to_string(spec_.channels) + "x" + std::to_string(spec_.height) + "x" + std::to_string(spec_.width) + ")";
}

nlohmann::json CaptioningTask::resolved_input() const {
  const std::string size = std::to_string(spec_.height) + "x" + std::to_string(spec_.width);
  const std::string pipeline =
      (spec_.resize > 0 ? "Resize(" + std::to_string(spec_.resize) + ") + CenterCrop(" + size + ")" : "Resize(" + size + ")") +
      " + Normalize";
  return resolved_image_input(spec_, pipeline + " (captions: no image augmentation)", pipeline, {});
}

CaptionBatchLoss caption_batch_loss(CaptionerImpl& model, const ImageFeatures& features, const Batch& batch,
                                    const torch::Device& device) {
  const torch::Tensor captions = batch.get(kCaptions).to(device);
  const torch::Tensor mask = batch.get(kMask).to(device);
  const int64_t T = captions.size(1);
  const torch::Tensor logits = model.forward_features(features, captions.slice(1, 0, T - 1));  // N x T-1 x V
  const TokenLoss loss = token_cross_entropy(logits.to(torch::kFloat), captions.slice(1, 1, T), mask.slice(1, 1, T));
  return {loss.mean, loss.sum, loss.tokens};
}

StepOutput CaptioningTask::train_step(const Batch& batch) {
  CaptionBatchLoss loss;
  {
    AutocastGuard autocast(precision_, device_);
    const ImageFeatures features = model_->encode(batch.inputs().to(device_, /*non_blocking=*/true));
    loss = caption_batch_loss(*model_, features, batch, device_);
  }
  StepOutput out;
  out.loss = loss.mean;
  out.sums.add("loss", loss.sum, double(loss.words));
  out.units = batch.size();
  return out;
}

nlohmann::json CaptioningTask::validate(int64_t limit_batches) {
  torch::NoGradGuard no_grad;
  const bool was_training = model_->is_training();
  model_->eval();
  double loss_sum = 0.0;
  int64_t words = 0, batches = 0;
  std::vector<std::vector<Tokens>> references;
  std::vector<Tokens> hypotheses;
  val_loader_->start_epoch(0);
  while (auto batch = val_loader_->next()) {
    if (limit_batches > 0 && batches++ >= limit_batches) break;
    if (batch->size() == 0) continue;
    AutocastGuard autocast(precision_, device_);
    const ImageFeatures features = model_->encode(batch->inputs().to(device_));
    const CaptionBatchLoss loss = caption_batch_loss(*model_, features, *batch, device_);
    loss_sum += loss.sum;
    words += loss.words;
    const auto captions = greedy_decode(*model_, features, max_words_);
    const torch::Tensor indices = batch->targets();
    for (size_t i = 0; i < captions.size(); ++i) {
      hypotheses.push_back(vocab_->decode(captions[i]));
      references.push_back(splits_.val->references(static_cast<size_t>(indices[i].item<int64_t>())));
    }
  }
  if (was_training) model_->train();
  const BleuScores bleu = hypotheses.empty() ? BleuScores{} : corpus_bleu(references, hypotheses);
  return {{"loss", words > 0 ? loss_sum / double(words) : 0.0},
          {"bleu1", bleu.bleu[0]},
          {"bleu4", bleu.bleu[3]},
          {"skipped", val_loader_->skipped()}};
}

nlohmann::json CaptioningTask::checkpoint_meta() const {
  nlohmann::json meta = sample_spec_to_json(spec_);
  meta["task"] = "captioning";
  meta["captioner"] = to_json(model_->options());
  meta["vocab"] = vocab_->to_json();
  meta["max_caption_len"] = max_words_;
  return meta;
}

void CaptioningTask::write_run_files(const RunDir& dir) const {
  dir.write_file("vocab.json", vocab_->to_json().dump() + "\n");
}

CaptionEvalResult evaluate_captions(CaptionerImpl& model, const CaptionVocabulary& vocab,
                                    std::shared_ptr<CaptionDataset> split, const BeamOptions& beam,
                                    int64_t batch_size, int workers) {
  torch::NoGradGuard no_grad;
  model.eval();
  split->set_vocabulary(std::make_shared<CaptionVocabulary>(vocab), 0);
  LoaderOptions o;
  o.batch_size = batch_size;
  o.shuffle = false;
  o.workers = workers;
  Loader loader(split, o);
  loader.start_epoch(0);
  CaptionEvalResult out;
  std::vector<std::vector<Tokens>> references;
  std::vector<Tokens> hypotheses;
  while (auto batch = loader.next()) {
    if (batch->size() == 0) continue;
    const ImageFeatures features = model.encode(batch->inputs());
    const torch::Tensor indices = batch->targets();
    for (int64_t i = 0; i < batch->size(); ++i) {
      const auto index = static_cast<size_t>(indices[i].item<int64_t>());
      const auto beams = beam_search(model, select_features(features, torch::tensor({i})), beam);
      CaptionedImage r;
      r.image = split->describe(index);
      if (!beams.empty()) {
        r.caption = vocab.decode(beams.front().words);
        r.score = beams.front().score;
      }
      r.bleu4 = sentence_bleu4(split->references(index), r.caption);
      references.push_back(split->references(index));
      hypotheses.push_back(r.caption);
      out.images.push_back(std::move(r));
    }
  }
  if (hypotheses.empty()) throw data_error("no image of the split could be read; nothing to evaluate");
  const BleuScores bleu = corpus_bleu(references, hypotheses);
  for (int n = 0; n < 4; ++n) out.bleu[n] = bleu.bleu[n];
  out.brevity_penalty = bleu.brevity_penalty;
  const CiderScores cider = cider_d(references, hypotheses);
  out.cider = cider.mean;
  for (size_t i = 0; i < out.images.size(); ++i) out.images[i].cider = cider.per_image[i];
  return out;
}

bool is_captioner_meta(const nlohmann::json& meta) { return meta.value("task", "") == "captioning"; }

LoadedCaptioner load_captioner(const std::string& path) { return load_captioner(load_checkpoint(path), path); }

LoadedCaptioner load_captioner(Checkpoint ckpt, const std::string& path) {
  if (!is_captioner_meta(ckpt.meta) || !ckpt.meta.contains("vocab") || !ckpt.meta.contains("captioner")) {
    throw data_error(path + " holds a '" + ckpt.meta.value("model", std::string("?")) + "' model, not a captioner; "
                     "HINT: give a captioner checkpoint (runs/captioner-N/checkpoints/best.pt)");
  }
  LoadedCaptioner out;
  CaptionerOptions options;
  try {
    out.vocab = CaptionVocabulary::from_json(ckpt.meta.at("vocab"));
    options = captioner_options_from_json(ckpt.meta.at("captioner"));
    out.spec = sample_spec_from_json(ckpt.meta);
  } catch (const nlohmann::json::exception& e) {
    throw data_error(path + " has malformed captioner metadata: " + e.what());
  }
  if (options.vocab_size != out.vocab.size()) {
    throw data_error(path + " has a vocabulary of " + std::to_string(out.vocab.size()) + " words for a model of " +
                     std::to_string(options.vocab_size));
  }
  ModelOptions backbone;
  backbone.num_classes = options.backbone_classes;
  backbone.in_channels = options.in_channels;
  backbone.input_size = options.input_size;
  backbone.transform_input = options.transform_input;
  out.model = Captioner(options, build_classifier(options.backbone, backbone));
  load_state_dict(*out.model, ckpt.model, LoadMode::kStrict, path);
  out.model->eval();
  out.meta = std::move(ckpt.meta);
  return out;
}

}  // namespace zoo
