// zoo info MODEL: a per-layer table of a registered classifier at a given input size: layer
// name (torchvision's module path), type, output shape (C x H x W, as "96x55x55", batch left
// out), parameters and multiply-adds (conv + linear only), with totals; --json for scripts.
// The rows are the model's stages() run once in eval mode on a zero input with the MAC
// counter (models/profile.h) active. --groups lists what `zoo finetune --freeze` can select
// instead: the head, the backbone, and the layers up-to:LAYER accepts with the parameters each
// would freeze.
#include "app/commands/commands.h"
#include "app/engine/freeze.h"
#include "common/error.h"
#include "models/profile.h"
#include "models/captioner.h"
#include "models/charlm.h"
#include "models/registry.h"
#include "weights/hub.h"

#include <c10/util/Exception.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
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
  bool groups = false;
  std::string weights;       // a weights name: describe that entry only
};

// The catalogue's weights for the model (or the one --weights names), without fetching.
std::vector<WeightsEntry> pretrained_for(const InfoOptions& opts) {
  std::vector<WeightsEntry> out;
  if (!opts.weights.empty()) {
    if (!is_catalogue_name(opts.weights)) {
      throw usage_error("zoo info --weights takes a weights name (" + opts.weights + " is not one); HINT: `zoo weights list " +
                        opts.model + "`");
    }
    const WeightsEntry& e = find_weights(opts.weights);
    if (e.model != opts.model) {
      throw usage_error("the weights " + e.name + " belong to " + e.model + ", not " + opts.model);
    }
    out.push_back(e);
    return out;
  }
  for (const auto& e : weights_catalogue()) {
    if (e.model == opts.model) out.push_back(e);
  }
  return out;
}

void print_pretrained(const std::vector<WeightsEntry>& entries, bool detailed) {
  if (entries.empty()) {
    std::printf("pretrained weights: none in the catalogue\n");
    return;
  }
  const HubSettings settings = hub_settings();
  std::error_code ec;
  std::printf("pretrained weights (zoo weights list):\n");
  for (const auto& e : entries) {
    std::printf("  %s%s  acc@1 %s  %.1f MiB  %s\n", e.name.c_str(), e.is_default ? " (default)" : "",
                std::isnan(e.acc1) ? "-" : (std::to_string(e.acc1).substr(0, 6) + "%").c_str(), e.size_mb,
                std::filesystem::exists(cache_path(e, settings), ec) ? "cached" : "not cached");
    if (!detailed) continue;
    std::printf("    file %s (SHA-256 %s...)\n    preprocessing: Resize(%lld, %s) CenterCrop(%lld), mean [%g, %g, %g], "
                "std [%g, %g, %g]%s\n    classes: %s\n    recipe: %s\n",
                source_url(e, settings).c_str(), e.hash_prefix().c_str(), static_cast<long long>(e.resize),
                e.interpolation.c_str(), static_cast<long long>(e.crop), e.mean[0], e.mean[1], e.mean[2], e.std[0],
                e.std[1], e.std[2], e.transform_input ? ", transform_input" : "",
                e.has_classes() ? e.categories.c_str() : "none (features only)", e.recipe.c_str());
  }
}

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

int64_t frozen_count(const torch::nn::Module& model, const Freezer& freezer) {
  int64_t n = 0;
  for (const auto& p : freezer.frozen_params(model)) n += p.numel();
  return n;
}

