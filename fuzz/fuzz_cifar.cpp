// libFuzzer harness for the CIFAR-10/100 binary batch reader (data/formats.h open_cifar10,
// open_cifar100). Input: byte 0 picks the layout (bits 0-1: 0 CIFAR-10, 1 CIFAR-100 fine
// labels, 2 CIFAR-100 coarse labels, 3 CIFAR-10 in five training batches; bit 2: a class
// names file follows, its length in byte 1); the rest is one batch file, written as every
// batch the layout needs into a scratch folder. A folder that opens must give samples: the
// first and the last of each split are loaded.
#include "common/error.h"
#include "data/formats.h"
#include "fuzz/fuzz_util.h"

#include <vector>

namespace {

void load_ends(const zoo::Dataset& d) {
  std::vector<float> out(static_cast<size_t>(d.spec().numel()));
  ZOO_FUZZ_CHECK(d.size() > 0, "an opened CIFAR split has samples");
  d.load(0, out.data(), 1);
  d.load(d.size() - 1, out.data(), 2);
  ZOO_FUZZ_CHECK(d.label(d.size() - 1) >= 0, "labels are non-negative");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int layout = data[0] & 3;
  const bool with_names = (data[0] & 4) != 0;
  size_t at = 1;
  std::string names;
  if (with_names) {
    if (size < 2) return 0;
    const size_t n = std::min<size_t>(data[1], size - 2);
    names.assign(reinterpret_cast<const char*>(data + 2), n);
    at = 2 + n;
  }
  const uint8_t* batch = data + at;
  const size_t batch_size = size - at;

  const auto& dir = zoo::fuzz::scratch_dir("cifar");
  zoo::fuzz::clear_dir(dir);
  std::vector<std::string> files;
  std::string names_file;
  if (layout == 0 || layout == 3) {
    files = {"data_batch_1.bin", "test_batch.bin"};
    if (layout == 3) {
      for (int i = 2; i <= 5; ++i) files.push_back("data_batch_" + std::to_string(i) + ".bin");
    }
    names_file = "batches.meta.txt";
  } else {
    files = {"train.bin", "test.bin"};
    names_file = layout == 1 ? "fine_label_names.txt" : "coarse_label_names.txt";
  }
  for (const auto& f : files) zoo::fuzz::write_bytes(dir / f, batch, batch_size);
  if (with_names) zoo::fuzz::write_bytes(dir / names_file, names);

  zoo::DataOptions options;
  options.sample.channels = 3;
  options.sample.height = options.sample.width = 32;
  try {
    const zoo::DataSplits splits =
        layout == 0 || layout == 3 ? zoo::open_cifar10(dir, "fuzz", options)
                                   : zoo::open_cifar100(dir, "fuzz", options, layout == 2);
    ZOO_FUZZ_CHECK(!splits.class_names.empty(), "an opened CIFAR folder has class names");
    load_ends(*splits.train);
    load_ends(*splits.val);
  } catch (const zoo::Error&) {
  }
  return 0;
}
