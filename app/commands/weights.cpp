// zoo weights list|fetch|verify: the pretrained-weights catalogue and its cache (weights/hub.h).
//   zoo weights list [MODEL...] [--json]   names, file, size, accuracy, cached or not
//   zoo weights fetch NAME|URL...          download once, verify, keep in the cache
//   zoo weights verify [NAME...]           re-hash cached files (all hub files by default)
#include "app/commands/commands.h"
#include "common/error.h"
#include "models/registry.h"
#include "weights/hub.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

namespace zoo {

namespace fs = std::filesystem;

namespace {

struct WeightsOptions {
  std::vector<std::string> names;
  bool json = false;
};

std::vector<const WeightsEntry*> select(const std::vector<std::string>& models) {
  for (const auto& m : models) find_model(m);  // an unknown model is a usage error
  std::vector<const WeightsEntry*> out;
  for (const auto& e : weights_catalogue()) {
    bool wanted = models.empty();
    for (const auto& m : models) wanted = wanted || e.model == m;
    if (wanted) out.push_back(&e);
  }
  return out;
}

std::string percent(double v) {
  if (std::isnan(v)) return "-";
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

void run_list(const WeightsOptions& opts) {
  const HubSettings settings = hub_settings();
  const auto entries = select(opts.names);
  std::error_code ec;
  if (opts.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto* e : entries) {
      nlohmann::json j = to_json(*e);
      j["cached"] = fs::exists(cache_path(*e, settings), ec);
      out.push_back(j);
    }
    std::printf("%s\n", out.dump(1).c_str());
    return;
  }
  std::printf("%-40s %-38s %9s %7s %7s %6s  %s\n", "name (* = default)", "file", "size MiB", "acc@1",
              "acc@5", "GFLOPS", "cached");
  for (const auto* e : entries) {
    std::printf("%-40s %-38s %9.1f %7s %7s %6.2f  %s\n", (e->name + (e->is_default ? " *" : "")).c_str(),
                e->file_name().c_str(), e->size_mb, percent(e->acc1).c_str(), percent(e->acc5).c_str(), e->gflops,
                fs::exists(cache_path(*e, settings), ec) ? "yes" : "no");
  }
  std::printf("cache: %s%s\n", settings.cache_dir.c_str(),
              settings.mirror.empty() ? "" : ("; mirror: " + settings.mirror).c_str());
}

void run_fetch(const WeightsOptions& opts) {
  if (opts.names.empty()) throw usage_error("name the weights to fetch; HINT: zoo weights fetch torchvision:resnet50");
  for_each_name(opts.names, "fetched", [](const std::string& name) {
    if (!is_weights_reference(name)) {
      throw usage_error("'" + name + "' is neither a weights name nor an http(s)/file URL; HINT: `zoo weights list`");
    }
    const WeightsFile file = resolve_weights(name);
    std::printf("%s: %s %s\n", name.c_str(), file.downloaded ? "downloaded" : "cached", file.path.c_str());
  });
}

void run_verify(const WeightsOptions& opts) {
  const HubSettings settings = hub_settings();
  std::vector<std::string> files;  // cache paths
  std::vector<std::string> sha256;
  if (opts.names.empty()) {
    std::error_code ec;
    for (const auto& item : fs::directory_iterator(settings.cache_dir, ec)) {
      const std::string name = item.path().filename().string();
      const std::string ext = item.path().extension().string();
      if (!item.is_regular_file(ec) || hash_prefix_of(name).empty() || ext == ".lock" || ext == ".partial") continue;
      files.push_back(item.path().string());
      sha256.emplace_back();
      for (const auto& e : weights_catalogue()) {
        if (e.file_name() == name) sha256.back() = e.sha256;
      }
    }
  } else {
    for (const auto& name : opts.names) {
      const WeightsEntry& e = find_weights(name);
      files.push_back(cache_path(e, settings));
      sha256.push_back(e.sha256);
    }
  }
  if (files.empty()) {
    std::printf("no weights files in %s\n", settings.cache_dir.c_str());
    return;
  }
  size_t i = 0;
  for_each_name(files, "verified", [&](const std::string& path) {
    const std::string full = sha256[i++];
    if (!fs::is_regular_file(path)) throw missing_error(path + " is not in the cache; HINT: zoo weights fetch NAME");
    const std::string problem = verification_problem(path, fs::path(path).filename().string(), full);
    if (!problem.empty()) {
      throw data_error(path + " is damaged: " + problem + "; HINT: `zoo weights fetch` replaces it");
    }
    std::printf("ok  %s\n", path.c_str());
  });
}

}  // namespace

void register_weights(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("weights", "Pretrained weights by name: list the catalogue, fetch and verify files");
  cmd->require_subcommand(1);
  cmd->footer(
      "Files are kept in PyTorch's cache ($TORCH_HOME/hub/checkpoints, default "
      "~/.cache/torch/hub/checkpoints), so files torchvision downloaded are reused. "
      "ZOO_WEIGHTS_MIRROR=URL (http(s) or file) replaces the origin; ZOO_OFFLINE=1 or "
      "`zoo --offline` never downloads; ZOO_DOWNLOAD_TIMEOUT (s, 30) and ZOO_DOWNLOAD_RETRIES (3) "
      "tune transfers. Any --weights option takes these names.");

  auto list = std::make_shared<WeightsOptions>();
  CLI::App* l = cmd->add_subcommand("list", "The catalogue: names, files, sizes, ImageNet accuracy, cached or not");
  l->add_option("models", list->names, "Only these models' weights");
  l->add_flag("--json", list->json, "Print every field as JSON on stdout");
  l->callback([list] { run_list(*list); });

  auto fetch = std::make_shared<WeightsOptions>();
  CLI::App* f = cmd->add_subcommand("fetch", "Download weights into the cache (resumable), verified by SHA-256");
  f->add_option("names", fetch->names, "Weights names (torchvision:resnet50[.VERSION]) or URLs")->required();
  f->callback([fetch] { run_fetch(*fetch); });

  auto verify = std::make_shared<WeightsOptions>();
  CLI::App* v = cmd->add_subcommand("verify", "Re-hash cached weights files; a damaged file is reported (exit 65)");
  v->add_option("names", verify->names, "Weights names; default: every hub file in the cache");
  v->callback([verify] { run_verify(*verify); });
}

}  // namespace zoo
