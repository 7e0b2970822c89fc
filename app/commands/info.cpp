// zoo info MODEL: a per-layer table of a registered classifier at a given input size: layer
// name (torchvision's module path), type, output shape (C x H x W, as "96x55x55", batch left
// out), parameters and multiply-adds (conv + linear only), with totals; --json for scripts.
// The rows are the model's stages() run once in eval mode on a zero input with the MAC
// counter (models/profile.h) active. Sequence models are left out (they have no stages).
#include "app/commands/commands.h"
#include "common/error.h"
#include "models/profile.h"
#include "models/registry.h"

#include <c10/util/Exception.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <memory>
#include <sstream>

namespace zoo {

namespace {

struct InfoOptions {
  std::string model;
  std::string input;         // "CxHxW" or "S"; empty: the registry default
  int64_t num_classes = 0;   // 0: 1000 for ImageNet models, 10 otherwise (as `zoo list`)
  int depth = 0;             // 0: every stage; D: rows grouped by the first D name components
  bool json = false;
};

// "3x227x227" -> {3, 227, 227}; "227" is a square input with the default channel count.
std::array<int64_t, 3> parse_input(const std::string& text, const std::array<int64_t, 3>& fallback) {
  if (text.empty()) return fallback;
  std::vector<int64_t> dims;
  std::stringstream ss(text);
  std::string part;
  const auto bad = [&] {
    return usage_error("--input '" + text + "' is not CxHxW; HINT: e.g. --input 3x224x224 (or 224 for a square input)");
  };
  while (std::getline(ss, part, 'x')) {
    if (part.empty() || part.find_first_not_of("0123456789") != std::string::npos || part.size() > 6) throw bad();
    dims.push_back(std::stoll(part));
    if (dims.back() <= 0) throw bad();
  }
  if (text.back() == 'x') throw bad();
  if (dims.size() == 1) return {fallback[0], dims[0], dims[0]};
  if (dims.size() == 3) return {dims[0], dims[1], dims[2]};
  throw bad();
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s;
  for (int64_t d : shape) s += (s.empty() ? "" : "x") + std::to_string(d);
  return s;
}

// 1234567 -> "1,234,567".
std::string grouped(int64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// Rows merged by the first `depth` components of their names ("layer1.0" -> "layer1").
std::vector<LayerProfile> group_rows(const std::vector<LayerProfile>& rows, int depth) {
  if (depth <= 0) return rows;
  std::vector<LayerProfile> out;
  std::vector<int> counts;
  for (const auto& row : rows) {
    size_t end = 0;
    for (int d = 0; d < depth && end != std::string::npos; ++d) {
      end = row.name.find('.', d == 0 ? 0 : end + 1);
    }
    const std::string key = row.name.substr(0, end);
    if (!out.empty() && out.back().name == key) {
      LayerProfile& g = out.back();
      g.output_shape = row.output_shape;
      g.parameters += row.parameters;
      g.macs.conv += row.macs.conv;
      g.macs.linear += row.macs.linear;
      if (++counts.back() == 2) g.type = "Sequential";
      continue;
    }
    out.push_back(row);
    out.back().name = key;
    counts.push_back(1);
  }
  return out;
}

void run_info(const InfoOptions& opts) {
  const ModelInfo& info = find_model(opts.model);
  const auto shape = parse_input(opts.input, info.input_shape);
  ModelOptions options;
  options.num_classes = opts.num_classes > 0 ? opts.num_classes : default_num_classes(info);
  options.in_channels = shape[0];
  options.input_size = shape[1];
  Classifier model = build_classifier(info.name, options);
  std::vector<LayerProfile> rows;
  try {
    rows = profile_layers(*model, torch::zeros({1, shape[0], shape[1], shape[2]}));
  } catch (const c10::Error& e) {
    throw usage_error(info.name + " cannot run on a " + shape_text({shape.begin(), shape.end()}) +
                      " input: " + e.what_without_backtrace() + "; HINT: use a larger --input");
  }
  MacCount total;
  for (const auto& row : rows) {
    total.conv += row.macs.conv;
    total.linear += row.macs.linear;
  }
  const int64_t parameters = count_parameters(*model);
  rows = group_rows(rows, opts.depth);

  if (opts.json) {
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& r : rows) {
      layers.push_back({{"name", r.name}, {"type", r.type}, {"output", r.output_shape},
                        {"parameters", r.parameters}, {"macs", r.macs.total()}});
    }
    const nlohmann::json out = {{"model", info.name}, {"input", {shape[0], shape[1], shape[2]}},
                                {"num_classes", options.num_classes}, {"layers", layers},
                                {"parameters", parameters}, {"macs", total.total()},
                                {"macs_conv", total.conv}, {"macs_linear", total.linear}};
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  std::printf("%s: input %s (C x H x W), %lld classes; multiply-adds (conv + linear) for one image\n",
              info.name.c_str(), shape_text({shape.begin(), shape.end()}).c_str(),
              static_cast<long long>(options.num_classes));
  std::printf("%-36s %-18s %-14s %13s %17s\n", "layer", "type", "output", "parameters", "multiply-adds");
  for (const auto& r : rows) {
    std::printf("%-36s %-18s %-14s %13s %17s\n", r.name.c_str(), r.type.c_str(),
                shape_text(r.output_shape).c_str(), grouped(r.parameters).c_str(),
                grouped(r.macs.total()).c_str());
  }
  std::printf("%-36s %-18s %-14s %13s %17s\n", "total", "", "", grouped(parameters).c_str(),
              grouped(total.total()).c_str());
  std::printf("multiply-adds: %s conv + %s linear = %.3f G\n", grouped(total.conv).c_str(),
              grouped(total.linear).c_str(), static_cast<double>(total.total()) / 1e9);
}

}  // namespace

void register_info(CLI::App& app) {
  auto opts = std::make_shared<InfoOptions>();
  CLI::App* cmd = app.add_subcommand(
      "info", "Per-layer table of a model: output shape (C x H x W), parameters, multiply-adds");
  cmd->add_option("model", opts->model, "Model name (see `zoo list`)")->required();
  cmd->add_option("--input", opts->input,
                  "Input size as CxHxW (3x227x227) or S (square); default: the model's default input");
  cmd->add_option("--num-classes", opts->num_classes,
                  "Classes of the head; default 1000 for ImageNet models, 10 otherwise")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--depth", opts->depth,
                  "Merge rows by the first D parts of their names (1: features, layer1, ...); 0: all")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_flag("--json", opts->json, "Print machine-readable JSON on stdout");
  cmd->footer(
      "Output shapes are C x H x W without the batch dimension (96x55x55 = 96 channels of "
      "55x55). Multiply-adds count convolutions and linear layers only, for one image.");
  cmd->callback([opts] { run_info(*opts); });
}

}  // namespace zoo
