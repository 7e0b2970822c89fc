// Checkpoint metadata <-> models; see model_io.h.
#include "app/engine/model_io.h"

#include "common/error.h"
#include "common/json_text.h"
#include "data/class_names.h"
#include "weights/hub.h"
#include "weights/weights_io.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace zoo {

nlohmann::json model_options_to_json(const ModelOptions& o) {
  return {{"num_classes", o.num_classes},         {"in_channels", o.in_channels},
          {"input_size", o.input_size},           {"aux_logits", o.aux_logits},
          {"transform_input", o.transform_input}, {"dropout", o.dropout}};
}

ModelOptions model_options_from_json(const nlohmann::json& j) {
  ModelOptions o;
  o.num_classes = integer_option(j, "num_classes", "model", o.num_classes);
  o.in_channels = integer_option(j, "in_channels", "model", o.in_channels);
  o.input_size = integer_option(j, "input_size", "model", o.input_size);
  o.aux_logits = j.value("aux_logits", o.aux_logits);
  o.transform_input = j.value("transform_input", o.transform_input);
  o.dropout = j.value("dropout", o.dropout);
  return o;
}

SampleSpec default_sample_spec(const ModelInfo& info, int64_t input_size) {
  SampleSpec spec;
  spec.channels = info.input_shape[0];
  spec.height = input_size > 0 ? input_size : info.input_shape[1];
  spec.width = input_size > 0 ? input_size : info.input_shape[2];
  spec.mean = info.norm.mean;
  spec.std = info.norm.std;
  // ImageNet-style models evaluate image files as torchvision does: Resize(size / 0.875),
  // CenterCrop(size), i.e. 256 -> 224.
  if (info.default_data == "imagenet") spec.resize = std::lround(spec.height / 0.875);
  return spec;
}

DataOptions data_options_for(const ModelInfo& info, int64_t input_size) {
  DataOptions options;
  options.sample = default_sample_spec(info, input_size);
  options.input_size = input_size;
  return options;
}

nlohmann::json resolved_image_input(const SampleSpec& spec, const std::string& train_pipeline,
                                    const std::string& eval_pipeline, const std::vector<std::string>& notes) {
  const auto channels = static_cast<size_t>(std::clamp<int64_t>(spec.channels, 0, 3));
  return {{"input", {spec.channels, spec.height, spec.width}},
          {"mean", std::vector<double>(spec.mean.begin(), spec.mean.begin() + channels)},
          {"std", std::vector<double>(spec.std.begin(), spec.std.begin() + channels)},
          {"train_pipeline", train_pipeline},
          {"eval_pipeline", eval_pipeline},
          {"notes", notes}};
}

namespace {

LoadedClassifier from_checkpoint(Checkpoint ckpt, const std::string& path, const std::string& expected) {
  LoadedClassifier out;
  ModelOptions options;
  const std::string model = ckpt.meta.value("model", "");
  if (!model.empty() && find_model(model).is_captioner()) {
    throw data_error(path + " is a captioner checkpoint, and this command needs an image classifier; HINT: "
                      "zoo caption --weights " + path + " IMAGE, zoo eval --weights " + path + " (BLEU)");
  }
  if (!model.empty() && !find_model(model).is_classifier()) {
    throw data_error(path + " is a " + model + " checkpoint, and this command needs an image "
                      "classifier; HINT: zoo sample --weights " + path + " (text), zoo eval --weights " +
                      path + " --data TEXT (bits per character)");
  }
  try {
    out.model_name = ckpt.meta.at("model").get<std::string>();
    out.spec = sample_spec_from_json(ckpt.meta);
    out.class_names = ckpt.meta.at("class_names").get<std::vector<std::string>>();
    options = model_options_from_json(ckpt.meta.value("model_options", nlohmann::json::object()));
  } catch (const nlohmann::json::exception& e) {
    throw data_error("checkpoint " + path + " has incomplete metadata (" + e.what() +
                     "); HINT: re-save it with this zoo");
  }
  if (!expected.empty() && expected != out.model_name) {
    throw data_error("checkpoint " + path + " holds a '" + out.model_name + "' model, not '" +
                     expected + "'; HINT: drop the model name or pass a " + expected + " checkpoint");
  }
  out.model = build_classifier(out.model_name, options);
  load_state_dict(*out.model, ckpt.model, LoadMode::kStrict, path);
  out.meta = std::move(ckpt.meta);
  return out;
}

LoadedClassifier from_state_dict(const std::string& path, WeightsFormat format,
                                 const std::string& model_name, bool transform_input) {
  if (model_name.empty()) {
    throw usage_error(std::string("a ") + weights_format_name(format) + " file holds weights "
                      "only, not which model they belong to: " + path +
                      "; HINT: name the model, e.g. `zoo predict resnet18 --weights " + path + " ...` or `zoo convert " + path +
                      " OUT.pt --model resnet18`");
  }
  const ModelInfo& info = find_model(model_name);
  if (transform_input && info.family != "googlenet") {
    throw usage_error("--transform-input applies to googlenet, not " + model_name);
  }
  const StateDict sd = read_state_dict(path);
  ModelOptions options;
  options.transform_input = transform_input;
  for (const auto& kv : sd) {
    if (kv.first.rfind("aux1.", 0) == 0) options.aux_logits = true;  // GoogLeNet's aux heads
  }
  // The class count is the head's output size.
  const std::string head_key = build_classifier(model_name, ModelOptions{10})->head_prefixes().at(0) + ".weight";
  for (const auto& kv : sd) {
    if (kv.first == head_key && kv.second.dim() >= 1) options.num_classes = kv.second.size(0);
  }
  // The input channels are the first convolution's (a 3-channel LeNet-5 loads as one).
  for (const auto& kv : sd) {
    if (kv.second.dim() == 4) {
      options.in_channels = kv.second.size(1);
      break;
    }
  }
  LoadedClassifier out;
  out.model_name = model_name;
  out.model = build_classifier(model_name, options);
  load_state_dict(*out.model, sd, LoadMode::kStrict, path);
  out.spec = default_sample_spec(info);
  out.spec.channels = options.in_channels;
  out.class_names = options.num_classes == 1000 ? imagenet_classes() : numbered_classes(options.num_classes);
  out.meta = {{"model", model_name}, {"model_options", model_options_to_json(options)}};
  return out;
}

}  // namespace

