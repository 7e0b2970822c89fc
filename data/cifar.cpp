// CIFAR-10 and CIFAR-100 binary batches (https://www.cs.toronto.edu/~kriz/cifar.html), read
// whole into memory (180 MB at most) as uint8 N x 32 x 32 x 3 tensors. A CIFAR-10 record is one
// label byte and 3072 pixel bytes (1024 R, 1024 G, 1024 B, each 32 x 32 row-major); a CIFAR-100
// record has a coarse and a fine label byte before the pixels.
#include "common/error.h"
#include "data/class_names.h"
#include "data/formats.h"
#include "data/tensor_dataset.h"

#include <fstream>

namespace zoo {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kPixels = 3 * 32 * 32;
constexpr int64_t kNative = 32;

std::vector<std::string> cifar10_default_classes() {
  return {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
}

// The records of `files` concatenated: images N x 32 x 32 x 3 and the label at byte
// `label_byte` of each record (records are label_bytes + 3072 long).
struct Records {
  torch::Tensor images;
  torch::Tensor labels;
};

Records read_records(const std::vector<fs::path>& files, int64_t label_bytes, int64_t label_byte,
                     int64_t num_classes) {
  const int64_t record = label_bytes + kPixels;
  std::vector<uint8_t> pixels, labels;
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw io_error("cannot open " + file.string() + "; HINT: check its permissions");
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
    if (bytes.empty() || bytes.size() % size_t(record) != 0) {
      throw data_error("CIFAR batch " + file.string() + " has " + std::to_string(bytes.size()) +
                       " bytes, not a multiple of the " + std::to_string(record) +
                       "-byte record; HINT: the file is truncated or from the other CIFAR");
    }
    const size_t n = bytes.size() / size_t(record);
    for (size_t i = 0; i < n; ++i) {
      const uint8_t* r = bytes.data() + i * size_t(record);
      const int64_t label = r[label_byte];
      if (label >= num_classes) {
        throw data_error("CIFAR batch " + file.string() + " record " + std::to_string(i) +
                         " has label " + std::to_string(label) + ", expected 0.." +
                         std::to_string(num_classes - 1) + "; HINT: the file is corrupt or from "
                         "the other CIFAR");
      }
      labels.push_back(uint8_t(label));
      pixels.insert(pixels.end(), r + label_bytes, r + record);
    }
  }
  const auto n = int64_t(labels.size());
  auto planes = torch::from_blob(pixels.data(), {n, 3, 32, 32}, torch::kUInt8);
  return {planes.permute({0, 2, 3, 1}).contiguous(),
          torch::from_blob(labels.data(), {n}, torch::kUInt8).to(torch::kInt64)};
}

std::vector<std::string> names_or(const fs::path& file, std::vector<std::string> fallback) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return fallback;
  std::vector<std::string> names = read_lines(file);
  if (names.size() != fallback.size()) {
    throw data_error(file.string() + " has " + std::to_string(names.size()) + " names, expected " +
                     std::to_string(fallback.size()) + "; HINT: one class name per line");
  }
  return names;
}

DataSplits make_splits(const fs::path& dir, const std::string& name, const DataOptions& options,
                       std::vector<std::string> classes, Records train, Records test,
                       const std::string& train_source, const std::string& test_source) {
  DataSplits splits;
  splits.name = name;
  splits.location = dir.string();
  splits.val_name = "test";
  splits.native_size = kNative;
  splits.class_names = std::move(classes);
  const SampleSpec spec = fitted_spec(options, kNative);
  splits.train = std::make_shared<TensorImageDataset>(train.images, train.labels, spec, train_source,
                                                      parse_augment(options.augment));
  splits.val = std::make_shared<TensorImageDataset>(test.images, test.labels, spec, test_source);
  splits.stored_channels = 3;
  splits.train_pipeline = small_pipeline_name(spec, kNative, kNative, parse_augment(options.augment), true);
  splits.eval_pipeline = small_pipeline_name(spec, kNative, kNative, Augment::kNone, true);
  describe_geometry(splits, options, "32 x 32 RGB");
  return splits;
}

}  // namespace

bool has_cifar10_layout(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / "data_batch_1.bin", ec) || fs::is_regular_file(dir / "test_batch.bin", ec);
}

bool has_cifar100_layout(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / "train.bin", ec) && fs::is_regular_file(dir / "test.bin", ec);
}

DataSplits open_cifar10(const fs::path& dir, const std::string& name, const DataOptions& options) {
  std::error_code ec;
  std::vector<fs::path> train_files;
  std::string gap;  // the first batch missing before a present one: a damaged copy
  for (int i = 1; i <= 5; ++i) {
    const fs::path f = dir / ("data_batch_" + std::to_string(i) + ".bin");
    if (fs::is_regular_file(f, ec)) {
      if (!gap.empty()) {
        throw missing_error("CIFAR-10 folder " + dir.string() + " lacks " + gap + " but has " +
                            f.filename().string() + "; HINT: the copy is incomplete: unpack the archive "
                            "again (`zoo data download cifar10`)");
      }
      train_files.push_back(f);
    } else if (gap.empty()) {
      gap = f.filename().string();
    }
  }
  const fs::path test_file = dir / "test_batch.bin";
  if (train_files.empty() || !fs::is_regular_file(test_file, ec)) {
    throw missing_error("CIFAR-10 folder " + dir.string() + " lacks " +
                        (train_files.empty() ? "data_batch_1.bin" : "test_batch.bin") +
                        "; HINT: it needs cifar-10-batches-bin's data_batch_1..5.bin and "
                        "test_batch.bin (batches.meta.txt optional)");
  }
  auto classes = names_or(dir / "batches.meta.txt", cifar10_default_classes());
  const auto n = int64_t(classes.size());
  return make_splits(dir, name, options, std::move(classes), read_records(train_files, 1, 0, n),
                     read_records({test_file}, 1, 0, n), "data_batch_*.bin", "test_batch.bin");
}

DataSplits open_cifar100(const fs::path& dir, const std::string& name, const DataOptions& options,
                         bool coarse) {
  auto classes = coarse ? names_or(dir / "coarse_label_names.txt", numbered_classes(20))
                        : names_or(dir / "fine_label_names.txt", numbered_classes(100));
  const auto n = int64_t(classes.size());
  const int64_t label_byte = coarse ? 0 : 1;
  return make_splits(dir, name, options, std::move(classes),
                     read_records({dir / "train.bin"}, 2, label_byte, n),
                     read_records({dir / "test.bin"}, 2, label_byte, n), "train.bin", "test.bin");
}

}  // namespace zoo
