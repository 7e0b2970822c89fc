// Pretrained weights by name: what `--weights` means when it is not a file.
//
//   --weights FILE                         a file (always wins when it exists)
//   --weights torchvision:resnet50[.V]     a catalogue entry (weights/catalogue.h), fetched once
//   --weights https://host/dir/NAME-<hex>.pth   any URL whose file name carries a SHA-256 prefix
//
// Fetched files live in PyTorch's own cache, so files torchvision already downloaded are found
// without a download: $TORCH_HOME/hub/checkpoints, TORCH_HOME defaulting to
// $XDG_CACHE_HOME/torch, then ~/.cache/torch. The environment:
//   ZOO_WEIGHTS_MIRROR   an http(s) or file URL that replaces the origin of catalogue files
//                        (MIRROR/FILE_NAME), for air-gapped clusters
//   ZOO_OFFLINE=1        never touch the network (also `zoo --offline ...`)
//   ZOO_DOWNLOAD_TIMEOUT seconds without a byte before a transfer is abandoned (30)
//   ZOO_DOWNLOAD_RETRIES more tries after a transient failure (3; backoff 1 s, doubling)
#pragma once

#include "weights/catalogue.h"
#include "weights/download.h"

#include <optional>
#include <string>

namespace zoo {

struct HubSettings {
  std::string cache_dir;  // .../hub/checkpoints
  std::string mirror;     // empty: the catalogue's own URLs
  DownloadOptions download;
};

// From the environment (above, and common/download.h's download_settings).
HubSettings hub_settings();

// Not an existing file, and a catalogue name or an http(s)/file URL.
bool is_weights_reference(const std::string& weights);

// Where the catalogue's file comes from: the mirror's copy when one is set.
std::string source_url(const WeightsEntry& entry, const HubSettings& settings);
// The cache path of a catalogue entry / of a URL's file.
std::string cache_path(const WeightsEntry& entry, const HubSettings& settings);

struct WeightsFile {
  std::string path;                   // the local file to read
  std::optional<WeightsEntry> entry;  // for catalogue names
  bool downloaded = false;
};

// `weights` as a local file: a path is returned as it is (its existence is the reader's
// business); a catalogue name or URL is fetched into the cache unless it is there and verifies.
WeightsFile resolve_weights(const std::string& weights);

}  // namespace zoo
