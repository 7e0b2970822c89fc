// Seed generator for the formats only zoo writes, with zoo's own writers so the seeds follow
// the code: `fuzz_seeds OUT_DIR` writes OUT_DIR/checkpoint/*.pt (save_checkpoint, through
// checkpoint_shim.h: a training checkpoint with optimizer and RNG state, a weights-only one,
// one with task tensors) and OUT_DIR/train_config/*.json (to_json of the default TrainConfig,
// a charlm and a fine-tuning config). scripts/fuzz_seeds.py runs it and adds edge cases.
#include "app/engine/train_config.h"
#include "common/error.h"
#include "fuzz/checkpoint_shim.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace {

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw zoo::io_error("cannot write " + path.string());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seeds OUT_DIR\n");
    return 2;
  }
  try {
    const fs::path out = argv[1];
    fs::create_directories(out / "checkpoint");
    fs::create_directories(out / "train_config");

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
    write_text(out / "train_config" / "default.json", zoo::to_json(config).dump(2));
    write_text(out / "train_config" / "charlm.json", zoo::to_json(lm).dump());
    write_text(out / "train_config" / "finetune.json", zoo::to_json(tune).dump());
    write_text(out / "train_config" / "small.json",
               R"({"model": "lenet5", "epochs": 2, "lr": 0.1, "resolved": {"device": "cpu"}})");

    zoo::fuzz::write_checkpoint_seeds((out / "checkpoint").string(), zoo::to_json(config).dump());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
