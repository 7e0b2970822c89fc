// Dataset name and layout resolution; see datasets.h.
#include "data/datasets.h"

#include "common/error.h"
#include "data/class_names.h"
#include "data/formats.h"
#include "data/idx.h"
#include "data/tensor_dataset.h"
#include "data/transforms.h"

#include <algorithm>
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

struct IdxSplit {
  torch::Tensor images;  // N x H x W uint8
  torch::Tensor labels;  // N
  std::string source;    // the image file's name, for warnings
};

IdxSplit read_idx_split(const fs::path& dir, const std::string& images, const std::string& labels,
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
  return {x, y, fs::path(image_file).filename().string()};
}

DataSplits open_idx(const fs::path& dir, const std::string& name, const DataOptions& options) {
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
  IdxSplit train = read_idx_split(dir, kIdxFiles[0], kIdxFiles[1], n);
  IdxSplit test = read_idx_split(dir, kIdxFiles[2], kIdxFiles[3], n);
  const int64_t h = train.images.size(1), w = train.images.size(2);
  splits.native_size = h == w ? h : 0;
  splits.stored_channels = 1;
  const SampleSpec spec = fitted_spec(options, splits.native_size);
  // Digits and clothes are centred and their classic recipe trains without augmentation; only
  // --augment strong shifts them (padded random crop, no flip: a flipped digit is another).
  const Augment augment = parse_augment(options.augment) == Augment::kStrong ? Augment::kStrong : Augment::kNone;
  splits.train = std::make_shared<TensorImageDataset>(train.images, train.labels, spec, train.source, augment,
                                                      /*flip=*/false);
  splits.val = std::make_shared<TensorImageDataset>(test.images, test.labels, spec, test.source, Augment::kNone);
  splits.train_pipeline = small_pipeline_name(spec, h, w, augment, false);
  splits.eval_pipeline = small_pipeline_name(spec, h, w, Augment::kNone, false);
  describe_geometry(splits, options, std::to_string(h) + " x " + std::to_string(w) + " gray");
  if (augment != parse_augment(options.augment)) {
    splits.notes.push_back("no augmentation for centred digits and clothes (--augment strong adds a padded random crop)");
  }
  return splits;
}

}  // namespace

std::vector<std::string> fashion_mnist_classes() {
  return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
          "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
}

std::vector<std::string> mnist_classes() { return numbered_classes(10); }

