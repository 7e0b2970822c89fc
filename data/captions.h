// Image-caption datasets and the word vocabulary of the captioner. Torch-free: this reads the
// caption files and finds the images; decoding images is the caller's.
//
// read_caption_set recognises three layouts of a dataset path, in this order:
//  - Karpathy split JSON (what captioning papers report on): DIR/dataset_coco.json,
//    dataset_flickr8k.json or dataset_flickr30k.json, or the path is such a .json file. When a
//    folder holds several (caption_datasets.zip unpacks all three), the one whose own layout is
//    also there is read (dataset_coco.json beside annotations/, dataset_flickr8k.json beside
//    Flickr8k.token.txt or Flicker8k_Dataset/, dataset_flickr30k.json beside
//    flickr30k-images/); otherwise the choice is a usage error. "restval" counts as train.
//    "tokens" (lower-cased) are used when present and non-empty, else "raw" is tokenized. With
//    D the JSON file's folder, an image is the first that exists of D/<filepath>/<filename>,
//    D/<filename>, D/images/<filepath>/<filename>, D/images/<filename>, D/Images/<filename>,
//    D/Flicker8k_Dataset/<filename>, D/flickr30k-images/<filename> (the <filepath> ones only
//    when "filepath" is given). Images keep the JSON's order.
//  - COCO: DIR/annotations/captions_train2017.json and captions_val2017.json (or the 2014
//    names; 2017 is read when both years are complete), images in DIR/train2017 and DIR/val2017
//    (train2014, val2014). COCO train is `train`, COCO val is `val`, `test` is empty. Images
//    keep the order of the file's "images" list, captions the order of "annotations".
//  - Flickr8k: DIR/Flickr8k.token.txt (lines "IMAGE.jpg#N<TAB>caption"; Flickr8k.lemma.token.txt
//    is not read), images in DIR/Flicker8k_Dataset (the official, misspelt name), DIR/Images or
//    DIR/images. With DIR/Flickr_8k.trainImages.txt and Flickr_8k.devImages.txt (both needed;
//    Flickr_8k.testImages.txt optional) the splits are theirs (dev is `val`), and images of the
//    token file that no split lists are left out (the official token file names
//    2258277193_586949ec62.jpg.1, which is no image). Without them the split is by sorted file
//    name: the last K images are test, the K before them val, the rest train, where K = 1000
//    from 3000 images on and K = max(1, N / 10) below (5 images: 3 train, 1 val, 1 test); fewer
//    than 3 images is a data error. Images are in file-name order in every split.
//
// Captions that tokenize to nothing are dropped; an image left with no caption is a data error.
// Every image file must exist when the set is read. Errors: a missing file or folder is a
// missing_error naming what was looked for and the layout expected; malformed JSON or lines,
// an annotation naming an unknown image id, an image without a caption, an image file that
// does not exist ("N of M images listed in FILE are missing, e.g. ...") and an empty train or
// val split are data_errors naming the file (and the line of a text file).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace zoo {

// Lower-cases ASCII letters; splits on ASCII whitespace; every ASCII punctuation character
// becomes its own token ("A dog, running." -> a dog , running .; "don't" -> don ' t). Bytes
// >= 0x80 stay inside words unchanged, so UTF-8 text is never cut inside a character (and
// non-ASCII capitals are not lower-cased).
std::vector<std::string> tokenize_caption(const std::string& text);

struct CaptionImage {
  std::string path;                                // image file (absolute or relative to cwd as found)
  std::vector<std::vector<std::string>> captions;  // tokenized references, >= 1
};

struct CaptionSet {
  std::vector<CaptionImage> train, val, test;  // train and val are never empty; test may be
  std::string format;                          // "coco", "flickr8k", "karpathy"
  std::string location;                        // the dataset path as given (folder or .json)
};

// Recognises the layout of `dir` (a folder, or a Karpathy split .json file) and reads it.
CaptionSet read_caption_set(const std::string& dir);

// Word vocabulary: id 0 <pad>, 1 <start>, 2 <end>, 3 <unk>, then the words of the captions it
// was built from that occur at least min_count times, by descending count, ties in byte order.
class CaptionVocabulary {
 public:
  static constexpr int64_t kPad = 0, kStart = 1, kEnd = 2, kUnk = 3;
  static constexpr int64_t kSpecials = 4;

  CaptionVocabulary();  // the four special tokens only

  // Counts every caption of `images`; min_count < 1 is a usage error.
  static CaptionVocabulary build(const std::vector<CaptionImage>& images, int64_t min_count);

  int64_t size() const { return static_cast<int64_t>(words_.size()); }
  const std::vector<std::string>& words() const { return words_; }
  // The word's id; kUnk for words not in the vocabulary and for the special tokens' own names
  // (a caption containing the text "<end>" must not end a sequence).
  int64_t id(const std::string& word) const;
  // internal_error when id is not in [0, size()).
  const std::string& word(int64_t id) const;

  // <start> w1 .. wn <end>, words mapped by id(); at most max_words words (0: no limit;
  // negative is a usage error).
  std::vector<int64_t> encode(const std::vector<std::string>& tokens, int64_t max_words = 0) const;
  // The words up to the first <end> (or the end), skipping <start> and <pad>; <unk> stays.
  std::vector<std::string> decode(const std::vector<int64_t>& ids) const;

  // {"words": [every word in id order, the special tokens first]}.
  nlohmann::json to_json() const;
  // data_error when `j` is not that shape, the specials are not the first four words, or a word
  // is empty or repeats.
  static CaptionVocabulary from_json(const nlohmann::json& j);

 private:
  explicit CaptionVocabulary(std::vector<std::string> words);

  std::vector<std::string> words_;
  std::unordered_map<std::string, int64_t> index_;  // ordinary words only
};

// The words separated by single spaces.
std::string join_words(const std::vector<std::string>& words);

}  // namespace zoo
