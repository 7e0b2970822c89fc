// The ILSVRC2012 devkit (ILSVRC2012_devkit_t12.tar.gz): the synset table in data/meta.mat
// (a MATLAB v5 MAT-file holding the struct array `synsets`) and the validation ground truth
// (data/ILSVRC2012_validation_ground_truth.txt, one ILSVRC2012_ID per line, in the order of
// the validation files' sorted names). The same derivation as torchvision's
// datasets.imagenet.parse_devkit_archive: the 1,000 classes are the synsets with
// num_children == 0, in meta.mat's order; a validation image's class is the WNID of the synset
// whose ILSVRC2012_ID its ground-truth line gives.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace zoo {

struct ImagenetSynset {
  int64_t id = 0;     // ILSVRC2012_ID (1..1000 for the leaves)
  std::string wnid;   // "n01440764"
  std::string words;  // "tench, Tinca tinca"
};

// The leaf synsets (num_children == 0) of a meta.mat file's bytes, in file order. Throws
// data_error naming `source` when the bytes are not a MAT-file with a `synsets` struct array
// holding the fields ILSVRC2012_ID, WNID, words and num_children.
std::vector<ImagenetSynset> parse_imagenet_meta(const std::vector<uint8_t>& mat_bytes,
                                                const std::string& source);

// The ILSVRC2012_IDs of a ground-truth file's text, one per non-empty line. Throws data_error
// naming `source` and the line for anything that is not a positive integer.
std::vector<int64_t> parse_ground_truth(const std::string& text, const std::string& source);

// The WNID of each ground-truth line: ids mapped through the leaf synsets. Throws data_error
// naming `source` for an id that is not a leaf's.
std::vector<std::string> ground_truth_wnids(const std::vector<ImagenetSynset>& leaves,
                                            const std::vector<int64_t>& ids, const std::string& source);

}  // namespace zoo
