// Dataset name and layout resolution; see datasets.h.
#include "data/datasets.h"

#include "common/error.h"
#include "data/class_names.h"
#include "data/idx.h"
#include "data/tensor_dataset.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace zoo {

namespace fs = std::filesystem;

namespace {

constexpr const char* kIdxFiles[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                     "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};

// The file `base` or `base.gz` in dir, or "" when neither exists.
std::string find_idx(const fs::path& dir, const std::string& base) {
  std::error_code ec;
  for (const std::string& candidate : {base, base + ".gz"}) {
    if (fs::is_regular_file(dir / candidate, ec)) return (dir / candidate).string();
  }
  return "";
}

bool has_idx_layout(const fs::path& dir) {
  return !find_idx(dir, kIdxFiles[0]).empty() || !find_idx(dir, kIdxFiles[2]).empty();
}

std::vector<std::string> read_lines(const fs::path& file) {
  std::vector<std::string> lines;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

std::shared_ptr<const Dataset> open_idx_split(const fs::path& dir, const std::string& images,
                                              const std::string& labels, const SampleSpec& sample,
                                              int64_t num_classes) {
  const std::string image_file = find_idx(dir, images);
  const std::string label_file = find_idx(dir, labels);
  if (image_file.empty() || label_file.empty()) {
    throw missing_error("MNIST-layout folder " + dir.string() + " lacks " +
                        (image_file.empty() ? images : labels) +
                        "[.gz]; HINT: it needs the four idx files " + kIdxFiles[0] + ", " +
                        kIdxFiles[1] + ", " + kIdxFiles[2] + ", " + kIdxFiles[3]);
  }
  torch::Tensor x = read_idx(image_file);
  torch::Tensor y = read_idx(label_file);
  if (x.dim() != 3) {
    throw data_error("idx image file " + image_file + " has " + std::to_string(x.dim()) +
                     " dimensions, expected 3 (N x H x W); HINT: check the file names");
  }
  if (y.dim() != 1) {
    throw data_error("idx label file " + label_file + " has " + std::to_string(y.dim()) +
                     " dimensions, expected 1; HINT: check the file names");
  }
  const int64_t max_label = y.numel() ? y.max().item<int64_t>() : 0;
  if (max_label >= num_classes) {
    throw data_error("idx label file " + label_file + " holds label " + std::to_string(max_label) +
                     ", expected 0.." + std::to_string(num_classes - 1) +
                     "; HINT: the file is corrupt or not an MNIST label file");
  }
  return std::make_shared<TensorImageDataset>(x, y, sample, fs::path(image_file).filename().string());
}

DataSplits open_idx(const fs::path& dir, const std::string& name, const SampleSpec& sample) {
  DataSplits splits;
  splits.name = name;
  splits.location = dir.string();
  splits.val_name = "test";
  const fs::path classes_file = dir / "classes.txt";
  std::error_code ec;
  if (fs::is_regular_file(classes_file, ec)) {
    splits.class_names = read_lines(classes_file);
  } else {
    const bool fashion = name.find("fashion") != std::string::npos ||
                         dir.string().find("fashion") != std::string::npos;
    splits.class_names = fashion ? fashion_mnist_classes() : mnist_classes();
  }
  const auto n = static_cast<int64_t>(splits.class_names.size());
  splits.train = open_idx_split(dir, kIdxFiles[0], kIdxFiles[1], sample, n);
  splits.val = open_idx_split(dir, kIdxFiles[2], kIdxFiles[3], sample, n);
  return splits;
}

}  // namespace

std::vector<std::string> fashion_mnist_classes() {
  return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
          "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
}

std::vector<std::string> mnist_classes() { return numbered_classes(10); }

std::vector<std::string> dataset_search_dirs(const std::string& name) {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("ZOO_DATA"); env && *env) {
    dirs.push_back((fs::path(env) / name).string());
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    dirs.push_back((fs::path(home) / ".zoo" / "data" / name).string());
  }
  if (name == "fashion-mnist") dirs.push_back("/usr/share/datasets/fashion-mnist");
  return dirs;
}

DataSplits open_dataset(const std::string& spec, const SampleSpec& sample) {
  std::error_code ec;
  const bool is_path = spec.find('/') != std::string::npos || spec.rfind('.', 0) == 0 ||
                       fs::exists(spec, ec);
  if (is_path) {
    const fs::path dir(spec);
    if (!fs::exists(dir, ec)) {
      throw missing_error("dataset path " + spec + " does not exist; HINT: check the path, or "
                          "give a dataset name (fashion-mnist, mnist)");
    }
    if (fs::is_directory(dir, ec) && has_idx_layout(dir)) return open_idx(dir, spec, sample);
    throw data_error("dataset path " + spec + " has no layout zoo recognises; HINT: expected an "
                     "MNIST/Fashion-MNIST folder with train-images-idx3-ubyte[.gz], "
                     "train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], "
                     "t10k-labels-idx1-ubyte[.gz]");
  }
  if (spec != "fashion-mnist" && spec != "mnist") {
    throw usage_error("unknown dataset name '" + spec + "'; known names: fashion-mnist, mnist; "
                      "HINT: or give a path to a dataset folder");
  }
  std::string looked;
  for (const auto& dir : dataset_search_dirs(spec)) {
    if (fs::is_directory(dir, ec) && has_idx_layout(dir)) return open_idx(dir, spec, sample);
    looked += (looked.empty() ? "" : ", ") + dir;
  }
  std::string get = spec == "fashion-mnist"
                        ? "install Debian's dataset-fashion-mnist package (apt-get install "
                          "dataset-fashion-mnist) or put the four idx files"
                        : "put the four MNIST idx files (train-images-idx3-ubyte.gz, ...)";
  throw missing_error("dataset '" + spec + "' not found; looked in: " + looked + "; HINT: " + get +
                      " in $ZOO_DATA/" + spec);
}

}  // namespace zoo
