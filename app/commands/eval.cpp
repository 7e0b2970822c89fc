// zoo eval [MODEL] --weights CKPT [--data D] [--split test|train]: accuracy, top-5 and
// per-class accuracy of a checkpoint on a dataset split; --json for scripts.
#include "app/commands/commands.h"
#include "app/engine/evaluate.h"
#include "app/engine/model_io.h"
#include "app/engine/trainer.h"
#include "common/error.h"
#include "data/datasets.h"

#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <memory>

namespace zoo {

namespace {

struct EvalOptions {
  std::vector<std::string> model;  // optional model name, checked against the checkpoint
  std::string weights;
  bool transform_input = false;
  std::string data;
  std::string split = "test";
  int64_t batch_size = 256;
  int threads = 1;  // 0: one per available core
  int workers = 1;
  bool json = false;
};

void run_eval(EvalOptions opts) {
  const std::string expected = take_model_name(opts.model);
  if (!opts.model.empty()) {
    throw usage_error("unexpected argument '" + opts.model.front() + "'; HINT: zoo eval [MODEL] "
                      "--weights CKPT [--data D]");
  }
  at::set_num_threads(opts.threads > 0 ? opts.threads : available_cores());
  LoadedClassifier loaded = load_classifier(opts.weights, expected, opts.transform_input);
  const std::string data = opts.data.empty() ? loaded.meta.value("data", "") : opts.data;
  if (data.empty()) {
    throw usage_error(opts.weights + " does not say which dataset it was trained on; HINT: pass --data");
  }
  DataOptions data_options;
  data_options.sample = loaded.spec;
  data_options.input_size = loaded.spec.height;  // the checkpoint's geometry, not the dataset's
  data_options.augment = "none";
  // An ImageFolder without val/ is split by the run's --val-split and --seed: the same split.
  const nlohmann::json config = loaded.meta.value("config", nlohmann::json::object());
  data_options.val_split = config.value("val_split", data_options.val_split);
  data_options.seed = config.value("seed", data_options.seed);
  DataSplits splits = open_dataset(data, data_options);
  if (splits.class_names.size() != loaded.class_names.size()) {
    throw data_error("dataset " + data + " has " + std::to_string(splits.class_names.size()) +
                     " classes but the checkpoint was trained on " +
                     std::to_string(loaded.class_names.size()) + "; HINT: evaluate on the dataset "
                     "the model was trained on");
  }
  auto dataset = opts.split == "train" ? splits.train : splits.val;
  LoaderOptions lo;
  lo.batch_size = opts.batch_size;
  lo.shuffle = false;
  lo.workers = opts.workers;
  Loader loader(dataset, lo);
  EvalResult r = evaluate(*loaded.model, loader, static_cast<int64_t>(loaded.class_names.size()));
  const auto per_class = r.per_class_accuracy();

  const std::string split_name = opts.split == "train" ? "train" : splits.val_name;
  if (opts.json) {
    nlohmann::json out = {{"weights", opts.weights}, {"model", loaded.model_name},
                          {"data", data},            {"split", split_name},
                          {"count", r.count},        {"skipped", r.skipped},
                          {"loss", r.loss},          {"top1", r.top1},
                          {"top5", r.top5},          {"per_class", nlohmann::json::array()}};
    for (size_t c = 0; c < per_class.size(); ++c) {
      out["per_class"].push_back({{"class", loaded.class_names[c]},
                                  {"accuracy", per_class[c]},
                                  {"count", r.class_count(c)}});
    }
    out["confusion"] = r.confusion;
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  std::printf("%s on %s (%s, %lld samples): top-1 %.2f%%, top-5 %.2f%%, loss %.4f\n",
              loaded.model_name.c_str(), data.c_str(), split_name.c_str(), (long long)r.count,
              100.0 * r.top1, 100.0 * r.top5, r.loss);
  std::printf("%-20s %9s %7s\n", "class", "accuracy", "count");
  for (size_t c = 0; c < per_class.size(); ++c) {
    std::printf("%-20s %8.2f%% %7lld\n", loaded.class_names[c].c_str(), 100.0 * per_class[c],
                (long long)r.class_count(c));
  }
}

}  // namespace

void register_eval(CLI::App& app) {
  auto opts = std::make_shared<EvalOptions>();
  CLI::App* cmd = app.add_subcommand("eval", "Evaluate a checkpoint on a dataset split");
  cmd->add_option("model", opts->model, "Optional model name, checked against the checkpoint");
  cmd->add_option("--weights", opts->weights, "Weights: a zoo checkpoint (.pt), or a .pth/.safetensors state dict with MODEL named")->required();
  cmd->add_option("--data", opts->data, "Dataset name or path; default: the one it was trained on");
  cmd->add_option("--split", opts->split, "Which split to evaluate")
      ->check(CLI::IsMember({"test", "train"}))
      ->capture_default_str();
  cmd->add_option("--batch-size", opts->batch_size, "Samples per forward pass")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--threads", opts->threads, "LibTorch intra-op threads; 0: one per available core")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--workers", opts->workers, "Data loader threads")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_flag("--transform-input", opts->transform_input,
                "GoogLeNet from .pth/.safetensors: rescale ImageNet-normalized input the way "
                "torchvision's pretrained GoogLeNet does (torchvision sets this with its weights)");
  cmd->add_flag("--json", opts->json, "Print machine-readable JSON on stdout");
  cmd->callback([opts] { run_eval(*opts); });
}

}  // namespace zoo
