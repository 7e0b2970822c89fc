// The dataset contract between data formats and the loader: random access to samples, and a
// collate step that makes a batch of them. The default collate decodes and transforms image
// samples straight into a preallocated float slot of the batch tensor ("inputs") beside their
// labels ("targets"); a format whose samples vary in size (captions) overrides it. A sample's
// randomness (augmentation) comes only from the seed the loader passes, derived from (run
// seed, epoch, index), so batches are identical whatever the number of worker threads.
#pragma once

#include "data/batch.h"

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace zoo {

// What the model wants each sample to become: C x H x W floats, normalized per channel.
struct SampleSpec {
  int64_t channels = 1;
  int64_t height = 28;
  int64_t width = 28;
  std::array<double, 3> mean{0.0, 0.0, 0.0};
  std::array<double, 3> std{1.0, 1.0, 1.0};
  // Evaluation geometry for image files: > 0 resizes the shorter side to this and center-crops
  // height x width (torchvision's Resize(256) + CenterCrop(224)); 0 resizes to height x width.
  int64_t resize = 0;
  int64_t numel() const { return channels * height * width; }
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual size_t size() const = 0;
  virtual int64_t label(size_t index) const = 0;
  // Writes sample `index` as spec().numel() floats (C x H x W) to `out`. Throws zoo::Error
  // when the sample cannot be read or decoded: kBadData (undecodable) is skipped by the loader
  // with a warning; kMissingInput or kIO (a file that vanished or cannot be opened) stops it.
  virtual void load(size_t index, float* out, uint64_t sample_seed) const = 0;
  virtual const SampleSpec& spec() const = 0;
  // Where a sample comes from, for warnings ("train-images-idx3-ubyte.gz[512]", a file path).
  virtual std::string describe(size_t index) const = 0;
  // The stored image's height and width before any transform (decoding it if it must, for
  // `zoo data inspect`); throws zoo::Error like load() when it cannot be read.
  virtual std::array<int64_t, 2> source_size(size_t /*index*/) const {
    return {spec().height, spec().width};
  }
  // The batch of samples `indices` (seeds[i] is sample i's seed), numbered `index`. The default
  // stacks load() into "inputs" N x C x H x W and label() into "targets" N; a sample that cannot
  // be decoded is left out with one warning naming it and counted in *skipped; a missing or
  // unreadable file is an error (the dataset changed under the run).
  virtual Batch collate(const std::vector<size_t>& indices, const std::vector<uint64_t>& seeds,
                        int64_t index, int64_t* skipped) const;
};

// A dataset and its context: splits share class names.
struct DataSplits {
  std::shared_ptr<const Dataset> train;
  std::shared_ptr<const Dataset> val;  // the official test split where the format has one
  std::vector<std::string> class_names;
  std::string name;      // "fashion-mnist", or the path given
  std::string location;  // the directory the files were read from
  std::string val_name;  // "test" or "val"
  // The size the format's images have when they all share one (32 for CIFAR, 64 for shapes);
  // 0 when they vary (ImageFolder) or the model's own size is the better default (MNIST into
  // LeNet's 32 x 32). Samples are this size when the model's is larger, unless --input-size.
  int64_t native_size = 0;
  // What the files hold and what zoo makes of them, for the run log and config.json: stored
  // channels (1 gray, 3 colour; 0 when image files vary and are decoded to the model's), the
  // training and evaluation pipelines in words, and each decision taken for the user ("28 x 28
  // is the native size: the model's 224 x 224 would upscale the images").
  int64_t stored_channels = 0;
  std::string train_pipeline;
  std::string eval_pipeline;
  std::vector<std::string> notes;
};

}  // namespace zoo
