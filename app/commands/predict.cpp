// zoo predict [MODEL] --weights CKPT|NAME IMAGE...: the top-k classes with probabilities for each
// image file, preprocessed as the checkpoint's model expects; --json for scripts.
#include "app/commands/commands.h"
#include "app/engine/model_io.h"
#include "app/engine/trainer.h"
#include "common/device.h"
#include "common/error.h"
#include "common/json_text.h"
#include "data/image.h"

#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>
#include <torch/utils.h>

#include <cstdio>
#include <memory>

namespace zoo {

namespace {

struct PredictOptions {
  std::vector<std::string> inputs;  // [MODEL] IMAGE...
  std::string weights;
  bool transform_input = false;
  int64_t top_k = 5;
  int threads = 0;  // 0: resolve_threads
  bool json = false;
};

void run_predict(PredictOptions opts) {
  const std::string expected = take_model_name(opts.inputs);
  if (opts.inputs.empty()) {
    throw usage_error("no image given; HINT: zoo predict --weights CKPT image.png [more.jpg ...]");
  }
  at::set_num_threads(resolve_threads(opts.threads));
  LoadedClassifier loaded = load_classifier(opts.weights, expected, opts.transform_input);
  require_trained_head(loaded, "zoo predict");
  std::vector<torch::Tensor> images;
  for (const auto& path : opts.inputs) images.push_back(load_image_file(path, loaded.spec));
  torch::NoGradGuard no_grad;
  auto probs = torch::softmax(loaded.model->forward(torch::stack(images)), 1);  // N x classes
  const int64_t k = std::min<int64_t>(opts.top_k, probs.size(1));
  auto [values, indices] = probs.topk(k, 1);

  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < opts.inputs.size(); ++i) {
    nlohmann::json top = nlohmann::json::array();
    for (int64_t j = 0; j < k; ++j) {
      const int64_t c = indices[i][j].item<int64_t>();
      top.push_back({{"class", loaded.class_names.at(c)}, {"index", c},
                     {"probability", values[i][j].item<double>()}});
    }
    out.push_back({{"image", opts.inputs[i]}, {"top", top}});
  }
  if (opts.json) {
    std::printf("%s\n", json_text(out, 2).c_str());
    return;
  }
  for (const auto& row : out) {
    std::printf("%s\n", row["image"].get<std::string>().c_str());
    for (const auto& t : row["top"]) {
      std::printf("  %6.2f%%  %s\n", 100.0 * t["probability"].get<double>(),
                  t["class"].get<std::string>().c_str());
    }
  }
}

}  // namespace

void register_predict(CLI::App& app) {
  auto opts = std::make_shared<PredictOptions>();
  CLI::App* cmd = app.add_subcommand("predict", "Classify image files with a checkpoint");
  cmd->add_option("inputs", opts->inputs, "[MODEL] IMAGE...: optional model name, then images");
  cmd->add_option("--weights", opts->weights, "Weights: a zoo checkpoint (.pt), a .pth/.safetensors state dict with MODEL named, or a weights name (torchvision:resnet50; `zoo weights list`) or URL")->required();
  cmd->add_option("--top-k", opts->top_k, "How many classes to show per image")
      ->check(kPositiveNumber)
      ->capture_default_str();
  add_threads_option(cmd, opts->threads)
      ->capture_default_str();
  cmd->add_flag("--transform-input", opts->transform_input,
                "GoogLeNet from .pth/.safetensors: rescale ImageNet-normalized input the way "
                "torchvision's pretrained GoogLeNet does (torchvision sets this with its weights)");
  cmd->add_flag("--json", opts->json, "Print machine-readable JSON on stdout");
  cmd->callback([opts] { run_predict(*opts); });
}

}  // namespace zoo
