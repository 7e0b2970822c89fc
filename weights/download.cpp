// Fetching weights files; see download.h.
#include "weights/download.h"

#include "common/error.h"
#include "weights/catalogue.h"

#include <filesystem>

namespace zoo {

namespace {

std::vector<ExpectedDigest> expected_for(const std::string& dest_name, const std::string& sha256) {
  std::vector<ExpectedDigest> expected{{DigestKind::kSha256, hash_prefix_of(dest_name), true, "the name " + dest_name}};
  if (!sha256.empty()) expected.push_back({DigestKind::kSha256, sha256, false, "the catalogue"});
  return expected;
}

}  // namespace

std::string verification_problem(const std::string& path, const std::string& dest_name, const std::string& sha256) {
  return digest_problem(path, expected_for(dest_name, sha256));
}

FetchResult fetch_verified(const std::string& url, const std::string& dest, const std::string& sha256,
                           const DownloadOptions& options) {
  const std::string name = std::filesystem::path(dest).filename().string();
  if (hash_prefix_of(name).empty()) {
    throw usage_error("the file name " + name + " carries no SHA-256 prefix (NAME-<hex digits>.pth), so "
                      "zoo cannot verify a download of " + url + "; HINT: download it yourself and pass its path");
  }
  return fetch_file(url, dest, expected_for(name, sha256), options);
}

}  // namespace zoo
