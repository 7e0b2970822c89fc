// zoo list: the registered models with family, parameter count, default input and a line
// of description; --json for scripts.
#include "app/commands/commands.h"
#include "models/registry.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <memory>

namespace zoo {

namespace {

struct ListOptions {
  bool json = false;
};

void run_list(const ListOptions& opts) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& info : model_table()) {
    nlohmann::json row = {{"name", info.name},
                          {"family", info.family},
                          {"input", {info.input_shape[0], info.input_shape[1], info.input_shape[2]}},
                          {"description", info.description}};
    if (info.kind == ModelKind::kClassifier) {
      ModelOptions options;
      options.num_classes = info.default_data == "imagenet" ? 1000 : 10;
      row["num_classes"] = options.num_classes;
      row["parameters"] = count_parameters(*build_classifier(info.name, options));
    }
    rows.push_back(row);
  }
  if (opts.json) {
    std::printf("%s\n", rows.dump(2).c_str());
    return;
  }
  std::printf("%-14s %-10s %12s  %-11s %s\n", "model", "family", "parameters", "input", "description");
  for (const auto& r : rows) {
    const auto in = r["input"];
    const std::string input = std::to_string(in[0].get<int>()) + "x" + std::to_string(in[1].get<int>()) +
                              "x" + std::to_string(in[2].get<int>());
    std::printf("%-14s %-10s %12s  %-11s %s\n", r["name"].get<std::string>().c_str(),
                r["family"].get<std::string>().c_str(),
                r.contains("parameters") ? std::to_string(r["parameters"].get<int64_t>()).c_str() : "-",
                input.c_str(), r["description"].get<std::string>().c_str());
  }
}

}  // namespace

void register_list(CLI::App& app) {
  auto opts = std::make_shared<ListOptions>();
  CLI::App* cmd = app.add_subcommand("list", "List the models zoo knows");
  cmd->add_flag("--json", opts->json, "Print machine-readable JSON on stdout");
  cmd->callback([opts] { run_list(*opts); });
}

}  // namespace zoo
