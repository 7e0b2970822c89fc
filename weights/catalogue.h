// The pretrained-weights catalogue: every weights file torchvision publishes for a zoo model,
// with what is needed to fetch, verify and use it: URL (the file name ends in the first hex
// digits of the file's SHA-256), size, categories, preprocessing, GoogLeNet's transform_input
// and the accuracy torchvision reports. The built-in rows (catalogue.cpp) are facts from
// torchvision's weight enums; tests/test_hub.cpp compares them with the installed torchvision,
// so they cannot drift. `$ZOO_WEIGHTS_CATALOG` may name a JSON file of more entries (the same
// fields as `zoo weights list --json`), e.g. a team's own fine-tuned weights on its mirror.
//
// Names: SOURCE:MODEL.VERSION ("torchvision:resnet50.IMAGENET1K_V2"); SOURCE:MODEL and
// SOURCE:MODEL.DEFAULT are the version torchvision uses by default; torchvision's own enum
// spelling works too ("torchvision:ResNet50_Weights.IMAGENET1K_V2").
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace zoo {

struct WeightsEntry {
  std::string name;         // SOURCE:MODEL.VERSION
  std::string model;        // the zoo model the file loads into
  std::string version;      // "IMAGENET1K_V1"
  std::string enum_name;    // "ResNet50_Weights" (torchvision's), or empty
  bool is_default = false;  // the version SOURCE:MODEL means
  std::string url;
  std::string sha256;       // the full hex digest when known; the file name's prefix always counts
  double size_mb = 0.0;     // file size in MiB as torchvision states it (_file_size); 0: unknown
  std::string categories;   // "imagenet-1k"; empty: the head has no valid classes (features only)
  int64_t crop = 224;       // evaluation preprocessing: Resize(resize), CenterCrop(crop)
  int64_t resize = 256;
  std::array<double, 3> mean{0.485, 0.456, 0.406};
  std::array<double, 3> std{0.229, 0.224, 0.225};
  std::string interpolation = "bilinear";
  bool transform_input = false;  // GoogLeNet: torchvision builds it with transform_input=True
  int64_t num_params = 0;
  double acc1 = 0.0;        // ImageNet-1K top-1 / top-5 as torchvision reports them; NaN: none
  double acc5 = 0.0;
  double gflops = 0.0;      // torchvision's _ops; 0: unknown
  std::string recipe;       // how the weights were trained

  std::string source() const;       // "torchvision"
  std::string file_name() const;    // the URL's last component
  // The hex digits after the last '-' of the file name's stem ("11ad3fa6"), as torch.hub's
  // check_hash reads them; empty when the name carries none.
  std::string hash_prefix() const;
  bool has_classes() const { return !categories.empty(); }
};

nlohmann::json to_json(const WeightsEntry& entry);
// Throws data_error naming `where` when a field is missing or has the wrong type.
WeightsEntry weights_entry_from_json(const nlohmann::json& j, const std::string& where);

// The built-in rows, then those of $ZOO_WEIGHTS_CATALOG (read once; an unreadable or
// malformed file is a data error naming it).
const std::vector<WeightsEntry>& weights_catalogue();
// The built-in rows, then those of a $ZOO_WEIGHTS_CATALOG file's `text` (`name`: the file, for
// messages): a JSON list of entries as weights_entry_from_json reads them, none repeating a
// name already in the catalogue. Anything else is a data error naming the file.
// weights_catalogue() reads the file with it.
std::vector<WeightsEntry> parse_weights_catalogue(const std::string& text, const std::string& name);
// The hex digits a hub file name promises (see hash_prefix) for any file name.
std::string hash_prefix_of(const std::string& file_name);

// True when `reference` has the form SOURCE:REST with a SOURCE the catalogue has.
bool is_catalogue_name(const std::string& reference);
// The entry a name means; a usage error listing what exists when there is none.
const WeightsEntry& find_weights(const std::string& name);

}  // namespace zoo
