// zoo convert IN OUT [--model NAME]: moves weights between a zoo checkpoint (.pt), a PyTorch
// state dict (.pth) and .safetensors, each format chosen by its extension. Writing a zoo
// checkpoint from a bare state dict needs --model: the weights are loaded strictly into that
// model, so the result is a self-describing checkpoint that eval and predict take as is. IN may
// be a weights name or URL (weights/hub.h): the cached file is read, fetched first if needed.
#include "app/commands/commands.h"
#include "app/engine/checkpoint.h"
#include "app/engine/model_io.h"
#include "common/error.h"
#include "weights/hub.h"
#include "weights/weights_io.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>

namespace zoo {

namespace {

struct ConvertOptions {
  std::string input;
  std::string output;
  std::string model;
};

void run_convert(const ConvertOptions& opts) {
  const WeightsFormat out = weights_format_of(opts.output);
  if (!opts.model.empty()) find_model(opts.model);
  // Catalogue files are torchvision's .pth; a path or URL says by its extension.
  WeightsFormat in = is_weights_reference(opts.input) && is_catalogue_name(opts.input)
                         ? WeightsFormat::kPth : weights_format_of(opts.input);
  if (out == WeightsFormat::kZooCheckpoint) {
    LoadedClassifier loaded = load_classifier(opts.input, opts.model);
    nlohmann::json meta = sample_spec_to_json(loaded.spec);
    meta["model"] = loaded.model_name;
    meta["model_options"] = loaded.meta.value("model_options", nlohmann::json::object());
    meta["class_names"] = loaded.class_names;
    meta["converted_from"] = opts.input;
    save_checkpoint(opts.output, meta, state_dict_of(*loaded.model), nullptr, /*with_rng=*/false);
  } else {
    const std::string input = resolve_weights(opts.input).path;  // a name or URL: the cached file
    StateDict sd;
    std::map<std::string, std::string> metadata;
    if (in == WeightsFormat::kZooCheckpoint) {
      Checkpoint ckpt = load_checkpoint(input);
      sd = std::move(ckpt.model);
      ckpt.meta.erase("checksums");  // of the checkpoint's tensors; the file gets its own
      metadata["zoo"] = ckpt.meta.dump();  // keeps the checkpoint's description alongside
    } else {
      sd = read_state_dict(input, &metadata);
    }
    write_state_dict(opts.output, sd, metadata);
  }
  std::printf("wrote %s (%s) from %s (%s)\n", opts.output.c_str(), weights_format_name(out),
              opts.input.c_str(), weights_format_name(in));
}

}  // namespace

void register_convert(CLI::App& app) {
  auto opts = std::make_shared<ConvertOptions>();
  CLI::App* cmd = app.add_subcommand(
      "convert", "Convert weights between zoo checkpoints (.pt), PyTorch (.pth) and .safetensors");
  cmd->add_option("input", opts->input, "Weights to read: .pt, .pth, .bin or .safetensors, a weights name (torchvision:resnet50) or a URL")->required();
  cmd->add_option("output", opts->output, "File to write; its extension picks the format")->required();
  cmd->add_option("--model", opts->model,
                  "Model the weights belong to; required to write a .pt from a .pth/.safetensors");
  cmd->callback([opts] { run_convert(*opts); });
}

}  // namespace zoo
