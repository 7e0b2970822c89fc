// `zoo data inspect`: what a dataset holds, checked file by file: samples per class and split,
// the stored image sizes (min, mean, max), and the samples that cannot be read; and a grid
// picture of samples with their labels, as the model would receive them.
#pragma once

#include "data/dataset.h"

#include <cstdint>
#include <string>
#include <vector>

namespace zoo {

struct SplitReport {
  std::string split;                     // "train", "val", "test"
  int64_t samples = 0;
  std::vector<int64_t> per_class;        // samples per class (readable or not)
  std::vector<std::string> unreadable;   // "path: reason"
  int64_t min_height = 0, max_height = 0, min_width = 0, max_width = 0;
  double mean_height = 0.0, mean_width = 0.0;  // over readable samples
};

// Reads every sample's stored size (decoding image files) with `workers` threads.
SplitReport inspect_split(const Dataset& dataset, const std::string& split, size_t num_classes,
                          int workers);

// Writes a PNG/JPEG grid of the first `count` samples of `dataset` (as loaded: transformed and
// augmented with `seed`, de-normalized for display) with their class names. Unreadable samples
// are left out. Throws io_error when the file cannot be written.
void write_sample_grid(const Dataset& dataset, const std::vector<std::string>& class_names,
                       int64_t count, uint64_t seed, const std::string& path);

}  // namespace zoo
