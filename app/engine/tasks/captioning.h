// Image captioning: the captioner (models/captioner.h) on a captioning set
// (data/caption_dataset.h). The vocabulary is built from the training captions (words seen at
// least --min-word-count times; the rest read as <unk>) and saved in checkpoints and vocab.json.
//
// Training is teacher forcing: each image comes with one of its references (another each
// epoch), <start> w1 .. wn are the inputs and w1 .. wn <end> the targets, padded per batch and
// masked, so the loss is cross-entropy per real word (data/../token_loss.h): a batch's loss is
// the same however much padding it carries. The encoder is a zoo classifier (--backbone),
// optionally from weights (--backbone-weights: any file or weights name zoo reads) and frozen
// (--freeze-backbone = --freeze backbone; --finetune-backbone-at E releases it at epoch E).
// Validation: the loss per word, and corpus BLEU-1..4 of greedy captions of every validation
// image against all its references; the best checkpoint has the highest val_bleu4.
#pragma once

#include "app/engine/caption.h"
#include "app/engine/checkpoint.h"
#include "app/engine/precision.h"
#include "app/engine/task.h"
#include "data/caption_dataset.h"
#include "data/loader.h"
#include "models/captioner.h"

#include <array>
#include <memory>

namespace zoo {

class CaptioningTask : public Task {
 public:
  CaptioningTask(TrainConfig& config, const TaskContext& context);

  static std::vector<MetricSpec> declared_metrics();

  torch::nn::Module& module() override { return *model_; }
  BatchSource& train_data() override { return *train_loader_; }
  std::vector<std::string> head_prefixes() const override { return model_->decoder_prefixes(); }
  std::string describe() const override;
  nlohmann::json resolved_input() const override;
  std::string validation_name() const override { return "val"; }
  std::vector<MetricSpec> metrics() const override { return declared_metrics(); }
  std::string default_best_metric() const override { return "val_bleu4"; }
  std::string throughput_unit() const override { return "images"; }
  StepOutput train_step(const Batch& batch) override;
  nlohmann::json validate(int64_t limit_batches) override;
  nlohmann::json checkpoint_meta() const override;
  void write_run_files(const RunDir& dir) const override;

 private:
  std::string data_;
  CaptionSplits splits_;
  std::shared_ptr<CaptionVocabulary> vocab_;
  SampleSpec spec_;
  Captioner model_{nullptr};
  std::unique_ptr<Loader> train_loader_, val_loader_;
  int64_t max_words_ = 20;
  torch::Device device_;
  Precision precision_;
};

// Teacher-forced loss of a batch: the captions' inputs (all but the last token) and targets
// (all but <start>), masked where padded.
struct CaptionBatchLoss {
  torch::Tensor mean;
  double sum = 0.0;
  int64_t words = 0;
};
CaptionBatchLoss caption_batch_loss(CaptionerImpl& model, const ImageFeatures& features, const Batch& batch,
                                    const torch::Device& device);

// A captioner rebuilt from a zoo checkpoint, in eval mode on the CPU, with what feeds it.
struct LoadedCaptioner {
  Captioner model{nullptr};
  CaptionVocabulary vocab;
  SampleSpec spec;
  nlohmann::json meta;
};
bool is_captioner_meta(const nlohmann::json& meta);

// Beam-searched captions of every image of a split against its references: corpus BLEU-1..4,
// CIDEr-D (document frequencies over this split's references) and per-image results.
struct CaptionedImage {
  std::string image;                  // file path, or the generated scene's name
  std::vector<std::string> caption;   // the best hypothesis's words
  double score = 0.0;                 // its beam score
  double bleu4 = 0.0;                 // sentence BLEU-4 against the image's references
  double cider = 0.0;
};
struct CaptionEvalResult {
  std::array<double, 4> bleu{};
  double brevity_penalty = 0.0;
  double cider = 0.0;
  std::vector<CaptionedImage> images;
};
CaptionEvalResult evaluate_captions(CaptionerImpl& model, const CaptionVocabulary& vocab,
                                    std::shared_ptr<CaptionDataset> split, const BeamOptions& beam,
                                    int64_t batch_size, int workers);
LoadedCaptioner load_captioner(const std::string& path);
LoadedCaptioner load_captioner(Checkpoint ckpt, const std::string& path);

}  // namespace zoo
