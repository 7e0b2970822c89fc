// Seed generator for the formats only zoo writes, with zoo's own writers so the seeds follow
// the code: `fuzz_seeds OUT_DIR [NAME...]` writes, for the names given (default all three),
// OUT_DIR/checkpoint/*.pt (save_checkpoint, through checkpoint_shim.h: a training checkpoint
// with optimizer and RNG state, a weights-only one, one with task tensors),
// OUT_DIR/train_config/*.json (to_json of the default TrainConfig, a charlm and a fine-tuning
// config) and OUT_DIR/meta/*.json (a checkpoint's metadata as the classification, captioning
// and language-model tasks write it: the sample spec, the vocabularies and the model options
// by their to_json). scripts/fuzz_seeds.py runs it and adds edge cases.
#include "app/engine/train_config.h"
#include "common/error.h"
#include "data/captions.h"
#include "data/sample_spec_json.h"
#include "data/text.h"
#include "fuzz/checkpoint_shim.h"
#include "models/captioner.h"
#include "models/charlm.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

namespace fs = std::filesystem;

namespace {

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw zoo::io_error("cannot write " + path.string());
}

// What a checkpoint's metadata holds for `zoo predict`/`eval` (classifier), `zoo caption`
// (captioner) and `zoo sample` (charlm), beside the trainer's own keys. The classifier's
// "model_options" are written out here: their to_json is the engine's (app/engine/model_io.h).
void write_meta_seeds(const fs::path& dir) {
  zoo::SampleSpec spec;
  spec.channels = 3;
  spec.height = spec.width = 64;
  spec.mean = {0.5, 0.5, 0.5};
  spec.std = {0.25, 0.25, 0.25};
  nlohmann::json classifier = zoo::sample_spec_to_json(spec);
  classifier["model"] = "resnet18";
  classifier["class_names"] = {"circle", "square"};
  classifier["model_options"] = {{"num_classes", 2}, {"in_channels", 3}, {"input_size", 64}};
  write_text(dir / "classifier.json", classifier.dump());

  zoo::SampleSpec imagenet;
  imagenet.channels = 3;
  imagenet.height = imagenet.width = 224;
  imagenet.mean = {0.485, 0.456, 0.406};
  imagenet.std = {0.229, 0.224, 0.225};
  imagenet.resize = 256;
  const auto captions = zoo::CaptionVocabulary::build(
      {{"a.jpg", {{"a", "red", "circle"}, {"a", "circle"}}}, {"b.jpg", {{"two", "blue", "squares"}}}}, 1);
  zoo::CaptionerOptions captioner;
  captioner.vocab_size = captions.size();
  nlohmann::json caption_meta = zoo::sample_spec_to_json(imagenet);
  caption_meta["task"] = "captioning";
  caption_meta["captioner"] = zoo::to_json(captioner);
  caption_meta["vocab"] = captions.to_json();
  caption_meta["max_caption_len"] = 20;
  write_text(dir / "captioner.json", caption_meta.dump());
  captioner.attention = true;
  captioner.backbone = "vgg11";
  caption_meta["captioner"] = zoo::to_json(captioner);
  write_text(dir / "captioner_attention.json", caption_meta.dump(1));

  const auto chars = zoo::Vocabulary::of_text(U"Hello, w\u00f6rld!\n\t\u20ac\U0001F600");
  zoo::CharLmOptions lm;
  lm.vocab_size = chars.size();
  lm.cell = "gru";
  write_text(dir / "charlm.json",
             nlohmann::json{{"task", "language-model"}, {"char_lm", zoo::to_json(lm)}, {"vocab", chars.to_json()}}.dump());
}

void write_train_config_seeds(const fs::path& dir) {
  const zoo::TrainConfig config;
  zoo::TrainConfig lm;
  lm.model = "charlm";
  lm.optimizer = "adam";
  lm.lr = 2e-3;
  lm.text_ext = {".txt", ".md"};
  zoo::TrainConfig tune;
  tune.model = "resnet18";
  tune.weights = "torchvision:resnet18";
  tune.freeze = {"conv", "up-to:layer3"};
  tune.train = {"layer4.*"};
  tune.schedule = "multistep";
  tune.milestones = {3, 6};
  tune.precision = "bf16";
  tune.unfreeze_at = 2;
  write_text(dir / "default.json", zoo::to_json(config).dump(2));
  write_text(dir / "charlm.json", zoo::to_json(lm).dump());
  write_text(dir / "finetune.json", zoo::to_json(tune).dump());
  write_text(dir / "small.json", R"({"model": "lenet5", "epochs": 2, "lr": 0.1, "resolved": {"device": "cpu"}})");
}

}  // namespace

int main(int argc, char** argv) {
  const std::set<std::string> known = {"checkpoint", "train_config", "meta"};
  std::set<std::string> names(argv + std::min(argc, 2), argv + argc);
  if (names.empty()) names = known;
  if (argc < 2 || !std::includes(known.begin(), known.end(), names.begin(), names.end())) {
    std::fprintf(stderr, "usage: fuzz_seeds OUT_DIR [checkpoint|train_config|meta...]\n");
    return 2;
  }
  try {
    const fs::path out = argv[1];
    for (const auto& name : names) fs::create_directories(out / name);
    if (names.count("train_config")) write_train_config_seeds(out / "train_config");
    if (names.count("checkpoint")) {
      zoo::fuzz::write_checkpoint_seeds((out / "checkpoint").string(), zoo::to_json(zoo::TrainConfig{}).dump());
    }
    if (names.count("meta")) write_meta_seeds(out / "meta");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