DataSplits open_eval_data(const LoadedClassifier& loaded, const std::string& weights, std::string& data) {
  if (data.empty()) data = loaded.meta.value("data", "");
  if (data.empty()) {
    throw usage_error(weights + " does not say which dataset it was trained on; HINT: pass --data");
  }
  DataOptions options;
  options.sample = loaded.spec;
  options.input_size = loaded.spec.height;  // the checkpoint's geometry, not the dataset's
  options.augment = "none";
  const nlohmann::json config = loaded.meta.value("config", nlohmann::json::object());
  options.val_split = config.value("val_split", options.val_split);
  options.seed = config.value("seed", options.seed);
  return open_dataset(data, options);
}

void check_weights_model(const std::string& weights, const std::string& model) {
  if (!is_weights_reference(weights) || !is_catalogue_name(weights)) return;
  const WeightsEntry& entry = find_weights(weights);
  if (entry.model != model) {
    throw usage_error("the weights " + entry.name + " belong to " + entry.model + ", not " + model +
                      "; HINT: drop the model name, or `zoo weights list " + model + "`");
  }
}

void require_trained_head(const LoadedClassifier& loaded, const std::string& what) {
  const nlohmann::json pretrained = loaded.meta.value("pretrained", nlohmann::json::object());
  if (pretrained.contains("categories") && pretrained["categories"].get<std::string>().empty()) {
    throw usage_error(what + ": the weights " + pretrained.value("name", "") + " are for feature extraction only, "
                      "their classifier holds no trained values; HINT: zoo features, or zoo finetune from them");
  }
}

std::string model_of_weights(const std::string& path) {
  if (is_catalogue_name(path) && !std::filesystem::exists(path)) return find_weights(path).model;
  const WeightsFormat format = weights_format_of(path);
  if (format != WeightsFormat::kZooCheckpoint) {
    throw usage_error(std::string("a ") + weights_format_name(format) + " file holds weights only, "
                      "not which model they belong to: " + path + "; HINT: name the model first, "
                      "e.g. `zoo finetune resnet18 --weights " + path + " ...`");
  }
  const std::string model = load_checkpoint(path).meta.value("model", "");
  if (model.empty()) throw data_error("checkpoint " + path + " does not name its model; HINT: name it first");
  return model;
}

namespace {

void refuse_transform_input(const std::string& path, bool transform_input) {
  if (transform_input) {
    throw usage_error("--transform-input applies to .pth/.safetensors weights; the checkpoint " +
                      path + " records its own model options");
  }
}

}  // namespace

LoadedClassifier load_classifier(Checkpoint ckpt, const std::string& path, const std::string& model_name,
                                 bool transform_input) {
  refuse_transform_input(path, transform_input);
  LoadedClassifier out = from_checkpoint(std::move(ckpt), path, model_name);
  out.model->eval();
  return out;
}

namespace {

// A catalogue entry's file: the entry names the model, the preprocessing and the classes.
LoadedClassifier from_catalogue(const WeightsEntry& entry, const std::string& path, bool transform_input) {
  LoadedClassifier out = from_state_dict(path, weights_format_of(path), entry.model,
                                         transform_input || entry.transform_input);
  out.spec.height = out.spec.width = entry.crop;
  out.spec.resize = entry.resize;
  out.spec.mean = entry.mean;
  out.spec.std = entry.std;
  const int64_t classes = out.model->num_classes();
  out.class_names = entry.categories == "imagenet-1k" && classes == 1000 ? imagenet_classes() : numbered_classes(classes);
  out.meta["pretrained"] = to_json(entry);
  return out;
}

}  // namespace

LoadedClassifier load_classifier(const std::string& weights, const std::string& model_name,
                                 bool transform_input) {
  if (!model_name.empty()) check_weights_model(weights, model_name);  // before any download
  const WeightsFile file = resolve_weights(weights);
  if (file.entry) {
    LoadedClassifier out = from_catalogue(*file.entry, file.path, transform_input);
    out.model->eval();
    return out;
  }
  const std::string& path = file.path;
  const WeightsFormat format = weights_format_of(path);
  if (format == WeightsFormat::kZooCheckpoint) {
    refuse_transform_input(path, transform_input);  // before the file is read
    return load_classifier(load_checkpoint(path), path, model_name, transform_input);
  }
  LoadedClassifier out = from_state_dict(path, format, model_name, transform_input);
  out.model->eval();
  return out;
}

}  // namespace zoo
