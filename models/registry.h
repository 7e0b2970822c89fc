// The model registry: one explicit table (registry.cpp) of every model zoo knows, with its
// builder and defaults. No static self-registration: adding a model is one row.
#pragma once

#include "models/classifier.h"

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace zoo {

// Options every builder reads; a family ignores what does not apply to it.
struct ModelOptions {
  int64_t num_classes = 1000;
  int64_t in_channels = 0;   // 0: the model's default (registry input shape)
  int64_t input_size = 0;    // 0: the model's default; LeNet picks its padding from it
  bool aux_logits = false;   // GoogLeNet aux classifiers
  bool transform_input = false;
  double dropout = -1.0;     // <0: the architecture's default
};

struct Normalization {
  std::array<double, 3> mean{0.0, 0.0, 0.0};
  std::array<double, 3> std{1.0, 1.0, 1.0};
};

using ClassifierBuilder = std::function<Classifier(const ModelOptions&)>;

// A registry row. Image classifiers have a builder; the sequence models have none here: their
// size comes from a vocabulary and flags. The character-level language model (family
// "charlm", models/charlm.h) has figures at the default flags and a 96-character vocabulary,
// per character; the captioner (family "captioner", models/captioner.h) at the default flags,
// a ResNet-18 encoder at 224 x 224 and a 1000-word vocabulary, per image and one word.
struct ModelInfo {
  std::string name;
  std::string family;
  ClassifierBuilder build;
  std::array<int64_t, 3> input_shape{};  // C, H, W at the default input size
  Normalization norm;
  std::string default_data;               // what `--data` defaults to for this model
  // At the default input and num_classes (1000 for ImageNet models, 10 otherwise), so that
  // `zoo list` needs no model built; tests/test_info.cpp recomputes both for every row.
  int64_t parameters = 0;
  int64_t macs = 0;                       // multiply-adds, conv + linear (models/profile.h)
  std::string description;

  bool is_classifier() const { return static_cast<bool>(build); }
  bool is_captioner() const { return family == "captioner"; }
};

// The vocabulary sizes the registry's charlm and captioner figures assume.
inline constexpr int64_t kCharLmReferenceVocab = 96;
inline constexpr int64_t kCaptionerReferenceVocab = 1000;

const std::vector<ModelInfo>& model_table();
// Throws a usage Error listing the known names when name is unknown.
const ModelInfo& find_model(const std::string& name);
// The class count the registry's figures (and `zoo list`, `zoo info`, `zoo bench`) assume:
// 1000 for ImageNet models, 10 otherwise.
int64_t default_num_classes(const ModelInfo& info);
// find_model, and a usage Error when the model is not an image classifier (charlm), naming
// `what` the caller wanted to do ("zoo bench").
const ModelInfo& find_classifier(const std::string& name, const std::string& what);
// Builds the classifier `name` with options whose zero fields are filled from the registry;
// a usage Error for a model that is not an image classifier.
Classifier build_classifier(const std::string& name, ModelOptions options);
// Comma-separated list of every registered name, for error messages.
std::string known_model_names();

int64_t count_parameters(const torch::nn::Module& module);

}  // namespace zoo
