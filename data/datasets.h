// `--data` resolution: a name (imagenet, cifar10, cifar100, mnist, fashion-mnist) looked up
// under $ZOO_DATA (default ~/.zoo/data) and the system dataset folders, the generated `shapes`
// set, or a path recognised by its layout: MNIST/Fashion-MNIST idx files (plain or .gz),
// CIFAR-10/100 binary batches, ImageFolder class folders. Each split carries its transform
// pipeline (training augmentation per --augment, evaluation geometry for the other).
#pragma once

#include "data/dataset.h"

#include <string>
#include <vector>

namespace zoo {

// What the caller wants from a dataset besides its name.
struct DataOptions {
  SampleSpec sample;                 // the model's input: channels, default size, normalization
  int64_t input_size = 0;            // --input-size; 0: the dataset's native size when it is
                                     // smaller than sample's, else sample's size
  std::string augment = "standard";  // none | standard | strong, for the training split
  double val_split = 0.1;            // per-class fraction held out when an ImageFolder has no
                                     // val/ or test/ folder
  uint64_t seed = 42;                // seed of that split
};

// The names open_dataset resolves, for messages and help lines.
std::string known_dataset_names();

// The directories a dataset name is looked for in, in order.
std::vector<std::string> dataset_search_dirs(const std::string& name);

// Opens `spec` (a name or a path). Throws missing_error listing where it looked and the layout
// it expects, data_error for a malformed dataset, usage_error for an unknown name.
DataSplits open_dataset(const std::string& spec, const DataOptions& options);

// The sample spec for a dataset natively `native_size` (0: none): the model's, at --input-size
// when given, else at the native size when that is smaller than the model's.
SampleSpec fitted_spec(const DataOptions& options, int64_t native_size);

// Adds the run-log notes on the input geometry and channels to `splits` (whose train split is
// open): native size or the model's, padding or resizing; `stored` says what the files hold
// ("28 x 28 gray", "32 x 32 RGB").
void describe_geometry(DataSplits& splits, const DataOptions& options, const std::string& stored);

// The class names of the known idx datasets.
std::vector<std::string> fashion_mnist_classes();
std::vector<std::string> mnist_classes();

}  // namespace zoo
