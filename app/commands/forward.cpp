// zoo forward MODEL --weights W --input x.safetensors --output y.safetensors: runs a classifier
// once on a tensor from a safetensors file and writes the logits ("output", plus "aux1",
// "aux2" for GoogLeNet with aux heads in --train-mode) to another, for parity checks against
// PyTorch. --seed S calls torch::manual_seed(S) right before the forward, so dropout masks are
// the ones PyTorch draws after torch.manual_seed(S). No preprocessing: the tensor goes in as is.
#include "app/commands/commands.h"
#include "app/engine/model_io.h"
#include "common/error.h"
#include "models/registry.h"
#include "weights/weights_io.h"

#include <torch/utils.h>

#include <memory>

namespace zoo {

namespace {

struct ForwardOptions {
  std::string model;
  bool transform_input = false;
  std::string weights;
  std::string input;
  std::string output;
  bool train_mode = false;
  int64_t num_classes = 0;  // 0: from the weights; otherwise must match them
  int64_t seed = 0;
  bool has_seed = false;
};

// The tensor named "input", or the file's only tensor.
torch::Tensor read_input(const std::string& path) {
  StateDict tensors = read_safetensors(path);
  for (auto& [name, tensor] : tensors) {
    if (name == "input") return tensor;
  }
  if (tensors.size() == 1) return tensors.front().second;
  std::string names;
  for (const auto& item : tensors) names += (names.empty() ? "" : ", ") + item.first;
  throw data_error(path + ": expected a tensor named 'input' or a single tensor, found " +
                   std::to_string(tensors.size()) + " (" + names +
                   "); HINT: save it as safetensors.torch.save_file({'input': x}, path)");
}

void run_forward(const ForwardOptions& opts) {
  if (!opts.model.empty()) find_model(opts.model);  // an unknown name is a usage error before any file is read
  require_safetensors("--output", opts.output);
  LoadedClassifier loaded = load_classifier(opts.weights, opts.model, opts.transform_input);
  if (opts.num_classes > 0 && opts.num_classes != loaded.model->num_classes()) {
    throw usage_error("--num-classes " + std::to_string(opts.num_classes) + " disagrees with " +
                      opts.weights + ", whose head has " +
                      std::to_string(loaded.model->num_classes()) +
                      " classes; HINT: drop --num-classes, it is read from the weights");
  }
  torch::Tensor x = read_input(opts.input);
  if (x.dim() != 4) {
    throw data_error(opts.input + ": expected an N x C x H x W tensor, found " +
                     std::to_string(x.dim()) + " dimensions");
  }
  if (x.size(1) != loaded.spec.channels) {
    throw data_error(opts.input + ": the input has " + std::to_string(x.size(1)) + " channels, " + loaded.model_name +
                     " takes " + std::to_string(loaded.spec.channels) + "; HINT: save an N x " +
                     std::to_string(loaded.spec.channels) + " x H x W tensor");
  }
  x = x.to(torch::kFloat32).contiguous();
  if (opts.train_mode) loaded.model->train();
  torch::NoGradGuard no_grad;
  if (opts.has_seed) torch::manual_seed(static_cast<uint64_t>(opts.seed));
  ClassifierOutput out = loaded.model->forward_with_aux(x);
  StateDict result{{"output", out.logits.contiguous()}};
  for (size_t i = 0; i < out.aux.size(); ++i) {
    result.emplace_back("aux" + std::to_string(i + 1), out.aux[i].contiguous());
  }
  write_safetensors(opts.output, result);
}

}  // namespace

void register_forward(CLI::App& app) {
  auto opts = std::make_shared<ForwardOptions>();
  CLI::App* cmd = app.add_subcommand(
      "forward", "Run a model on a tensor from a .safetensors file and write the logits");
  cmd->add_option("model", opts->model, "Model name (see `zoo list`)")->required();
  cmd->add_option("--weights", opts->weights,
                  "Weights: a zoo checkpoint (.pt), a .pth/.safetensors state dict, or a weights name (torchvision:resnet50) or URL")
      ->required();
  cmd->add_option("--input", opts->input,
                  "A .safetensors file with an N x C x H x W tensor named 'input' (or only one tensor)")
      ->required();
  cmd->add_option("--output", opts->output,
                  "The .safetensors file to write: 'output' (and 'aux1', 'aux2' with aux heads)")
      ->required();
  cmd->add_flag("--transform-input", opts->transform_input,
                "GoogLeNet from .pth/.safetensors: rescale ImageNet-normalized input the way "
                "torchvision's pretrained GoogLeNet does (torchvision sets this with its weights)");
  cmd->add_flag("--train-mode", opts->train_mode,
                "Run in training mode (dropout, batch statistics, aux heads)");
  cmd->add_option("--num-classes", opts->num_classes,
                  "Expected class count; an error if the weights' head differs")
      ->check(kPositiveNumber);
  cmd->add_option("--seed", opts->seed, "torch::manual_seed(S) just before the forward");
  cmd->callback([opts, cmd] {
    opts->has_seed = cmd->count("--seed") > 0;
    run_forward(*opts);
  });
}

}  // namespace zoo