void print_groups(const ModelInfo& info, ClassifierImpl& model, bool json) {
  const auto head = model.head_prefixes();
  const int64_t all = count_parameters(model);
  const int64_t backbone = frozen_count(model, Freezer(model, head, {{"backbone"}, {}, false}));
  std::vector<std::pair<std::string, int64_t>> layers;
  for (const auto& layer : freeze_layers(model)) {
    layers.emplace_back(layer, frozen_count(model, Freezer(model, head, {{"up-to:" + layer}, {}, false})));
  }
  std::string head_names;
  for (const auto& h : head) head_names += (head_names.empty() ? "" : ", ") + h;
  if (json) {
    nlohmann::json out = {{"model", info.name}, {"head", head}, {"parameters", all},
                          {"groups", {{"backbone", backbone}, {"head", all - backbone}, {"all", all}}},
                          {"up_to", nlohmann::json::array()}};
    for (const auto& [layer, n] : layers) out["up_to"].push_back({{"layer", layer}, {"frozen", n}});
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  std::printf("%s: what `zoo finetune --freeze` selects (parameters frozen)\n", info.name.c_str());
  std::printf("%-40s %15s\n", "--freeze", "frozen");
  std::printf("%-40s %15s\n", "conv | features | backbone", grouped(backbone).c_str());
  std::printf("%-40s %15s\n", "all", grouped(all).c_str());
  std::printf("%-40s %15s\n", "none", "0");
  std::printf("head (trains under conv/features/backbone): %s, %s parameters\n", head_names.c_str(),
              grouped(all - backbone).c_str());
  std::printf("up-to:LAYER, in forward order (a unique suffix such as denseblock3 is enough):\n");
  for (const auto& [layer, n] : layers) std::printf("  %-38s %15s\n", ("up-to:" + layer).c_str(), grouped(n).c_str());
  const auto params = model.named_parameters();
  std::printf("or globs on parameter names (torchvision's state-dict keys, such as %s), e.g. "
              "--freeze '%s'\n", params.size() ? params[0].key().c_str() : "",
              layers.empty() ? "*" : (layers.front().first + ".*").c_str());
}

// charlm: its modules with parameters and multiply-adds per character, at the default sizes
// and a vocabulary of --num-classes characters (default: the registry's reference vocabulary).
void print_char_lm(const ModelInfo& info, const InfoOptions& opts) {
  if (opts.groups) throw usage_error("--groups lists what fine-tuning freezes; charlm is trained from scratch");
  CharLmOptions o;
  o.vocab_size = opts.num_classes > 0 ? opts.num_classes : kCharLmReferenceVocab;
  CharLm model(o);
  struct Row {
    std::string name, type, output;
    int64_t parameters, macs;
  };
  const int64_t gate = 4 * o.hidden;
  std::vector<Row> rows{{"embed", "Embedding", std::to_string(o.embed), o.vocab_size * o.embed, 0}};
  for (int64_t l = 0; l < o.layers; ++l) {
    const int64_t in = l == 0 ? o.embed : o.hidden;
    rows.push_back({"rnn (layer " + std::to_string(l) + ")", "LSTM", std::to_string(o.hidden),
                    gate * (in + o.hidden) + 2 * gate, gate * (in + o.hidden)});
  }
  rows.push_back({"head", "Linear", std::to_string(o.vocab_size), o.hidden * o.vocab_size + o.vocab_size,
                  o.hidden * o.vocab_size});
  if (opts.json) {
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& r : rows) {
      layers.push_back({{"name", r.name}, {"type", r.type}, {"parameters", r.parameters}, {"macs", r.macs}});
    }
    std::printf("%s\n", nlohmann::json{{"model", info.name}, {"options", to_json(o)}, {"layers", layers},
                                       {"parameters", count_parameters(*model)},
                                       {"macs_per_char", char_lm_macs_per_char(o)}}
                            .dump(2)
                            .c_str());
    return;
  }
  std::printf("%s: %s; vocabulary %lld; multiply-adds per character\n", info.name.c_str(),
              info.description.c_str(), static_cast<long long>(o.vocab_size));
  std::printf("%-20s %-12s %-8s %13s %17s\n", "layer", "type", "output", "parameters", "multiply-adds");
  for (const auto& r : rows) {
    std::printf("%-20s %-12s %-8s %13s %17s\n", r.name.c_str(), r.type.c_str(), r.output.c_str(),
                grouped(r.parameters).c_str(), grouped(r.macs).c_str());
  }
  std::printf("%-20s %-12s %-8s %13s %17s\n", "total", "", "", grouped(count_parameters(*model)).c_str(),
              grouped(char_lm_macs_per_char(o)).c_str());
  std::printf("(zoo train charlm --cell --embed --hidden --layers change the sizes)\n");
}

