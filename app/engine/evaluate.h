// Evaluation of a classifier over a loader: mean loss, top-1/top-5 accuracy, per-class
// counts and the confusion matrix. Shared by per-epoch validation and `zoo eval`.
#pragma once

#include "app/engine/precision.h"
#include "data/loader.h"
#include "models/classifier.h"

#include <cstdint>
#include <vector>

namespace zoo {

struct EvalResult {
  double loss = 0.0;
  double top1 = 0.0;
  double top5 = 0.0;
  int64_t count = 0;
  int64_t skipped = 0;
  std::vector<std::vector<int64_t>> confusion;  // [true class][predicted class]
  double seconds = 0.0;
  // Samples whose true class is c.
  int64_t class_count(size_t c) const;
  // Samples predicted as class c.
  int64_t predicted_count(size_t c) const;
  // Per class: correct / total of that true class (NaN-free: 0 when the class has no sample).
  // This is also the class's recall.
  std::vector<double> per_class_accuracy() const;
  // Per class, NaN-free like scikit-learn's zero_division=0: precision = correct / predicted
  // as c (0 when nothing was predicted c), recall = correct / true c, F1 their harmonic mean
  // (0 when both are 0).
  std::vector<double> per_class_precision() const;
  std::vector<double> per_class_recall() const;
  std::vector<double> per_class_f1() const;
  // Unweighted means over the classes that occur (have a sample or a prediction), as
  // scikit-learn's average='macro' does with its default labels.
  double macro_precision() const;
  double macro_recall() const;
  double macro_f1() const;
};

// Where and how evaluation runs; the defaults suit `zoo eval` on a CPU.
struct EvalSettings {
  torch::Device device = torch::kCPU;
  Precision precision = Precision::kFp32;
  bool channels_last = false;
  int64_t limit_batches = 0;  // 0: the whole split
};

// Runs epoch 0 of `source` (which should not shuffle) in eval mode, no grad: the whole split,
// or its first settings.limit_batches batches. With `features_input`, the batches' inputs are
// backbone features and only the head runs (model.classify).
EvalResult evaluate(ClassifierImpl& model, BatchSource& source, int64_t num_classes,
                    const EvalSettings& settings = {}, bool features_input = false);

}  // namespace zoo
