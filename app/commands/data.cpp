// zoo data inspect --data D: samples per class and split, stored image sizes, unreadable files
// (every file is decoded); --grid out.png draws samples with their labels as a model gets them.
// zoo data export shapes-captions: the generated captioning set in COCO layout.
// zoo data download NAME: the classic datasets' official files, verified and unpacked.
// zoo data prepare imagenet: ImageNet's official archives into class folders.
#include "app/commands/commands.h"
#include "data/shapes_captions.h"
#include "app/engine/model_io.h"
#include "common/error.h"
#include "data/dataset_download.h"
#include "data/datasets.h"
#include "data/imagenet_prepare.h"
#include "data/inspect.h"
#include "app/engine/signals.h"
#include "models/registry.h"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <cstdio>
#include <cstdlib>
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
  if (o.input_size < 0) throw usage_error("--input-size must be 0 or more, got " + std::to_string(o.input_size));
  if (!(o.val_split >= 0 && o.val_split < 1)) {
    throw usage_error("--val-split must be in [0, 1), got " + std::to_string(o.val_split));
  }
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

// A progress line on stderr, redrawn at most 4 times a second, when stderr is a terminal.
class ProgressLine {
 public:
  explicit ProgressLine(std::string label) : label_(std::move(label)), tty_(::isatty(STDERR_FILENO) == 1) {}
  ~ProgressLine() {
    if (printed_) std::fprintf(stderr, "\n");
  }
  void bytes(int64_t done, int64_t total) {
    if (!due(done >= total)) return;
    std::fprintf(stderr, "\r%s  %.1f / %.1f MB  %3.0f%%   ", label_.c_str(), double(done) / 1048576.0,
                 double(total) / 1048576.0, total > 0 ? 100.0 * double(done) / double(total) : 100.0);
    std::fflush(stderr);
  }
  void text(const std::string& what) {
    if (!due(false)) return;
    std::fprintf(stderr, "\r%s  %s   ", label_.c_str(), what.c_str());
    std::fflush(stderr);
  }

 private:
  bool due(bool last) {
    if (!tty_) return false;
    const auto now = std::chrono::steady_clock::now();
    if (printed_ && !last && now - last_ < std::chrono::milliseconds(250)) return false;
    last_ = now;
    printed_ = true;
    return true;
  }
  std::string label_;
  bool tty_;
  bool printed_ = false;
  std::chrono::steady_clock::time_point last_;
};

struct DataDownloadOptions {
  std::string name;
  std::string from;
  std::string mirror;
};

void run_data_download(const DataDownloadOptions& o) {
  const DatasetSource* source = find_dataset_source(o.name);
  if (source == nullptr) {
    throw usage_error("zoo data download knows " + dataset_source_names() + ", not '" + o.name + "'" +
                      (o.name == "imagenet" ? "; HINT: ImageNet is not downloadable: get its archives from "
                                              "image-net.org, then run `zoo data prepare imagenet --from DIR`"
                                            : ""));
  }
  DatasetDownloadOptions d;
  d.root = data_root();
  d.from = o.from;
  d.mirror = o.mirror;
  if (d.mirror.empty()) {
    if (const char* env = std::getenv("ZOO_DATA_MIRROR"); env && *env) d.mirror = env;
  }
  d.download = download_settings();
  d.download.store = "the data folder";
  d.download.store_hint = "set $ZOO_DATA to a writable folder";
  d.download.mirror_variable = "ZOO_DATA_MIRROR";
  ProgressLine line("unpacking " + o.name);
  d.unpack_progress = [&line](int64_t done, int64_t total) { line.bytes(done, total); };
  const DatasetDownloadResult r = download_dataset(*source, d);
  std::printf("%s ready in %s: %lld file(s) verified (MD5), %lld downloaded, %lld unpacked; train with "
              "`zoo train resnet18 --data %s`\n",
              o.name.c_str(), r.folder.c_str(), (long long)r.verified_files, (long long)r.downloaded_files,
              (long long)r.unpacked_files, o.name.c_str());
}

struct DataPrepareOptions {
  std::string name;
  std::string from;
  std::string train_tar;
  std::string val_tar;
  std::string devkit;
  std::string out;
};

