// PNG plots of a run, drawn with OpenCV's imgproc (no GUI, no plotting library): the training
// curves of runs/<name>/curves.png and the confusion matrix of `zoo eval`. Both are written
// atomically (temporary file in the same directory, then rename), so a reader never sees half
// a PNG. Leaves out: interactive display, fonts other than Hershey, log-scale axes.
#pragma once

#include "app/engine/metrics.h"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace zoo {

// Panels side by side in one image: loss vs epoch (train, val; per-step training loss faintly
// when step rows carry it); the task's other metrics vs epoch (train_<name> for those measured
// in training, val_<name>; in % when all are percentages), only when it declares any; and
// learning rate vs step. Rows are metrics.jsonl objects: epoch rows have some of epoch, step,
// lr, train_loss, val_loss and the metrics' keys; rows with "kind": "step" have step and lr
// and/or loss. Missing keys leave their points out; an empty list draws empty panels. Throws
// io_error when the file cannot be written.
void write_curves_png(const std::string& path, const std::vector<nlohmann::json>& rows,
                      const std::vector<MetricSpec>& metrics);

// A row-normalized heat map of confusion[true][predicted] (each row as a share of its class's
// samples), with class names on both axes and the percentage in each cell when there are few
// classes (<= 20), names only up to 30 classes, and index ticks beyond. Throws usage_error when
// the matrix is not square or names do not match, io_error when the file cannot be written.
void write_confusion_png(const std::string& path, const std::vector<std::vector<int64_t>>& confusion,
                         const std::vector<std::string>& class_names);

}  // namespace zoo
