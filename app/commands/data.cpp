// zoo data inspect --data D: samples per class and split, stored image sizes, unreadable files
// (every file is decoded); --grid out.png draws samples with their labels as a model gets them.
#include "app/commands/commands.h"
#include "data/shapes_captions.h"
#include "app/engine/model_io.h"
#include "common/error.h"
#include "data/datasets.h"
#include "data/inspect.h"
#include "models/registry.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <memory>

namespace zoo {

namespace {

struct DataInspectOptions {
  std::string data;
  std::string model = "resnet18";   // whose pipeline the grid shows
  int64_t input_size = 0;
  std::string augment = "standard";
  double val_split = 0.1;
  uint64_t seed = 42;
  int workers = 2;
  std::string grid;
  std::string grid_split = "train";
  int64_t grid_count = 32;
  bool json = false;
};

void run_data_inspect(const DataInspectOptions& o) {
  DataOptions data_options = data_options_for(find_classifier(o.model, "zoo data inspect"), o.input_size);
  data_options.augment = o.augment;
  data_options.val_split = o.val_split;
  data_options.seed = o.seed;
  const DataSplits splits = open_dataset(o.data, data_options);
  const size_t classes = splits.class_names.size();
  std::vector<SplitReport> reports = {inspect_split(*splits.train, "train", classes, o.workers),
                                      inspect_split(*splits.val, splits.val_name, classes, o.workers)};
  if (!o.grid.empty()) {
    write_sample_grid(o.grid_split == "train" ? *splits.train : *splits.val, splits.class_names,
                      o.grid_count, o.seed, o.grid);
  }
  if (o.json) {
    nlohmann::json out = {{"data", o.data}, {"location", splits.location},
                          {"classes", splits.class_names}, {"splits", nlohmann::json::array()}};
    for (const auto& r : reports) {
      out["splits"].push_back({{"split", r.split},
                               {"samples", r.samples},
                               {"per_class", r.per_class},
                               {"unreadable", r.unreadable},
                               {"height", {{"min", r.min_height}, {"mean", r.mean_height}, {"max", r.max_height}}},
                               {"width", {{"min", r.min_width}, {"mean", r.mean_width}, {"max", r.max_width}}}});
    }
    if (!o.grid.empty()) out["grid"] = o.grid;
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  std::printf("%s (%s): %zu classes\n", o.data.c_str(), splits.location.c_str(), classes);
  std::printf("%-24s", "class");
  for (const auto& r : reports) std::printf(" %9s", r.split.c_str());
  std::printf("\n");
  for (size_t c = 0; c < classes; ++c) {
    std::printf("%-24s", splits.class_names[c].c_str());
    for (const auto& r : reports) std::printf(" %9lld", (long long)r.per_class[c]);
    std::printf("\n");
  }
  for (const auto& r : reports) {
    std::printf("%s: %lld samples, %zu unreadable; height %lld..%lld (mean %.1f), width %lld..%lld (mean %.1f)\n",
                r.split.c_str(), (long long)r.samples, r.unreadable.size(), (long long)r.min_height,
                (long long)r.max_height, r.mean_height, (long long)r.min_width, (long long)r.max_width,
                r.mean_width);
    for (const auto& u : r.unreadable) std::printf("  unreadable: %s\n", u.c_str());
  }
  if (!o.grid.empty()) std::printf("grid of %s samples: %s\n", o.grid_split.c_str(), o.grid.c_str());
}

struct DataExportOptions {
  std::string name;
  std::string out;
  size_t train = 3000;
  size_t val = 500;
  int size = 128;
};

void run_data_export(const DataExportOptions& o) {
  if (o.name != "shapes-captions") {
    throw usage_error("zoo data export writes the generated shapes-captions set, not '" + o.name + "'");
  }
  write_shapes_captions_coco(o.out, o.train, o.val, o.size);
  std::printf("wrote %zu train and %zu val shapes-captions scenes at %d x %d in COCO layout to %s "
              "(train2017/, val2017/, annotations/captions_{train,val}2017.json)\n",
              o.train, o.val, o.size, o.size, o.out.c_str());
}

}  // namespace

void register_data(CLI::App& app) {
  CLI::App* data = app.add_subcommand("data", "Look at datasets");
  data->require_subcommand(1);
  auto opts = std::make_shared<DataInspectOptions>();
  CLI::App* cmd = data->add_subcommand(
      "inspect", "Samples per class and split, image sizes, unreadable files; --grid draws samples");
  cmd->add_option("--data", opts->data, "Dataset name (" + known_dataset_names() + ") or path")->required();
  cmd->add_option("--model", opts->model, "Model whose input pipeline the grid shows")->capture_default_str();
  cmd->add_option("--input-size", opts->input_size, "Input height/width; 0: as zoo train")->capture_default_str();
  cmd->add_option("--augment", opts->augment, "Training augmentation the grid shows: none, standard, strong")
      ->check(CLI::IsMember({"none", "standard", "strong"}))
      ->capture_default_str();
  cmd->add_option("--val-split", opts->val_split, "Held-out fraction for an ImageFolder without val/")
      ->capture_default_str();
  cmd->add_option("--seed", opts->seed, "Seed of the split and of the grid's augmentation")->capture_default_str();
  cmd->add_option("--workers", opts->workers, "Decoding threads")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--grid", opts->grid, "Write a grid of samples with their labels to this PNG/JPEG file");
  cmd->add_option("--grid-split", opts->grid_split, "Which split the grid shows")
      ->check(CLI::IsMember({"train", "val"}))
      ->capture_default_str();
  cmd->add_option("--grid-count", opts->grid_count, "Samples in the grid")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_flag("--json", opts->json, "Print machine-readable JSON on stdout");
  cmd->callback([opts] { run_data_inspect(*opts); });

  auto ex = std::make_shared<DataExportOptions>();
  CLI::App* exp = data->add_subcommand(
      "export", "Write a generated set (shapes-captions) in COCO captions layout, for other tools or as a larger test set");
  exp->add_option("name", ex->name, "The generated set: shapes-captions")->required();
  exp->add_option("--out", ex->out, "Folder to write")->required();
  exp->add_option("--train", ex->train, "Training images")->check(CLI::PositiveNumber)->capture_default_str();
  exp->add_option("--val", ex->val, "Validation images")->check(CLI::PositiveNumber)->capture_default_str();
  exp->add_option("--size", ex->size, "Image side in pixels")->check(CLI::Range(16, 1024))->capture_default_str();
  exp->callback([ex] { run_data_export(*ex); });
}

}  // namespace zoo
