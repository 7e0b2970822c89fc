// Fetching a weights file into the cache (common/download.h), verified the way PyTorch's hub
// names files: NAME-<hex>.pth carries a prefix of the file's SHA-256, always checked, and the
// catalogue's full digest when known.
#pragma once

#include "common/download.h"

#include <string>

namespace zoo {

// Makes `dest` a verified copy of `url`. `sha256` is the full hex digest or empty; the prefix
// in dest's file name (NAME-<hex>.ext) is always checked, and a name without one is refused
// (usage_error). Otherwise as fetch_file.
FetchResult fetch_verified(const std::string& url, const std::string& dest, const std::string& sha256,
                           const DownloadOptions& options);

// Empty when the file at `path` has the digest `dest_name`'s prefix promises (and `sha256`
// when not empty); otherwise what differs, for an error message.
std::string verification_problem(const std::string& path, const std::string& dest_name, const std::string& sha256);

}  // namespace zoo