std::vector<std::string> read_lines(const fs::path& file) {
  std::vector<std::string> lines;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

SampleSpec fitted_spec(const DataOptions& options, int64_t native_size) {
  SampleSpec spec = options.sample;
  // The native size when the model's would blow small images up (CIFAR's 32 or MNIST's 28 for
  // a 224 model). A model whose size is the native size plus a border of at most 4 pixels a
  // side keeps its own: the images are padded, not resized (28-pixel digits into a 32 x 32
  // input, as in the LeNet-5 paper).
  const int64_t model = std::min(spec.height, spec.width);
  const bool native = native_size > 0 && model - native_size > 2 * kMaxPadBorder;
  const int64_t size = options.input_size > 0 ? options.input_size : native ? native_size : 0;
  if (size > 0 && (size != spec.height || size != spec.width)) {
    spec.height = spec.width = size;
    spec.resize = 0;  // the model's eval resize was for its own size; formats set their own
  }
  return spec;
}

void describe_geometry(DataSplits& splits, const DataOptions& options, const std::string& stored) {
  const SampleSpec& spec = splits.train->spec();
  const SampleSpec& model = options.sample;
  const std::string size = std::to_string(spec.height) + " x " + std::to_string(spec.width);
  const std::string model_size = std::to_string(model.height) + " x " + std::to_string(model.width);
  if (options.input_size > 0) {
    splits.notes.push_back("input " + size + " as --input-size asks (images stored " + stored + ")");
  } else if (splits.native_size > 0 && spec.height == splits.native_size && spec.height != model.height) {
    splits.notes.push_back("input " + size + ", the images' native size: the model's default " + model_size +
                           " would upscale them (--input-size " + std::to_string(model.height) + " to do that)");
  } else if (splits.native_size > 0 && spec.height != splits.native_size) {
    splits.notes.push_back("input " + size + ", the model's: images stored " + stored +
                           (spec.height > splits.native_size && spec.height - splits.native_size <= 2 * kMaxPadBorder
                                ? " get a zero border" : " are resized"));
  } else {
    splits.notes.push_back("input " + size + " (images stored " + stored + ")");
  }
  if (splits.stored_channels > 0 && splits.stored_channels != spec.channels) {
    splits.notes.push_back(splits.stored_channels == 1
                               ? "1-channel images fed as 3 identical channels, because the model takes 3 "
                                 "(as its torchvision weights do); --in-channels 1 builds a 1-channel first convolution"
                               : "colour images fed as 1 channel (luma), because the model takes 1");
  }
}

namespace {

// The named datasets: where each is looked for and what it must look like there.
struct NamedDataset {
  const char* name;
  const char* folder;     // under $ZOO_DATA
  const char* subfolder;  // the official archive's folder, also accepted inside `folder`
  const char* layout;     // for the not-found message
};

constexpr NamedDataset kNamed[] = {
    {"imagenet", "imagenet", "", "train/CLASS/*.JPEG and val/CLASS/*.JPEG (ImageFolder)"},
    {"cifar10", "cifar10", "cifar-10-batches-bin",
     "data_batch_1..5.bin, test_batch.bin, batches.meta.txt (the official cifar-10-batches-bin)"},
    {"cifar100", "cifar100", "cifar-100-binary",
     "train.bin, test.bin, fine_label_names.txt, coarse_label_names.txt (the official cifar-100-binary)"},
    {"cifar100-coarse", "cifar100", "cifar-100-binary",
     "train.bin, test.bin, coarse_label_names.txt (the official cifar-100-binary)"},
    {"mnist", "mnist", "",
     "train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], "
     "t10k-labels-idx1-ubyte[.gz]"},
    {"fashion-mnist", "fashion-mnist", "",
     "the four idx files as for mnist (or Debian's dataset-fashion-mnist package)"},
};

// Opens `dir` by its layout, or returns false in `found` when it has none zoo knows.
DataSplits open_by_layout(const fs::path& dir, const std::string& name, const DataOptions& options,
                          bool coarse, bool& found) {
  found = true;
  std::error_code ec;
  if (fs::is_directory(dir, ec)) {
    if (has_idx_layout(dir)) return open_idx(dir, name, options);
    if (has_cifar100_layout(dir)) return open_cifar100(dir, name, options, coarse);
    if (has_cifar10_layout(dir)) return open_cifar10(dir, name, options);
    for (const char* sub : {"cifar-10-batches-bin", "cifar-100-binary"}) {
      if (fs::is_directory(dir / sub, ec)) return open_by_layout(dir / sub, name, options, coarse, found);
    }
    if (has_image_folder_layout(dir)) return open_image_folder(dir, name, options);
  }
  found = false;
  return {};
}

}  // namespace

std::string known_dataset_names() {
  std::string names;
  for (const auto& d : kNamed) names += std::string(d.name) + ", ";
  return names + "shapes";
}

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

DataSplits open_dataset(const std::string& spec, const DataOptions& options) {
  parse_augment(options.augment);  // a bad --augment fails before any file is read
  if (spec == "shapes") return open_shapes(options);
  std::error_code ec;
  const bool is_path = spec.find('/') != std::string::npos || spec.rfind('.', 0) == 0 ||
                       fs::exists(spec, ec);
  bool found = false;
  if (is_path) {
    const fs::path dir(spec);
    if (!fs::exists(dir, ec)) {
      throw missing_error("dataset path " + spec + " does not exist; HINT: check the path, or "
                          "give a dataset name (" + known_dataset_names() + ")");
    }
    DataSplits splits = open_by_layout(dir, spec, options, false, found);
    if (found) return splits;
    throw data_error("dataset path " + spec + " has no layout zoo recognises; HINT: expected "
                     "class folders of images (ImageFolder), CIFAR-10/100 binary batches, or an "
                     "MNIST/Fashion-MNIST folder with train-images-idx3-ubyte[.gz], "
                     "train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], "
                     "t10k-labels-idx1-ubyte[.gz] (README, \"Data\")");
  }
  const NamedDataset* named = nullptr;
  for (const auto& d : kNamed) {
    if (spec == d.name) named = &d;
  }
  if (!named) {
    throw usage_error("unknown dataset name '" + spec + "'; known names: " + known_dataset_names() +
                      "; HINT: or give a path to a dataset folder");
  }
  std::string looked;
  for (const auto& dir : dataset_search_dirs(named->folder)) {
    DataSplits splits = open_by_layout(dir, spec, options, spec == "cifar100-coarse", found);
    if (found) return splits;
    looked += (looked.empty() ? "" : ", ") + dir;
  }
  const std::string download = spec == "cifar100-coarse" ? "cifar100" : std::string(named->folder);
  const std::string get =
      spec == "imagenet"
          ? "run `zoo data prepare imagenet --from DIR` on the official archives (ILSVRC2012_img_train.tar, "
            "ILSVRC2012_img_val.tar, ILSVRC2012_devkit_t12.tar.gz), or put"
          : "run `zoo data download " + download + "`" +
                (spec == "fashion-mnist" ? " (or apt-get install dataset-fashion-mnist)" : "") + ", or put";
  throw missing_error("dataset '" + spec + "' not found; looked in: " + looked + "; HINT: " + get + " " +
                      named->layout + " in $ZOO_DATA/" + named->folder + " ($ZOO_DATA defaults to ~/.zoo/data)");
}

}  // namespace zoo
