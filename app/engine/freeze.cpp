// Parameter freezing; see freeze.h.
#include "app/engine/freeze.h"

#include "common/error.h"
#include "common/text.h"

#include <torch/nn/modules/container/sequential.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include <fnmatch.h>

namespace zoo {

namespace {

bool under(const std::string& name, const std::string& prefix) {
  return name == prefix || name.rfind(prefix + ".", 0) == 0;
}

bool glob(const std::string& pattern, const std::string& name) {
  return fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

// The module path LAYER names: an exact path, or the one path ending in ".LAYER".
std::string resolve_layer(const std::vector<std::string>& paths, const std::string& layer) {
  if (std::find(paths.begin(), paths.end(), layer) != paths.end()) return layer;
  std::vector<std::string> matches;
  for (const auto& p : paths) {
    if (p.size() > layer.size() && p.compare(p.size() - layer.size(), layer.size(), layer) == 0 &&
        p[p.size() - layer.size() - 1] == '.') {
      matches.push_back(p);
    }
  }
  if (matches.size() == 1) return matches[0];
  throw usage_error("--freeze up-to:" + layer + (matches.empty() ? " names no module" : " is ambiguous (" + name_list(matches) + ")") +
                    "; HINT: `zoo info MODEL --groups` lists the layers, e.g. " +
                    name_list(paths, 6));
}

// Parameters of the modules up to and including `layer`, by forward (registration) order.
std::set<std::string> up_to(const torch::nn::Module& model, const std::string& layer_name) {
  std::vector<std::string> paths;
  for (const auto& item : model.named_modules("", /*include_self=*/false)) paths.push_back(item.key());
  const std::string layer = resolve_layer(paths, layer_name);
  // The layer's subtree ends at the last path under it; every module before that point is in.
  size_t end = 0;
  for (size_t i = 0; i < paths.size(); ++i) {
    if (under(paths[i], layer)) end = i;
  }
  std::set<std::string> modules(paths.begin(), paths.begin() + end + 1);
  std::set<std::string> out;
  for (const auto& p : model.named_parameters()) {
    const auto dot = p.key().rfind('.');
    if (dot != std::string::npos && modules.count(p.key().substr(0, dot))) out.insert(p.key());
  }
  return out;
}

bool is_batch_norm(const torch::nn::Module& m) { return m.name().find("BatchNorm") != std::string::npos; }

}  // namespace

Freezer::Freezer(const torch::nn::Module& model, const std::vector<std::string>& head,
                 const FreezeOptions& options)
    : bn_train_(options.bn_train) {
  std::vector<std::string> names;
  for (const auto& p : model.named_parameters()) names.push_back(p.key());
  std::set<std::string> frozen;
  for (const auto& spec : options.freeze) {
    if (spec == "none") continue;
    if (spec == "all") {
      frozen.insert(names.begin(), names.end());
    } else if (spec == "conv" || spec == "features" || spec == "backbone") {
      if (head.empty()) throw usage_error("--freeze " + spec + " needs a model with a head; HINT: use a glob or up-to:LAYER");
      for (const auto& n : names) {
        if (!in_head(n, head)) frozen.insert(n);
      }
    } else if (spec.rfind("up-to:", 0) == 0) {
      const auto selected = up_to(model, spec.substr(6));
      frozen.insert(selected.begin(), selected.end());
    } else {
      size_t matched = 0;
      for (const auto& n : names) {
        if (glob(spec, n)) frozen.insert(n), ++matched;
      }
      if (matched == 0) {
        throw usage_error("--freeze '" + spec + "' matches no parameter (groups: conv, features, "
                          "backbone, none, all, up-to:LAYER; or a glob on names such as " +
                          name_list(names, 4) +
                          "); HINT: `zoo info MODEL --groups`");
      }
    }
  }
  for (const auto& pattern : options.train) {
    size_t matched = 0;
    for (auto it = frozen.begin(); it != frozen.end();) {
      if (glob(pattern, *it)) {
        it = frozen.erase(it);
        ++matched;
      } else {
        ++it;
      }
    }
    if (matched == 0) {
      throw usage_error("--train '" + pattern + "' matches no frozen parameter; HINT: it re-enables "
                        "parameters that --freeze froze, e.g. --freeze all --train 'fc.*'");
    }
  }
  for (const auto& n : names) {
    if (frozen.count(n)) frozen_.push_back(n);
  }
  lookup_ = std::move(frozen);
}

bool Freezer::is_frozen(const std::string& name) const { return lookup_.count(name) > 0; }

std::vector<torch::Tensor> Freezer::frozen_params(const torch::nn::Module& model) const {
  std::vector<torch::Tensor> out;
  for (const auto& p : model.named_parameters()) {
    if (is_frozen(p.key())) out.push_back(p.value());
  }
  return out;
}

void Freezer::freeze(torch::nn::Module& model) const {
  for (auto& p : model.named_parameters()) p.value().set_requires_grad(!is_frozen(p.key()));
}

void Freezer::unfreeze(torch::nn::Module& model) const {
  for (auto& p : model.parameters()) p.set_requires_grad(true);
}

void Freezer::set_modes(torch::nn::Module& model) const {
  if (bn_train_ || frozen_.empty()) return;
  for (const auto& item : model.named_modules("", /*include_self=*/false)) {
    torch::nn::Module& m = *item.value();
    if (!is_batch_norm(m)) continue;
    const auto own = m.named_parameters(/*recurse=*/false);
    const bool all_frozen = own.size() > 0 && std::all_of(own.begin(), own.end(), [&](const auto& p) {
      return is_frozen(item.key() + "." + p.key());
    });
    if (all_frozen) m.eval();
  }
}

std::vector<std::string> Freezer::table(const torch::nn::Module& model) const {
  std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>> rows;  // module, {trainable, frozen}
  int64_t trainable = 0, frozen = 0;
  for (const auto& p : model.named_parameters()) {
    const std::string top = p.key().substr(0, p.key().find('.'));
    if (rows.empty() || rows.back().first != top) rows.push_back({top, {0, 0}});
    const int64_t n = p.value().numel();
    (is_frozen(p.key()) ? rows.back().second.second : rows.back().second.first) += n;
    (is_frozen(p.key()) ? frozen : trainable) += n;
  }
  std::vector<std::string> lines;
  char buf[160];
  std::snprintf(buf, sizeof buf, "%-16s %14s %14s", "module", "trainable", "frozen");
  lines.emplace_back(buf);
  for (const auto& [name, counts] : rows) {
    std::snprintf(buf, sizeof buf, "%-16s %14lld %14lld", name.c_str(), (long long)counts.first,
                  (long long)counts.second);
    lines.emplace_back(buf);
  }
  std::snprintf(buf, sizeof buf, "%-16s %14lld %14lld", "total", (long long)trainable, (long long)frozen);
  lines.emplace_back(buf);
  return lines;
}

bool in_head(const std::string& name, const std::vector<std::string>& head) {
  return std::any_of(head.begin(), head.end(), [&](const std::string& h) { return under(name, h); });
}

std::vector<std::string> freeze_layers(const torch::nn::Module& model) {
  std::vector<std::string> out;
  for (const auto& child : model.named_children()) {
    out.push_back(child.key());
    if (dynamic_cast<const torch::nn::SequentialImpl*>(child.value().get())) {
      for (const auto& grand : child.value()->named_children()) out.push_back(child.key() + "." + grand.key());
    }
  }
  return out;
}

}  // namespace zoo
