// libFuzzer harness for image files (data/image.h, data/image_folder.h): the input is an image
// file (JPEG, PNG, BMP, ... whatever OpenCV decodes). It goes through the header probe
// (image_header_size on the bytes, probe_image_sizes on the file, as ImageFolder decides
// "small images"), load_image_file (predict's path) and ImageFolderDataset::load in the
// ImageNet pipeline (JPEG DCT-reduced decoding, RandomResizedCrop from the header's size) and
// the small-image pipeline, in training and evaluation mode.
#include "common/error.h"
#include "data/image.h"
#include "data/image_folder.h"
#include "fuzz/fuzz_util.h"

#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& dir = zoo::fuzz::scratch_dir("image");
  const bool jpeg = size >= 2 && data[0] == 0xFF && data[1] == 0xD8;
  const std::string file = (dir / (jpeg ? "img.jpg" : "img.png")).string();
  zoo::fuzz::write_bytes(file, data, size);

  const std::vector<uint8_t> bytes(data, data + size);
  const cv::Size header = zoo::image_header_size(bytes);
  ZOO_FUZZ_CHECK(header.width >= 0 && header.height >= 0, "a header size is not negative");
  const zoo::ImageSizeProbe probe = zoo::probe_image_sizes({zoo::ImageFile{file, 0}}, 64);
  ZOO_FUZZ_CHECK(probe.probed <= 1, "one file probed at most");

  const bool odd = (size & 1) != 0;
  zoo::SampleSpec spec;
  spec.channels = odd ? 1 : 3;
  spec.height = spec.width = 24;
  spec.resize = odd ? 0 : 28;
  try {
    const torch::Tensor t = zoo::load_image_file(file, spec);
    ZOO_FUZZ_CHECK(t.numel() == spec.numel(), "load_image_file fills the spec");
  } catch (const zoo::Error&) {
  }

  std::vector<float> out(static_cast<size_t>(spec.numel()));
  for (const bool small : {false, true}) {
    for (const auto augment : {zoo::Augment::kNone, odd ? zoo::Augment::kStrong : zoo::Augment::kStandard}) {
      try {
        const zoo::ImageFolderDataset dataset({zoo::ImageFile{file, 0}}, spec, augment, dir.string(), small);
        dataset.load(0, out.data(), size);
      } catch (const zoo::Error&) {
      }
    }
  }
  return 0;
}
