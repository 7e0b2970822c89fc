// zoo eval [MODEL] --weights CKPT [--data D] [--split test|train]: accuracy, top-5, per-class
// precision / recall / F1 with macro averages, and a confusion-matrix PNG of a checkpoint on
// a dataset split; for a charlm checkpoint, loss and bits per character on a text; --json for
// scripts.
#include "app/commands/commands.h"
#include "app/engine/evaluate.h"
#include "app/engine/model_io.h"
#include "app/engine/plots.h"
#include "app/engine/tasks/captioning.h"
#include "app/engine/tasks/language_model.h"
#include "app/engine/trainer.h"
#include "common/device.h"
#include "common/error.h"
#include "common/json_text.h"
#include "common/text.h"
#include "data/datasets.h"
#include "data/stream_batcher.h"
#include "data/text.h"
#include "weights/hub.h"
#include "weights/weights_io.h"

#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

namespace zoo {

namespace {

struct EvalOptions {
  std::vector<std::string> model;  // optional model name, checked against the checkpoint
  std::string weights;
  bool transform_input = false;
  std::string data;
  std::string split = "test";
  int64_t batch_size = 0;  // 0: 256 images; charlm: the run's own streams
  int threads = 0;  // 0: resolve_threads
  int workers = 1;
  bool json = false;
  std::string confusion = "auto";  // "auto": see default_confusion_path; "": none
  bool no_confusion = false;
  bool ignore_class_names = false;
  BeamOptions beam;  // captioner
};

// Where confusion.png goes by default: the run directory when the weights are a run's
// checkpoint (runs/<name>/checkpoints/best.pt -> runs/<name>/), else the current directory.
// The train split gets confusion-train.png so that it does not replace the test split's.
std::string default_confusion_path(const std::string& weights, const std::string& split) {
  namespace fs = std::filesystem;
  const std::string file = split == "train" ? "confusion-train.png" : "confusion.png";
  const fs::path dir = fs::path(weights).parent_path();
  if (dir.filename() == "checkpoints" && dir.has_parent_path()) {
    return (dir.parent_path() / file).string();
  }
  return file;
}

// A character-level language model on a text: loss and bits per character over all of it
// (default: the validation tail of the text it was trained on), read as --batch-size streams.
void run_eval_text(const EvalOptions& opts, LoadedLanguageModel lm) {
  const TrainConfig config = train_config_from_json(lm.meta.value("config", nlohmann::json::object()));
  const std::string data = opts.data.empty() ? config.data : opts.data;
  const TextCorpus corpus = read_text_corpus(data, text_options_of(config));
  torch::Tensor tokens = lm.vocab.encode(corpus.text, "text " + data);
  std::string part = "all";
  if (opts.data.empty()) {  // the run's own validation tail (or, with --split train, the rest)
    const int64_t n = tokens.numel();
    const int64_t val = validation_chars(n, config.val_split);
    tokens = opts.split == "train" ? tokens.slice(0, 0, n - val) : tokens.slice(0, n - val, n);
    part = opts.split == "train" ? "train" : "val";
  }
  if (tokens.numel() < 2) throw data_error("text " + data + " is too short to evaluate (under 2 characters)");
  // The run's own stream count by default, so that its validation tail scores as in training.
  const int64_t streams = opts.batch_size > 0 ? opts.batch_size : config.batch_size;
  StreamBatcher batches(tokens, {eval_streams(tokens.numel(), streams, config.seq_len), config.seq_len, false, 0});
  const TextEvalResult r = evaluate_text(*lm.model, batches, torch::kCPU, Precision::kFp32);
  if (opts.json) {
    const nlohmann::json out = {{"weights", opts.weights}, {"model", "charlm"}, {"data", data},
                                {"split", part},           {"chars", r.chars},  {"loss", r.loss},
                                {"bpc", r.bits_per_char()}};
    std::printf("%s\n", json_text(out, 2).c_str());
    return;
  }
  std::printf("charlm on %s (%s, %lld characters predicted): loss %.4f nats/char, %.4f bits/char\n",
              data.c_str(), part.c_str(), (long long)r.chars, r.loss, r.bits_per_char());
}

// A captioner on a captioning set: beam-searched captions of a split, corpus BLEU-1..4 and
// CIDEr-D; --json adds every image's caption and scores.
void run_eval_captions(const EvalOptions& opts, LoadedCaptioner lc) {
  const TrainConfig config = train_config_from_json(lc.meta.value("config", nlohmann::json::object()));
  const std::string data = opts.data.empty() ? config.data : opts.data;
  if (data.empty()) throw usage_error(opts.weights + " does not say which data it was trained on; HINT: pass --data");
  CaptionSplits splits = open_caption_data(data, lc.spec);
  std::shared_ptr<CaptionDataset> split = splits.val;
  std::string part = "val";
  if (opts.split == "train") {
    split = splits.train;
    part = "train";
  } else if (splits.test) {
    split = splits.test;
    part = "test";
  }
  const CaptionEvalResult r = evaluate_captions(*lc.model, lc.vocab, split, opts.beam,
                                                opts.batch_size > 0 ? opts.batch_size : 64, opts.workers);
  if (opts.json) {
    nlohmann::json images = nlohmann::json::array();
    for (size_t i = 0; i < r.images.size(); ++i) {
      const auto& im = r.images[i];
      images.push_back({{"image", im.image}, {"caption", join_words(im.caption)}, {"score", im.score},
                        {"bleu4", im.bleu4}, {"cider", im.cider}});
    }
    const nlohmann::json out = {{"weights", opts.weights}, {"model", "captioner"}, {"data", data},
                                {"split", part}, {"images", r.images.size()}, {"beam", opts.beam.beam},
                                {"bleu1", r.bleu[0]}, {"bleu2", r.bleu[1]}, {"bleu3", r.bleu[2]},
                                {"bleu4", r.bleu[3]}, {"brevity_penalty", r.brevity_penalty},
                                {"cider", r.cider}, {"per_image", images}};
    std::printf("%s\n", json_text(out, 2).c_str());
    return;
  }
  std::printf("captioner on %s (%s, %zu images, beam %lld): BLEU-1 %.4f, BLEU-2 %.4f, BLEU-3 %.4f, "
              "BLEU-4 %.4f (brevity penalty %.4f), CIDEr-D %.4f\n",
              data.c_str(), part.c_str(), r.images.size(), (long long)opts.beam.beam, r.bleu[0], r.bleu[1],
              r.bleu[2], r.bleu[3], r.brevity_penalty, r.cider);
}

void run_eval(EvalOptions opts) {
  const std::string expected = take_model_name(opts.model);
  if (!opts.model.empty()) {
    throw usage_error("unexpected argument '" + opts.model.front() + "'; HINT: zoo eval [MODEL] "
                      "--weights CKPT [--data D]");
  }
  at::set_num_threads(resolve_threads(opts.threads));
  // A zoo checkpoint is read once; its metadata says which kind of model it holds.
  std::optional<Checkpoint> ckpt;
  if (!is_weights_reference(opts.weights) && weights_format_of(opts.weights) == WeightsFormat::kZooCheckpoint) {
    ckpt = load_checkpoint(opts.weights);
  }
  const std::string model = ckpt ? ckpt->meta.value("model", "") : expected;
  if (!model.empty() && find_model(model).is_captioner()) {
    if (!ckpt) throw usage_error("a captioner is evaluated from its zoo checkpoint (.pt); HINT: runs/captioner-N/checkpoints/best.pt");
    run_eval_captions(opts, load_captioner(std::move(*ckpt), opts.weights));
    return;
  }
  if (!model.empty() && !find_model(model).is_classifier()) {
    run_eval_text(opts, ckpt ? load_language_model(std::move(*ckpt), opts.weights) : load_language_model(opts.weights));
    return;
  }
  LoadedClassifier loaded = ckpt ? load_classifier(std::move(*ckpt), opts.weights, expected, opts.transform_input)
                                 : load_classifier(opts.weights, expected, opts.transform_input);
  require_trained_head(loaded, "zoo eval");
  std::string data = opts.data;
  DataSplits splits = open_eval_data(loaded, opts.weights, data);
  if (splits.class_names.size() != loaded.class_names.size()) {
    throw data_error("dataset " + data + " has " + std::to_string(splits.class_names.size()) +
                     " classes but the checkpoint was trained on " +
                     std::to_string(loaded.class_names.size()) + "; HINT: evaluate on the dataset "
                     "the model was trained on");
  }
  // A zoo checkpoint knows its classes: labels are compared by index, so other names (or the
  // same in another order) would make every figure meaningless without a word.
  if (loaded.meta.contains("class_names") && splits.class_names != loaded.class_names && !opts.ignore_class_names) {
    throw data_error("dataset " + data + " has the classes (" + name_list(splits.class_names) +
                     ") but " + opts.weights + " was trained on (" + name_list(loaded.class_names) +
                     "); HINT: fine-tune it on this dataset (zoo finetune), or pass "
                     "--ignore-class-names to compare labels by index anyway");
  }
  auto dataset = opts.split == "train" ? splits.train : splits.val;
  LoaderOptions lo;
  lo.batch_size = opts.batch_size > 0 ? opts.batch_size : 256;
  lo.shuffle = false;
  lo.workers = opts.workers;
  Loader loader(dataset, lo);
  EvalResult r = evaluate(*loaded.model, loader, static_cast<int64_t>(loaded.class_names.size()));
  const auto precision = r.per_class_precision();
  const auto recall = r.per_class_recall();
  const auto f1 = r.per_class_f1();
  std::string confusion_png = opts.no_confusion ? "" : opts.confusion;
  if (confusion_png == "auto") confusion_png = default_confusion_path(opts.weights, opts.split);
  if (!confusion_png.empty()) {
    write_confusion_png(confusion_png, r.confusion, loaded.class_names);
    spdlog::info("wrote {}", confusion_png);
  }

  const std::string split_name = opts.split == "train" ? "train" : splits.val_name;
  if (opts.json) {
    nlohmann::json out = {{"weights", opts.weights}, {"model", loaded.model_name},
                          {"data", data},            {"split", split_name},
                          {"count", r.count},        {"skipped", r.skipped},
                          {"loss", r.loss},          {"top1", r.top1},
                          {"top5", r.top5},          {"macro_precision", r.macro_precision()},
                          {"macro_recall", r.macro_recall()}, {"macro_f1", r.macro_f1()},
                          {"per_class", nlohmann::json::array()}};
    for (size_t c = 0; c < recall.size(); ++c) {
      out["per_class"].push_back({{"class", loaded.class_names[c]},
                                  {"accuracy", recall[c]},
                                  {"precision", precision[c]},
                                  {"recall", recall[c]},
                                  {"f1", f1[c]},
                                  {"count", r.class_count(c)},
                                  {"predicted", r.predicted_count(c)}});
    }
    out["confusion_png"] = confusion_png.empty() ? nlohmann::json(nullptr) : nlohmann::json(confusion_png);
    out["confusion"] = r.confusion;
    std::printf("%s\n", json_text(out, 2).c_str());
    return;
  }
  std::printf("%s on %s (%s, %lld samples): top-1 %.2f%%, top-5 %.2f%%, loss %.4f\n",
              loaded.model_name.c_str(), data.c_str(), split_name.c_str(), (long long)r.count,
              100.0 * r.top1, 100.0 * r.top5, r.loss);
  // Recall is the class's accuracy (correct / samples of that class).
  std::printf("%-20s %10s %10s %10s %7s\n", "class", "precision", "recall", "F1", "count");
  for (size_t c = 0; c < recall.size(); ++c) {
    std::printf("%-20s %9.2f%% %9.2f%% %9.2f%% %7lld\n", loaded.class_names[c].c_str(),
                100.0 * precision[c], 100.0 * recall[c], 100.0 * f1[c], (long long)r.class_count(c));
  }
  std::printf("%-20s %9.2f%% %9.2f%% %9.2f%% %7lld\n", "macro average", 100.0 * r.macro_precision(),
              100.0 * r.macro_recall(), 100.0 * r.macro_f1(), (long long)r.count);
}

}  // namespace

void register_eval(CLI::App& app) {
  auto opts = std::make_shared<EvalOptions>();
  CLI::App* cmd = app.add_subcommand("eval", "Evaluate a checkpoint on a dataset split");
  cmd->add_option("model", opts->model, "Optional model name, checked against the checkpoint");
  cmd->add_option("--weights", opts->weights, "Weights: a zoo checkpoint (.pt), a .pth/.safetensors state dict with MODEL named, or a weights name (torchvision:resnet50) or URL")->required();
  cmd->add_option("--data", opts->data, "Dataset name or path (charlm: a text file or folder, "
                  "evaluated whole); default: the one it was trained on (charlm: its validation "
                  "tail)");
  cmd->add_flag("--ignore-class-names", opts->ignore_class_names,
                "Evaluate even when the dataset's class names differ from the checkpoint's "
                "(labels are compared by index)");
  cmd->add_option("--split", opts->split, "Which split to evaluate (captioner: test is the set's test split when it has one, else val)")
      ->check(CLI::IsMember({"test", "train"}))
      ->capture_default_str();
  cmd->add_option("--batch-size", opts->batch_size,
                  "Samples per forward pass; default 256 (charlm: streams, default the run's own "
                  "--batch-size, so that its validation tail scores as in training)")
      ->check(kNonNegativeNumber);
  add_threads_option(cmd, opts->threads)
      ->capture_default_str();
  cmd->add_option("--workers", opts->workers, "Data loader threads")
      ->check(kNonNegativeNumber)
      ->capture_default_str();
  cmd->add_flag("--transform-input", opts->transform_input,
                "GoogLeNet from .pth/.safetensors: rescale ImageNet-normalized input the way "
                "torchvision's pretrained GoogLeNet does (torchvision sets this with its weights)");
  cmd->add_option("--confusion", opts->confusion,
                  "Write the confusion matrix as a PNG here; default: confusion.png "
                  "(confusion-train.png for --split train) in the run directory when the weights "
                  "are runs/<name>/checkpoints/*.pt, else in the current directory; '' for none");
  cmd->add_flag("--no-confusion", opts->no_confusion, "Do not write the confusion-matrix PNG");
  add_beam_options(cmd, opts->beam, "captioner: ");
  cmd->add_flag("--json", opts->json, "Print machine-readable JSON on stdout (captioner: with every image's caption)");
  cmd->callback([opts] { run_eval(*opts); });
}

}  // namespace zoo
