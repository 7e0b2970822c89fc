// zoo list: the registered models with family, parameter count, multiply-adds (conv + linear)
// at the default input, default input and a line of description; --json for scripts. The
// figures come from the registry table (verified by tests/test_info.cpp), so nothing is built.
#include "app/commands/commands.h"
#include "models/registry.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <memory>
#include <string>

namespace zoo {

namespace {

// 15470264320 -> "15.47G", 416520 -> "416.5k".
std::string short_count(int64_t n) {
  char buf[32];
  const double v = static_cast<double>(n);
  if (v >= 1e9) std::snprintf(buf, sizeof buf, "%.2fG", v / 1e9);
  else if (v >= 1e6) std::snprintf(buf, sizeof buf, "%.1fM", v / 1e6);
  else if (v >= 1e3) std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  else std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(n));
  return buf;
}

struct ListOptions {
  bool json = false;
};

void run_list(const ListOptions& opts) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& info : model_table()) {
    nlohmann::json row = {{"name", info.name}, {"family", info.family}, {"description", info.description}};
    if (info.is_classifier()) {
      row["input"] = {info.input_shape[0], info.input_shape[1], info.input_shape[2]};
      row["num_classes"] = default_num_classes(info);
    } else if (info.is_captioner()) {
      row["input"] = "image->text";  // figures per image and word, at a reference vocabulary
      row["vocab_size"] = kCaptionerReferenceVocab;
    } else {
      row["input"] = "text";  // figures per character, at a reference vocabulary
      row["vocab_size"] = kCharLmReferenceVocab;
    }
    row["parameters"] = info.parameters;
    row["macs"] = info.macs;
    rows.push_back(row);
  }
  if (opts.json) {
    std::printf("%s\n", rows.dump(2).c_str());
    return;
  }
  std::printf("%-14s %-10s %12s %8s  %-11s %s\n", "model", "family", "parameters", "MACs",
              "input", "description");
  for (const auto& r : rows) {
    const auto in = r["input"];
    const std::string input = in.is_string() ? in.get<std::string>()
                                             : std::to_string(in[0].get<int>()) + "x" + std::to_string(in[1].get<int>()) +
                                                   "x" + std::to_string(in[2].get<int>());
    const bool has = r.contains("parameters");
    std::printf("%-14s %-10s %12s %8s  %-11s %s\n", r["name"].get<std::string>().c_str(),
                r["family"].get<std::string>().c_str(),
                has ? std::to_string(r["parameters"].get<int64_t>()).c_str() : "-",
                has ? short_count(r["macs"].get<int64_t>()).c_str() : "-", input.c_str(),
                r["description"].get<std::string>().c_str());
  }
  std::printf("MACs: multiply-adds (conv + linear) for one image at the default input; "
              "`zoo info MODEL` has them per layer; charlm: per character, at a %lld-character "
              "vocabulary; captioner: per image at 224 px and one word, at a %lld-word vocabulary\n",
              static_cast<long long>(kCharLmReferenceVocab), static_cast<long long>(kCaptionerReferenceVocab));
}

}  // namespace

void register_list(CLI::App& app) {
  auto opts = std::make_shared<ListOptions>();
  CLI::App* cmd = app.add_subcommand("list", "List the models zoo knows");
  cmd->add_flag("--json", opts->json, "Print machine-readable JSON on stdout");
  cmd->callback([opts] { run_list(*opts); });
}

}  // namespace zoo
