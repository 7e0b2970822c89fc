// libFuzzer harness for the caption dataset readers (data/captions.h read_caption_set). Byte 0
// picks the layout, the rest is its caption file(s), written into a scratch folder that already
// holds image files named a.jpg .. e.jpg, 1.jpg .. 3.jpg wherever the layout looks for them:
//   0: Karpathy split file DIR/dataset_coco.json (the folder is read);
//   1: a Karpathy split file given as the path itself (DIR/dataset_flickr8k.json);
//   2: COCO: the same bytes as DIR/annotations/captions_train2017.json and captions_val2017.json;
//   3: Flickr8k: NUL-separated parts: Flickr8k.token.txt, then optionally
//      Flickr_8k.trainImages.txt, Flickr_8k.devImages.txt, Flickr_8k.testImages.txt.
// A set that reads must hold train and val images with captions; its vocabulary is built and
// survives to_json -> from_json.
#include "common/error.h"
#include "data/captions.h"
#include "fuzz/fuzz_util.h"

#include <filesystem>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

const char* const kImages[] = {"a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg", "1.jpg", "2.jpg", "3.jpg"};

// DIR/<layout>, made once with its image files.
fs::path layout_dir(int layout) {
  static const fs::path dirs[4] = {zoo::fuzz::scratch_dir("captions") / "karpathy",
                                   zoo::fuzz::scratch_dir("captions") / "karpathy-file",
                                   zoo::fuzz::scratch_dir("captions") / "coco",
                                   zoo::fuzz::scratch_dir("captions") / "flickr8k"};
  static bool made = false;
  if (!made) {
    made = true;
    const std::vector<std::vector<std::string>> image_dirs = {
        {"", "images", "train2014", "images/val2014"},
        {"", "Flicker8k_Dataset"},
        {"train2017", "val2017"},
        {"Flicker8k_Dataset"}};
    for (int l = 0; l < 4; ++l) {
      for (const auto& sub : image_dirs[l]) {
        for (const char* image : kImages) zoo::fuzz::write_bytes(dirs[l] / sub / image, "\xFF\xD8\xFF");
      }
    }
    fs::create_directories(dirs[2] / "annotations");
  }
  return dirs[layout];
}

std::vector<std::string> split_nul(const uint8_t* data, size_t size) {
  std::vector<std::string> parts(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      parts.emplace_back();
    } else {
      parts.back() += static_cast<char>(data[i]);
    }
  }
  return parts;
}

void check(const zoo::CaptionSet& set) {
  ZOO_FUZZ_CHECK(!set.train.empty() && !set.val.empty(), "train and val are never empty");
  for (const auto* split : {&set.train, &set.val, &set.test}) {
    for (const auto& image : *split) {
      ZOO_FUZZ_CHECK(!image.captions.empty(), "every image has a caption");
      for (const auto& caption : image.captions) {
        ZOO_FUZZ_CHECK(!caption.empty(), "no caption is empty");
      }
    }
  }
  const auto vocab = zoo::CaptionVocabulary::build(set.train, 1);
  const auto back = zoo::CaptionVocabulary::from_json(vocab.to_json());
  ZOO_FUZZ_CHECK(back.words() == vocab.words(), "the vocabulary survives to_json and back");
  const auto& first = set.train.front().captions.front();
  const auto ids = vocab.encode(first);
  ZOO_FUZZ_CHECK(ids.size() == first.size() + 2, "encode adds <start> and <end>");
  ZOO_FUZZ_CHECK(vocab.decode(ids).size() == first.size(), "decode gives the words back");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int layout = data[0] % 4;
  const fs::path dir = layout_dir(layout);
  ++data, --size;
  std::string path = dir.string();
  std::error_code ec;
  switch (layout) {
    case 0: zoo::fuzz::write_bytes(dir / "dataset_coco.json", data, size); break;
    case 1:
      zoo::fuzz::write_bytes(dir / "dataset_flickr8k.json", data, size);
      path = (dir / "dataset_flickr8k.json").string();
      break;
    case 2:
      zoo::fuzz::write_bytes(dir / "annotations" / "captions_train2017.json", data, size);
      zoo::fuzz::write_bytes(dir / "annotations" / "captions_val2017.json", data, size);
      break;
    default: {
      const char* names[] = {"Flickr8k.token.txt", "Flickr_8k.trainImages.txt",
                             "Flickr_8k.devImages.txt", "Flickr_8k.testImages.txt"};
      const std::vector<std::string> parts = split_nul(data, size);
      for (size_t i = 0; i < 4; ++i) {
        if (i < parts.size()) {
          zoo::fuzz::write_bytes(dir / names[i], parts[i]);
        } else {
          fs::remove(dir / names[i], ec);
        }
      }
    }
  }
  try {
    check(zoo::read_caption_set(path));
  } catch (const zoo::Error&) {
  }
  return 0;
}
