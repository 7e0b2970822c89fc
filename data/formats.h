// The dataset formats behind open_dataset (datasets.cpp), one opener each. Internal to
// data/: callers use open_dataset.
#pragma once

#include "data/datasets.h"

#include <filesystem>
#include <string>
#include <vector>

namespace zoo {

// CIFAR-10 binary batches (cifar-10-batches-bin: data_batch_1..5.bin, test_batch.bin,
// batches.meta.txt) and CIFAR-100 (cifar-100-binary: train.bin, test.bin,
// fine_label_names.txt, coarse_label_names.txt).
bool has_cifar10_layout(const std::filesystem::path& dir);
bool has_cifar100_layout(const std::filesystem::path& dir);
DataSplits open_cifar10(const std::filesystem::path& dir, const std::string& name,
                        const DataOptions& options);
// coarse: the 20 superclasses instead of the 100 fine classes.
DataSplits open_cifar100(const std::filesystem::path& dir, const std::string& name,
                         const DataOptions& options, bool coarse);

// ImageFolder: train/ + val/ (or test/) class folders, or class folders split by
// options.val_split.
bool has_image_folder_layout(const std::filesystem::path& dir);
DataSplits open_image_folder(const std::filesystem::path& dir, const std::string& name,
                             const DataOptions& options);

// The generated shapes set.
DataSplits open_shapes(const DataOptions& options);
std::vector<std::string> shapes_classes();

// Non-empty lines of a text file ("" lines and trailing \r dropped).
std::vector<std::string> read_lines(const std::filesystem::path& file);

}  // namespace zoo
