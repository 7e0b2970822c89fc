// Weights names, the cache and the environment; see hub.h.
#include "weights/hub.h"

#include "common/error.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>

namespace zoo {

namespace fs = std::filesystem;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

bool is_url(const std::string& s) {
  return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0 || s.rfind("file://", 0) == 0;
}

std::string torch_home() {
  std::string home = env("TORCH_HOME");
  if (!home.empty()) return home;
  std::string xdg = env("XDG_CACHE_HOME");
  if (xdg.empty()) {
    const std::string user_home = env("HOME");
    if (user_home.empty()) {
      throw usage_error("neither $TORCH_HOME nor $HOME is set, so there is no weights cache; HINT: set TORCH_HOME");
    }
    xdg = user_home + "/.cache";
  }
  return xdg + "/torch";
}

}  // namespace

HubSettings hub_settings() {
  HubSettings s;
  s.cache_dir = (fs::path(torch_home()) / "hub" / "checkpoints").string();
  s.mirror = env("ZOO_WEIGHTS_MIRROR");
  while (!s.mirror.empty() && s.mirror.back() == '/') s.mirror.pop_back();
  if (!s.mirror.empty() && !is_url(s.mirror)) {
    throw usage_error("$ZOO_WEIGHTS_MIRROR must be an http(s):// or file:// URL, got '" + s.mirror + "'");
  }
  s.download = download_settings();
  s.download.store = "the weights cache";
  s.download.store_hint = "set $TORCH_HOME to a writable folder";
  s.download.mirror_variable = "ZOO_WEIGHTS_MIRROR";
  return s;
}

bool is_weights_reference(const std::string& weights) {
  std::error_code ec;
  if (weights.empty() || fs::exists(weights, ec)) return false;
  return is_url(weights) || is_catalogue_name(weights);
}

std::string source_url(const WeightsEntry& entry, const HubSettings& settings) {
  return settings.mirror.empty() ? entry.url : settings.mirror + "/" + entry.file_name();
}

std::string cache_path(const WeightsEntry& entry, const HubSettings& settings) {
  return (fs::path(settings.cache_dir) / entry.file_name()).string();
}

WeightsFile resolve_weights(const std::string& weights) {
  WeightsFile out;
  if (!is_weights_reference(weights)) {
    out.path = weights;
    return out;
  }
  const HubSettings settings = hub_settings();
  std::string url, sha256;
  if (is_url(weights)) {
    url = weights;
    const std::string name = url.substr(url.find_last_of('/') + 1);
    out.path = (fs::path(settings.cache_dir) / name.substr(0, name.find_first_of("?#"))).string();
  } else {
    out.entry = find_weights(weights);
    url = source_url(*out.entry, settings);
    sha256 = out.entry->sha256;
    out.path = cache_path(*out.entry, settings);
  }
  out.downloaded = fetch_verified(url, out.path, sha256, settings.download) == FetchResult::kDownloaded;
  if (!out.downloaded) spdlog::debug("{}: cached {}", weights, out.path);
  return out;
}

}  // namespace zoo
