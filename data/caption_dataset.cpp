// Captioning datasets and batches; see caption_dataset.h.
#include "data/caption_dataset.h"

#include "common/error.h"
#include "data/datasets.h"
#include "data/image.h"
#include "data/shapes_captions.h"
#include "data/transforms.h"

#include <opencv2/imgproc.hpp>

#include <cstring>
#include <filesystem>
#include <map>

namespace zoo {

namespace fs = std::filesystem;

CaptionDataset::CaptionDataset(std::vector<CaptionImage> images, SampleSpec spec)
    : images_(std::move(images)), spec_(spec) {}

std::shared_ptr<CaptionDataset> CaptionDataset::shapes(int split, size_t count, SampleSpec spec) {
  std::shared_ptr<CaptionDataset> d(new CaptionDataset());
  d->split_ = split;
  d->spec_ = spec;
  d->images_.reserve(count);
  d->scene_seeds_.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const uint64_t seed = shapes_captions_seed(split, i);
    ShapesScene scene = make_shapes_scene(seed, kShapesCaptionsSize);
    d->images_.push_back({"", std::move(scene.captions)});
    d->scene_seeds_.push_back(seed);
  }
  return d;
}

void CaptionDataset::set_vocabulary(std::shared_ptr<const CaptionVocabulary> vocab, int64_t max_words) {
  vocab_ = std::move(vocab);
  max_words_ = max_words;
}

std::string CaptionDataset::describe(size_t index) const {
  if (!scene_seeds_.empty()) return std::string("shapes-captions/") + (split_ == 0 ? "train" : "val") + "[" + std::to_string(index) + "]";
  return images_[index].path;
}

void CaptionDataset::load(size_t index, float* out, uint64_t /*sample_seed*/) const {
  if (scene_seeds_.empty()) {
    const torch::Tensor image = load_image_file(images_[index].path, spec_);
    std::memcpy(out, image.data_ptr<float>(), sizeof(float) * static_cast<size_t>(spec_.numel()));
    return;
  }
  const uint64_t seed = scene_seeds_[index];
  cv::Mat rgb = render_shapes_scene(make_shapes_scene(seed, kShapesCaptionsSize), seed, kShapesCaptionsSize);
  if (rgb.rows != spec_.height || rgb.cols != spec_.width) rgb = resize_to(rgb, static_cast<int>(spec_.height), static_cast<int>(spec_.width));
  if (spec_.channels == 1) cv::cvtColor(rgb, rgb, cv::COLOR_RGB2GRAY);  // rendered in RGB order
  to_normalized_chw(rgb, spec_.mean, spec_.std, out);
}

int64_t CaptionDataset::label(size_t index) const { return static_cast<int64_t>(index); }

Batch CaptionDataset::collate(const std::vector<size_t>& indices, const std::vector<uint64_t>& seeds, int64_t index,
                              int64_t* skipped) const {
  if (!vocab_) throw internal_error("caption batches need the vocabulary (set_vocabulary)");
  Batch batch = Dataset::collate(indices, seeds, index, skipped);  // targets: the kept indices
  std::map<size_t, uint64_t> seed_of;
  for (size_t i = 0; i < indices.size(); ++i) seed_of[indices[i]] = seeds[i];
  const torch::Tensor kept = batch.targets();
  std::vector<torch::Tensor> captions;
  for (int64_t i = 0; i < kept.size(0); ++i) {
    const auto image = static_cast<size_t>(kept[i].item<int64_t>());
    const auto& refs = images_[image].captions;
    const auto& words = refs[seed_of[image] % refs.size()];
    const std::vector<int64_t> ids = vocab_->encode(words, max_words_);
    captions.push_back(torch::tensor(ids, torch::kInt64));
  }
  if (captions.empty()) {
    batch.set(kCaptions, torch::zeros({0, 2}, torch::kInt64));
    batch.set(kMask, torch::zeros({0, 2}, torch::kBool));
    batch.set(kLengths, torch::zeros({0}, torch::kInt64));
    return batch;
  }
  Batch padded = pad_sequences(captions, CaptionVocabulary::kPad);
  batch.set(kCaptions, padded.inputs());
  batch.set(kMask, padded.get(kMask));
  batch.set(kLengths, padded.get(kLengths));
  return batch;
}

namespace {

bool is_caption_location(const fs::path& p) {
  std::error_code ec;
  if (fs::is_regular_file(p, ec)) return p.extension() == ".json";
  if (!fs::is_directory(p, ec)) return false;
  for (const char* marker : {"annotations", "Flickr8k.token.txt", "dataset_coco.json", "dataset_flickr8k.json",
                             "dataset_flickr30k.json"}) {
    if (fs::exists(p / marker, ec)) return true;
  }
  return false;
}

}  // namespace

CaptionSplits open_caption_data(const std::string& data, const SampleSpec& spec) {
  CaptionSplits out;
  out.name = data;
  SampleSpec s = spec;
  if (data == kDefaultCaptionData) {
    if (s.height == 0) s.height = s.width = kShapesCaptionsSize;
    out.train = CaptionDataset::shapes(0, kShapesCaptionsTrain, s);
    out.val = CaptionDataset::shapes(1, kShapesCaptionsVal, s);
    out.location = "(generated in-process)";
    out.format = "shapes-captions";
    return out;
  }
  if (s.height == 0) s.height = s.width = 224;
  std::string location = data;
  std::error_code ec;
  if (!fs::exists(location, ec)) {
    std::string tried;
    for (const auto& dir : dataset_search_dirs(data)) {
      tried += (tried.empty() ? "" : ", ") + dir;
      if (is_caption_location(dir)) {
        location = dir;
        break;
      }
    }
    if (!fs::exists(location, ec)) {
      throw missing_error("captioning data '" + data + "' not found (looked in " + data + ", " + tried +
                          "); HINT: pass a COCO folder (annotations/captions_*.json + images), a Flickr8k folder "
                          "(Flickr8k.token.txt + images), a Karpathy split JSON, or shapes-captions");
    }
  }
  CaptionSet set = read_caption_set(location);
  out.location = set.location;
  out.format = set.format;
  out.train = std::make_shared<CaptionDataset>(std::move(set.train), s);
  out.val = std::make_shared<CaptionDataset>(std::move(set.val), s);
  if (!set.test.empty()) out.test = std::make_shared<CaptionDataset>(std::move(set.test), s);
  return out;
}

}  // namespace zoo
