// zoo features [MODEL] --weights W --data D --out feats.safetensors: the backbone's features
// (the penultimate layer: what the head sees) and the label of every readable image of a
// dataset, for linear probes and retrieval. Preprocessing is the checkpoint's evaluation
// transform; the file holds "features" (N x D float32), "labels" (N int64) and "split"
// (N uint8: 0 train, 1 validation/test), with the model, weights, data and class names in its
// metadata. Unreadable images are skipped with a warning, as in training.
#include "app/commands/commands.h"
#include "app/engine/model_io.h"
#include "common/device.h"
#include "common/error.h"
#include "common/json_text.h"
#include "data/loader.h"
#include "weights/weights_io.h"

#include <ATen/Parallel.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>

namespace zoo {

namespace {

struct FeaturesOptions {
  std::vector<std::string> model;  // optional model name (required for .pth/.safetensors)
  std::string weights;
  std::string data;
  std::string out;
  std::string split = "all";  // train | val | all
  int64_t batch_size = 128;
  int threads = 0;  // 0: resolve_threads
  int workers = 2;
};

void run_features(FeaturesOptions opts) {
  require_safetensors("--out", opts.out);
  const std::string expected = take_model_name(opts.model);
  if (!opts.model.empty()) {
    throw usage_error("unexpected argument '" + opts.model.front() + "'; HINT: zoo features [MODEL] "
                      "--weights W --data D --out feats.safetensors");
  }
  at::set_num_threads(resolve_threads(opts.threads));
  LoadedClassifier loaded = load_classifier(opts.weights, expected);
  std::string data = opts.data;
  DataSplits splits = open_eval_data(loaded, opts.weights, data);

  std::vector<torch::Tensor> features, labels, split_ids;
  torch::NoGradGuard no_grad;
  for (int which = 0; which < 2; ++which) {
    if ((which == 0 && opts.split == "val") || (which == 1 && opts.split == "train")) continue;
    LoaderOptions lo;
    lo.batch_size = opts.batch_size;
    lo.shuffle = false;
    lo.workers = opts.workers;
    Loader loader(which == 0 ? splits.train : splits.val, lo);
    loader.start_epoch(0);
    while (auto batch = loader.next()) {
      if (batch->size() == 0) continue;
      features.push_back(loaded.model->features(batch->inputs()));
      labels.push_back(batch->targets());
      split_ids.push_back(torch::full({batch->size()}, which, torch::kUInt8));
    }
    if (loader.skipped()) spdlog::warn("skipped {} unreadable samples", loader.skipped());
  }
  if (features.empty()) throw data_error("no readable sample in " + data + "; HINT: check the dataset's files");
  const StateDict out = {{"features", torch::cat(features).contiguous()},
                         {"labels", torch::cat(labels)},
                         {"split", torch::cat(split_ids)}};
  const std::map<std::string, std::string> metadata = {
      {"model", loaded.model_name},
      {"weights", valid_utf8(opts.weights)},
      {"data", valid_utf8(data)},
      {"splits", "0: train, 1: " + splits.val_name},
      {"class_names", json_text(splits.class_names)}};
  write_safetensors(opts.out, out, metadata);
  std::printf("wrote %s: %lld x %lld features of %s on %s\n", opts.out.c_str(),
              (long long)out[0].second.size(0), (long long)out[0].second.size(1),
              loaded.model_name.c_str(), data.c_str());
}

}  // namespace

void register_features(CLI::App& app) {
  auto opts = std::make_shared<FeaturesOptions>();
  CLI::App* cmd = app.add_subcommand(
      "features", "Write the backbone's features and the labels of a dataset to .safetensors");
  cmd->add_option("model", opts->model, "Model name; required for .pth/.safetensors weights");
  cmd->add_option("--weights", opts->weights, "Weights: a zoo checkpoint (.pt), a .pth/.safetensors state dict, or a weights name (torchvision:resnet50) or URL")->required();
  cmd->add_option("--data", opts->data, "Dataset name or path; default: the one it was trained on");
  cmd->add_option("--out", opts->out, "The .safetensors file to write")->required();
  cmd->add_option("--split", opts->split, "train, val (the validation or test split) or all")
      ->check(CLI::IsMember({"train", "val", "all"}))
      ->capture_default_str();
  cmd->add_option("--batch-size", opts->batch_size, "Images per forward pass")->capture_default_str();
  add_threads_option(cmd, opts->threads)->capture_default_str();
  cmd->add_option("--workers", opts->workers, "Data loader threads")->capture_default_str();
  cmd->callback([opts] { run_features(*opts); });
}

}  // namespace zoo
