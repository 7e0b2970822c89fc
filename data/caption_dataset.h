// Captioning data for the trainer: images with their reference captions, as batches.
//
// open_caption_data reads a captioning set by name or path: `shapes-captions` (generated
// in-process from a seed, data/shapes_captions.h: 10,000 train / 1,000 val scenes at 64 x 64),
// a COCO, Flickr8k or Karpathy-split folder or JSON file (data/captions.h), or a name under
// $ZOO_DATA. Images are resized to the model's input (spec) without augmentation: a flip would
// turn "left of" into a wrong caption.
//
// A batch holds "inputs" (N x C x H x W images), "captions" (N x T int64: <start> w1 .. wn <end>
// then <pad>; one reference per image, picked by the sample seed, so each epoch sees another),
// "mask" (N x T bool, true on real tokens), "lengths" (N, tokens with <start> and <end>) and
// "targets" (N int64: the images' indices in the split, to find all their references).
#pragma once

#include "data/captions.h"
#include "data/dataset.h"

#include <memory>
#include <string>
#include <vector>

namespace zoo {

inline constexpr const char* kCaptions = "captions";
inline constexpr const char* kDefaultCaptionData = "shapes-captions";

class CaptionDataset : public Dataset {
 public:
  // Image files with their references.
  CaptionDataset(std::vector<CaptionImage> images, SampleSpec spec);
  // Generated shapes-captions scenes: split 0 train, 1 val.
  static std::shared_ptr<CaptionDataset> shapes(int split, size_t count, SampleSpec spec);

  // Must be set before batches are made; captions are cut to max_words words (0: no limit).
  void set_vocabulary(std::shared_ptr<const CaptionVocabulary> vocab, int64_t max_words);

  size_t size() const override { return images_.size(); }
  int64_t label(size_t index) const override;  // the index itself: batches carry it as "targets"
  void load(size_t index, float* out, uint64_t sample_seed) const override;
  const SampleSpec& spec() const override { return spec_; }
  std::string describe(size_t index) const override;
  Batch collate(const std::vector<size_t>& indices, const std::vector<uint64_t>& seeds, int64_t index,
                int64_t* skipped) const override;

  const std::vector<std::vector<std::string>>& references(size_t index) const { return images_[index].captions; }
  const std::vector<CaptionImage>& images() const { return images_; }

 private:
  CaptionDataset() = default;
  std::vector<CaptionImage> images_;
  std::vector<uint64_t> scene_seeds_;  // generated scenes; empty for files
  int split_ = 0;
  SampleSpec spec_;
  std::shared_ptr<const CaptionVocabulary> vocab_;
  int64_t max_words_ = 0;
};

struct CaptionSplits {
  std::shared_ptr<CaptionDataset> train, val, test;  // test may be null
  std::string name, location, format;
};

// `spec` gives the images' geometry and normalisation (its height/width: the model's input;
// 0 there: the set's native size for generated scenes, 224 for files).
CaptionSplits open_caption_data(const std::string& data, const SampleSpec& spec);

}  // namespace zoo