void run_data_prepare(const DataPrepareOptions& o) {
  if (o.name != "imagenet") {
    throw usage_error("zoo data prepare builds imagenet from its official archives, not '" + o.name + "'" +
                      (find_dataset_source(o.name) ? "; HINT: `zoo data download " + o.name + "` fetches it" : ""));
  }
  namespace fs = std::filesystem;
  ImagenetArchives a{o.train_tar, o.val_tar, o.devkit};
  if (!o.from.empty()) {
    std::error_code ec;
    if (!fs::is_directory(o.from, ec)) {
      throw missing_error("--from " + o.from + " is not a folder; HINT: give the folder holding "
                          "ILSVRC2012_img_train.tar, ILSVRC2012_img_val.tar and ILSVRC2012_devkit_t12.tar.gz");
    }
    auto pick = [&](std::string& slot, const char* name) {
      if (slot.empty() && fs::exists(fs::path(o.from) / name, ec)) slot = (fs::path(o.from) / name).string();
    };
    pick(a.train_tar, "ILSVRC2012_img_train.tar");
    pick(a.val_tar, "ILSVRC2012_img_val.tar");
    pick(a.devkit, "ILSVRC2012_devkit_t12.tar.gz");
    if (a.train_tar.empty() && a.val_tar.empty()) {
      throw missing_error(o.from + " holds neither ILSVRC2012_img_train.tar nor ILSVRC2012_img_val.tar; HINT: "
                          "download them from image-net.org (with ILSVRC2012_devkit_t12.tar.gz) into one folder");
    }
  }
  if (a.train_tar.empty() && a.val_tar.empty()) {
    throw usage_error("zoo data prepare imagenet needs --from DIR or --train-tar / --val-tar (with --devkit)");
  }
  if (!a.val_tar.empty() && a.devkit.empty()) {
    throw missing_error("the val split needs the devkit (ILSVRC2012_devkit_t12.tar.gz) for its ground truth; "
                        "HINT: pass --devkit FILE or put it beside the archives");
  }
  const std::string out = o.out.empty() ? (fs::path(data_root()) / "imagenet").string() : o.out;
  ProgressLine line("imagenet");
  PrepareOptions po;
  po.progress = [&line](const PrepareProgress& p) {
    if (const int sig = stop_requested()) {
      throw Error(ErrorKind::kInterrupted, "zoo data prepare stopped by signal " + std::to_string(sig) +
                                               "; run it again to finish: finished classes are kept", sig);
    }
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s %lld/%lld %s, %lld files, %.0f%% of the archive", p.split.c_str(),
                  (long long)p.units_done, (long long)p.units_total, p.split == "train" ? "classes" : "",
                  (long long)p.files_written,
                  p.archive_size > 0 ? 100.0 * double(p.archive_position) / double(p.archive_size) : 0.0);
    line.text(buf);
  };
  const PrepareSummary r = prepare_imagenet(a, out, po);
  std::printf("imagenet ready in %s: %lld classes, %lld train and %lld val files (%lld written now, %.1f MB; "
              "%lld units already done); train with `zoo train resnet50 --data %s`\n",
              out.c_str(), (long long)r.classes, (long long)r.train_files, (long long)r.val_files,
              (long long)r.files_written, double(r.bytes_written) / 1048576.0, (long long)r.units_skipped,
              o.out.empty() ? "imagenet" : out.c_str());
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
  cmd->add_option("--workers", opts->workers, "Decoding threads")->check(kPositiveNumber)->capture_default_str();
  cmd->add_option("--grid", opts->grid, "Write a grid of samples with their labels to this PNG/JPEG file");
  cmd->add_option("--grid-split", opts->grid_split, "Which split the grid shows")
      ->check(CLI::IsMember({"train", "val"}))
      ->capture_default_str();
  cmd->add_option("--grid-count", opts->grid_count, "Samples in the grid")->check(kPositiveNumber)->capture_default_str();
  cmd->add_flag("--json", opts->json, "Print machine-readable JSON on stdout");
  cmd->callback([opts] { run_data_inspect(*opts); });

  auto ex = std::make_shared<DataExportOptions>();
  CLI::App* exp = data->add_subcommand(
      "export", "Write a generated set (shapes-captions) in COCO captions layout, for other tools or as a larger test set");
  exp->add_option("name", ex->name, "The generated set: shapes-captions")->required();
  exp->add_option("--out", ex->out, "Folder to write")->required();
  exp->add_option("--train", ex->train, "Training images")->check(kPositiveNumber)->capture_default_str();
  exp->add_option("--val", ex->val, "Validation images")->check(kPositiveNumber)->capture_default_str();
  exp->add_option("--size", ex->size, "Image side in pixels")->check(CLI::Range(16, 1024))->capture_default_str();
  exp->callback([ex] { run_data_export(*ex); });

  auto dl = std::make_shared<DataDownloadOptions>();
  CLI::App* down = data->add_subcommand(
      "download", "Fetch a classic dataset's official files, verify their MD5 and unpack them into $ZOO_DATA/NAME");
  down->add_option("name", dl->name, "Dataset: " + dataset_source_names())->required();
  down->add_option("--from", dl->from,
                   "Use files you already have: the archive, or a folder holding the official files "
                   "(verified, used in place, never deleted)");
  down->add_option("--mirror", dl->mirror,
                   "Base URL to fetch the official file names from instead of the origin (also $ZOO_DATA_MIRROR)");
  down->callback([dl] { run_data_download(*dl); });

  auto pr = std::make_shared<DataPrepareOptions>();
  CLI::App* prep = data->add_subcommand(
      "prepare", "Build $ZOO_DATA/imagenet/{train,val}/WNID/ from ImageNet's official archives, read in place");
  prep->add_option("name", pr->name, "Dataset: imagenet")->required();
  prep->add_option("--from", pr->from,
                   "Folder holding ILSVRC2012_img_train.tar, ILSVRC2012_img_val.tar and ILSVRC2012_devkit_t12.tar.gz");
  prep->add_option("--train-tar", pr->train_tar, "ILSVRC2012_img_train.tar (instead of --from)");
  prep->add_option("--val-tar", pr->val_tar, "ILSVRC2012_img_val.tar (instead of --from)");
  prep->add_option("--devkit", pr->devkit, "ILSVRC2012_devkit_t12.tar.gz (instead of --from; needed for val)");
  prep->add_option("--out", pr->out, "Output folder (default $ZOO_DATA/imagenet)");
  prep->callback([pr] { run_data_prepare(*pr); });
}

}  // namespace zoo
