// State dict ordering and loading with a report; see state_dict.h.
#include "weights/state_dict.h"

#include "common/error.h"

#include <torch/utils.h>

#include <sstream>
#include <unordered_map>

namespace zoo {

namespace {

std::string shape_str(const torch::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}

std::string join_keys(const std::vector<std::string>& keys, size_t most = 12) {
  std::string out;
  for (size_t i = 0; i < keys.size() && i < most; ++i) out += (i ? ", " : "") + keys[i];
  if (keys.size() > most) out += ", ... (" + std::to_string(keys.size() - most) + " more)";
  return out;
}

}  // namespace

StateDict state_dict_of(const torch::nn::Module& module) {
  StateDict out;
  for (const auto& item : module.named_modules("", /*include_self=*/true)) {
    const std::string prefix = item.key().empty() ? "" : item.key() + ".";
    for (const auto& p : item.value()->named_parameters(/*recurse=*/false)) {
      out.emplace_back(prefix + p.key(), p.value());
    }
    for (const auto& b : item.value()->named_buffers(/*recurse=*/false)) {
      out.emplace_back(prefix + b.key(), b.value());
    }
  }
  return out;
}

std::string LoadReport::summary() const {
  std::ostringstream s;
  s << matched.size() << " matched, " << missing.size() << " missing, " << unexpected.size()
    << " unexpected, " << mismatched.size() << " shape-mismatched";
  if (!missing.empty()) s << "; missing: " << join_keys(missing);
  if (!unexpected.empty()) s << "; unexpected: " << join_keys(unexpected);
  if (!mismatched.empty()) s << "; shape-mismatched: " << join_keys(mismatched);
  return s.str();
}

LoadReport load_state_dict(torch::nn::Module& module, const StateDict& weights, LoadMode mode,
                           const std::string& source) {
  LoadReport report;
  std::unordered_map<std::string, const torch::Tensor*> file;
  for (const auto& kv : weights) file.emplace(kv.first, &kv.second);

  StateDict own = state_dict_of(module);
  std::vector<std::pair<torch::Tensor, const torch::Tensor*>> copies;
  std::unordered_map<std::string, bool> seen;
  for (auto& kv : own) {
    seen.emplace(kv.first, true);
    auto it = file.find(kv.first);
    if (it == file.end()) {
      report.missing.push_back(kv.first);
      continue;
    }
    if (it->second->sizes() != kv.second.sizes()) {
      report.mismatched.push_back(kv.first + ": file " + shape_str(*it->second) + " vs model " +
                                  shape_str(kv.second));
      continue;
    }
    report.matched.push_back(kv.first);
    copies.emplace_back(kv.second, it->second);
  }
  for (const auto& kv : weights) {
    if (!seen.count(kv.first)) report.unexpected.push_back(kv.first);
  }
  if (mode == LoadMode::kStrict && !report.clean()) {
    throw data_error("weights in " + source + " do not fit the model: " + report.summary() +
                     "; HINT: check the model name and --num-classes");
  }
  torch::NoGradGuard no_grad;
  for (auto& c : copies) c.first.copy_(*c.second);
  return report;
}

}  // namespace zoo