// The captioner at its default sizes (ResNet-18 encoder, --input or 224, a vocabulary of
// --num-classes words, default the registry's reference): parameters per module, the encoder's
// multiply-adds per image and the decoder's per image and per word.
void print_captioner(const ModelInfo& info, const InfoOptions& opts) {
  if (opts.groups) throw usage_error("--groups lists classifier layers; the captioner's encoder is a classifier: zoo info resnet18 --groups");
  CaptionerOptions o;
  o.vocab_size = opts.num_classes > 0 ? opts.num_classes : kCaptionerReferenceVocab;
  const auto shape = parse_input(opts.input, {3, 224, 224});
  o.input_size = shape[1];
  ModelOptions backbone;
  backbone.input_size = o.input_size;
  Captioner model(o, build_classifier(o.backbone, backbone));
  const auto feature = backbone_feature_shape(*model->backbone(), 3, o.input_size);
  const CaptionerMacs decoder = captioner_decoder_macs(o, feature[0], feature[1] * feature[2]);
  const int64_t encoder_macs =
      count_macs([&] { torch::NoGradGuard g; model->encode(torch::zeros({1, 3, o.input_size, o.input_size})); }).total();
  nlohmann::json parts = nlohmann::json::array();
  for (const auto& item : model->named_children()) parts.push_back({{"name", item.key()}, {"parameters", count_parameters(*item.value())}});
  if (opts.json) {
    std::printf("%s\n", nlohmann::json{{"model", info.name}, {"options", to_json(o)}, {"modules", parts},
                                       {"parameters", count_parameters(*model)}, {"feature_map", feature},
                                       {"encoder_macs", encoder_macs}, {"decoder_macs_per_image", decoder.per_image},
                                       {"decoder_macs_per_word", decoder.per_word}}
                            .dump(2)
                            .c_str());
    return;
  }
  std::printf("%s: %s\nencoder %s at %lld px: feature map %lld x %lld x %lld; vocabulary %lld words\n",
              info.name.c_str(), info.description.c_str(), o.backbone.c_str(), (long long)o.input_size,
              (long long)feature[0], (long long)feature[1], (long long)feature[2], (long long)o.vocab_size);
  std::printf("%-20s %13s\n", "module", "parameters");
  for (const auto& p : parts) std::printf("%-20s %13s\n", p["name"].get<std::string>().c_str(), grouped(p["parameters"].get<int64_t>()).c_str());
  std::printf("%-20s %13s\n", "total", grouped(count_parameters(*model)).c_str());
  std::printf("multiply-adds: encoder %s per image; decoder %s per image + %s per word\n", grouped(encoder_macs).c_str(),
              grouped(decoder.per_image).c_str(), grouped(decoder.per_word).c_str());
  std::printf("(zoo train captioner --backbone --embed --hidden --layers --attention change the sizes)\n");
}

void run_info(const InfoOptions& opts) {
  const ModelInfo& info = find_model(opts.model);
  if (!info.is_classifier()) {
    if (!opts.weights.empty()) throw usage_error("zoo info --weights: the catalogue holds image classifiers' weights only");
    if (info.is_captioner()) return print_captioner(info, opts);
    return print_char_lm(info, opts);
  }
  const std::vector<WeightsEntry> pretrained = pretrained_for(opts);
  const auto shape = parse_input(opts.input, info.input_shape);
  ModelOptions options;
  options.num_classes = opts.num_classes > 0 ? opts.num_classes : default_num_classes(info);
  options.in_channels = shape[0];
  options.input_size = shape[1];
  Classifier model = build_classifier(info.name, options);
  if (opts.groups) return print_groups(info, *model, opts.json);
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
    nlohmann::json with_weights = out;
    with_weights["pretrained"] = nlohmann::json::array();
    for (const auto& e : pretrained) with_weights["pretrained"].push_back(to_json(e));
    std::printf("%s\n", with_weights.dump(2).c_str());
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
  print_pretrained(pretrained, !opts.weights.empty());
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
                  "Classes of the head; default 1000 for ImageNet models, 10 otherwise (charlm: "
                  "the vocabulary size, default 96)")
      ->check(kPositiveNumber);
  cmd->add_option("--depth", opts->depth,
                  "Merge rows by the first D parts of their names (1: features, layer1, ...); 0: all")
      ->check(kNonNegativeNumber)
      ->capture_default_str();
  cmd->add_flag("--json", opts->json, "Print machine-readable JSON on stdout");
  cmd->add_option("--weights", opts->weights,
                  "A weights name (torchvision:resnet50[.VERSION]): describe its file, preprocessing, "
                  "classes and accuracy (nothing is downloaded)");
  cmd->add_flag("--groups", opts->groups,
                "List what `zoo finetune --freeze` can select: the head, the backbone and the "
                "up-to:LAYER layers, with the parameters each freezes");
  cmd->footer(
      "Output shapes are C x H x W without the batch dimension (96x55x55 = 96 channels of "
      "55x55). Multiply-adds count convolutions and linear layers only, for one image.");
  cmd->callback([opts] { run_info(*opts); });
}

}  // namespace zoo
