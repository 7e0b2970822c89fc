// make_task: which task trains a model of the registry. Every registered model is an image
// classifier today; sequence models add their task here.
#include "app/engine/task.h"
#include "app/engine/tasks/classification.h"

namespace zoo {

std::unique_ptr<Task> make_task(TrainConfig& config, const TaskContext& context) {
  find_model(config.model);  // an unknown name is a usage error listing the known ones
  return std::make_unique<ClassificationTask>(config, context);
}

}  // namespace zoo
