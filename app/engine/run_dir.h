// Run directories: runs/<name>/ with config.json, metrics.jsonl and metrics.csv, train.log,
// labels.txt, curves.png and checkpoints/{last,best}.pt. Names are auto-numbered (<model>-1, <model>-2, ...) unless given.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace zoo {

// The columns of metrics.csv. Step rows (kind "step") fill loss and accuracy with the running
// figures of the last --log-every steps; epoch rows (kind "epoch") with the epoch's training
// loss and top-1, and add the validation figures.
inline constexpr const char* kMetricsColumns[] = {
    "kind", "epoch", "step", "lr", "loss", "accuracy", "images_per_s", "elapsed",
    "val_loss", "val_top1", "val_top5"};

class RunDir {
 public:
  // A new run directory under runs_dir. An explicit name that already holds a run is refused
  // (a run is never overwritten); HINT says to --resume it or pick another name.
  static RunDir create(const std::string& runs_dir, const std::string& name,
                       const std::string& model);
  // An existing run directory, for --resume.
  static RunDir open(const std::filesystem::path& dir);

  const std::filesystem::path& path() const { return dir_; }
  std::filesystem::path last_checkpoint() const { return dir_ / "checkpoints" / "last.pt"; }
  std::filesystem::path best_checkpoint() const { return dir_ / "checkpoints" / "best.pt"; }

  void write_config(const nlohmann::json& config) const;
  void write_labels(const std::vector<std::string>& class_names) const;
  std::filesystem::path metrics_jsonl() const { return dir_ / "metrics.jsonl"; }
  std::filesystem::path metrics_csv() const { return dir_ / "metrics.csv"; }
  std::filesystem::path curves_png() const { return dir_ / "curves.png"; }

  // Appends one row to metrics.jsonl (the object as it is) and to metrics.csv (the columns of
  // kMetricsColumns; the CSV gets its header when it is new).
  void append_metrics(const nlohmann::json& row) const;
  // Every row of metrics.jsonl, in order (an unparsable line, e.g. cut by a crash, is skipped).
  std::vector<nlohmann::json> read_metrics() const;
  // Drops the rows of both files whose "step" is past `step` (work after the checkpoint a
  // resumed run continues from, which it will do again); rewritten atomically.
  void truncate_metrics(int64_t step) const;
  // Sends every log line from now on to train.log as well (appending).
  void attach_log() const;

 private:
  explicit RunDir(std::filesystem::path dir) : dir_(std::move(dir)) {}
  std::filesystem::path dir_;
};

}  // namespace zoo
