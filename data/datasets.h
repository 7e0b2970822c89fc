// `--data` resolution: a name (fashion-mnist, mnist) looked up under $ZOO_DATA (default
// ~/.zoo/data) and the system dataset folders, or a path recognised by its layout.
// Formats so far: MNIST/Fashion-MNIST idx files (plain or .gz).
#pragma once

#include "data/dataset.h"

#include <string>
#include <vector>

namespace zoo {

// The directories a dataset name is looked for in, in order.
std::vector<std::string> dataset_search_dirs(const std::string& name);

// Opens `spec` (a name or a path) for a model that wants samples shaped like `sample`.
// Throws missing_error listing where it looked, data_error for a malformed dataset.
DataSplits open_dataset(const std::string& spec, const SampleSpec& sample);

// The class names of the known idx datasets.
std::vector<std::string> fashion_mnist_classes();
std::vector<std::string> mnist_classes();

}  // namespace zoo
