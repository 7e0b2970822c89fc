// make_task: which task trains a model of the registry: image classifiers the classification
// task, charlm the language-model task, the captioner the captioning task.
#include "app/engine/task.h"
#include "app/engine/tasks/captioning.h"
#include "app/engine/tasks/classification.h"
#include "app/engine/tasks/language_model.h"

namespace zoo {

std::unique_ptr<Task> make_task(TrainConfig& config, const TaskContext& context) {
  const ModelInfo& info = find_model(config.model);  // an unknown name: a usage error listing the known ones
  if (info.is_captioner()) return std::make_unique<CaptioningTask>(config, context);
  if (!info.is_classifier()) return std::make_unique<LanguageModelTask>(config, context);
  return std::make_unique<ClassificationTask>(config, context);
}

nlohmann::json task_train_defaults(const std::string& model) {
  const ModelInfo& info = find_model(model);
  if (info.is_captioner()) {
    // Show-and-Tell practice: Adam at 1e-3 without weight decay, clipped gradients, a 256-wide
    // word embedding into one 512-wide LSTM; images are not flipped or cropped (captions say
    // "left of").
    return {{"optimizer", "adam"}, {"lr", 1e-3},   {"weight_decay", 0.0}, {"clip_grad_norm", 5.0},
            {"embed", 256},        {"hidden", 512}, {"layers", 1},         {"augment", "none"}};
  }
  if (info.is_classifier()) return nlohmann::json::object();
  // char-rnn practice: Adam, gradient norm clipped at 5, no weight decay.
  return {{"optimizer", "adam"}, {"lr", 2e-3}, {"weight_decay", 0.0}, {"clip_grad_norm", 5.0}};
}

}  // namespace zoo
