// The bridge between the registry, checkpoints and the data side: the metadata block that
// makes a checkpoint self-describing, and rebuilding a classifier from it.
#pragma once

#include "app/engine/checkpoint.h"
#include "data/dataset.h"
#include "data/datasets.h"
#include "data/sample_spec_json.h"
#include "models/registry.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace zoo {

nlohmann::json model_options_to_json(const ModelOptions& options);
ModelOptions model_options_from_json(const nlohmann::json& j);

// The sample spec a model wants by default (registry input shape and normalization),
// with the input size overridden when input_size > 0.
SampleSpec default_sample_spec(const ModelInfo& info, int64_t input_size = 0);
// Dataset options for feeding `info`: its sample spec, --input-size (0: the dataset's native
// size when it has one), the rest at their defaults.
DataOptions data_options_for(const ModelInfo& info, int64_t input_size);
// Task::resolved_input() of an image task: "input" [C, H, W], "mean" and "std" (one per
// channel), the two pipelines in words and the notes.
nlohmann::json resolved_image_input(const SampleSpec& spec, const std::string& train_pipeline,
                                    const std::string& eval_pipeline, const std::vector<std::string>& notes);

// What eval/predict need to rebuild and feed a classifier from a checkpoint.
struct LoadedClassifier {
  std::string model_name;
  Classifier model;
  SampleSpec spec;
  std::vector<std::string> class_names;
  nlohmann::json meta;
};

// Loads a classifier from `path`, strictly, in eval mode. `path` may also be a weights name or
// URL (weights/hub.h), fetched into the cache when needed:
// - a catalogue name (torchvision:resnet50) names the model (`model_name`, when given, must
//   agree), the evaluation preprocessing, the classes and GoogLeNet's transform_input; `meta`
//   gets the entry under "pretrained";
// - a zoo checkpoint (.pt) is self-describing; `model_name`, when given, must match it;
// - a .pth or .safetensors state dict needs `model_name`; the class count is read from the
//   head's weight, the input channels from the first convolution's, GoogLeNet's aux heads are built when the file has them, the class names are
//   ImageNet's for 1000 classes and numbers otherwise, preprocessing is the registry default.
// `transform_input` sets GoogLeNet's input rescaling for state dicts (torchvision's pretrained
// GoogLeNet uses it; a state dict cannot say so); a zoo checkpoint records its own setting.
LoadedClassifier load_classifier(const std::string& path, const std::string& model_name = "",
                                 bool transform_input = false);
// A usage error when `weights` is a catalogue name of another model than `model` (no
// download happens); nothing for files and URLs, whose loading checks them.
void check_weights_model(const std::string& weights, const std::string& model);
// Pretrained weights whose head holds no valid classes (torchvision's VGG-16 features-only
// weights) are refused by commands that read the head's output (`what`: "zoo predict").
void require_trained_head(const LoadedClassifier& loaded, const std::string& what);
// The same from a zoo checkpoint already read from `path` (a caller that looked at its
// metadata first need not read the file twice).
LoadedClassifier load_classifier(Checkpoint ckpt, const std::string& path, const std::string& model_name = "",
                                 bool transform_input = false);

// The dataset `data` (empty: the one the checkpoint was trained on, set into `data`) opened
// with the checkpoint's evaluation transform at its input geometry; an ImageFolder without
// val/ is split by the run's own --val-split and --seed, i.e. the same split. `weights` names
// the file in the error when neither says which dataset.
DataSplits open_eval_data(const LoadedClassifier& loaded, const std::string& weights, std::string& data);

// The model a weights file belongs to: what a zoo checkpoint (.pt) or a catalogue name names. A .pth or
// .safetensors file does not say: a usage error that asks for the model name.
std::string model_of_weights(const std::string& path);

}  // namespace zoo
