// ImageFolder: class folders of image files (JPEG, PNG, BMP, WebP, TIFF, PPM/PGM), as
// torchvision's datasets.ImageFolder reads them: classes are the sub-folder names in sorted
// order, files are those with an image extension. Files are decoded lazily, one per load():
// training samples get RandomResizedCrop + flip (+ ColorJitter), evaluation samples
// Resize(round(size * 256 / 224)) + CenterCrop(size). A folder of small images (CIFAR or
// MNIST exported as PNGs: the probed files are at most kSmallImageSide a side) gets the
// small-image pipeline instead, at the images' native size (see fitted_spec): padded random
// crop + flip for training, nothing but the fit to the size for evaluation. JPEGs are decoded at 1/2, 1/4 or 1/8
// size (libjpeg's DCT scaling) when the crop still has enough pixels for the output size.
// Leaves out: EXIF orientation (PIL, and so torchvision, ignore it too), animated images.
#pragma once

#include "data/dataset.h"
#include "data/transforms.h"

#include <filesystem>
#include <string>
#include <vector>

namespace zoo {

struct ImageFile {
  std::string path;
  int64_t label = 0;
};

// The class folders of `root` and their image files. An empty class folder is kept as a class
// (so label numbers match torchvision's) and listed in `empty_classes`.
struct ImageFolderScan {
  std::vector<std::string> classes;
  std::vector<ImageFile> files;
  std::vector<std::string> empty_classes;
};
// With `classes` given, sub-folders are matched to those names (a val/ folder against train/'s
// classes); a folder that is not one of them is a data_error.
ImageFolderScan scan_image_folder(const std::filesystem::path& root,
                                  const std::vector<std::string>* classes = nullptr);
bool has_image_extension(const std::filesystem::path& file);

// Width and height from a JPEG's SOF or a PNG's IHDR header, without decoding; {0, 0} for
// other formats or a header it cannot parse.
cv::Size image_header_size(const std::vector<uint8_t>& bytes);

// Reads and decodes an image file at full size, converted to `channels` channels (RGB).
// Throws data_error for an empty, truncated or undecodable file, missing_error if absent.
cv::Mat read_image(const std::string& path, int channels);

// Images whose longer side is at most this are "small" and get small_image_pipeline.
inline constexpr int64_t kSmallImageSide = 64;

// The stored sizes of up to `count` files spread evenly over `files`, read from their headers
// (decoded when the header says nothing); unreadable files are passed over.
struct ImageSizeProbe {
  size_t probed = 0;
  int64_t max_side = 0;                   // the longest side among them
  int64_t min_height = 0, max_height = 0, min_width = 0, max_width = 0;
};
ImageSizeProbe probe_image_sizes(const std::vector<ImageFile>& files, size_t count);

class ImageFolderDataset : public Dataset {
 public:
  // `augment` kNone gives the evaluation pipeline; spec.resize is the shorter side before the
  // center crop (0: round(size * 256 / 224)). `small`: small_image_pipeline instead.
  ImageFolderDataset(std::vector<ImageFile> files, SampleSpec spec, Augment augment,
                     std::string root, bool small = false);
  size_t size() const override { return files_.size(); }
  int64_t label(size_t index) const override { return files_[index].label; }
  void load(size_t index, float* out, uint64_t sample_seed) const override;
  const SampleSpec& spec() const override { return spec_; }
  std::string describe(size_t index) const override { return files_[index].path; }
  std::array<int64_t, 2> source_size(size_t index) const override;
  const std::vector<ImageFile>& files() const { return files_; }

 private:
  void load_file(const std::string& path, float* out, uint64_t sample_seed) const;

  std::vector<ImageFile> files_;
  SampleSpec spec_;
  Augment augment_;
  std::string root_;
  bool small_ = false;
};

}  // namespace zoo
