// ImageFolder: class folders of image files (JPEG, PNG, BMP, WebP, TIFF, PPM/PGM), as
// torchvision's datasets.ImageFolder reads them: classes are the sub-folder names in sorted
// order, files are those with an image extension. Files are decoded lazily, one per load():
// training samples get RandomResizedCrop + flip (+ ColorJitter), evaluation samples
// Resize(round(size * 256 / 224)) + CenterCrop(size). JPEGs are decoded at 1/2, 1/4 or 1/8
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

class ImageFolderDataset : public Dataset {
 public:
  // `augment` kNone gives the evaluation pipeline; spec.resize is the shorter side before the
  // center crop (0: round(size * 256 / 224)).
  ImageFolderDataset(std::vector<ImageFile> files, SampleSpec spec, Augment augment,
                     std::string root);
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
};

}  // namespace zoo
