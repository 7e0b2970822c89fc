// Run directories: runs/<name>/ with config.json, metrics.jsonl and metrics.csv, train.log,
// curves.png, checkpoints/{last,previous,best}.pt and the task's own files (labels.txt,
// vocab.json). previous.pt is the last.pt before the latest one, the fallback when last.pt
// is damaged.
// Names are auto-numbered (<model>-1, <model>-2, ...) unless given.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace zoo {

class RunDir {
 public:
  // A new run directory under runs_dir. An explicit name that already holds a run is refused
  // (a run is never overwritten); HINT says to --resume it or pick another name.
  static RunDir create(const std::string& runs_dir, const std::string& name,
                       const std::string& model);
  // An existing run directory, for --resume: it holds last.pt or previous.pt. Removes the
  // temporaries of checkpoint writes that were killed.
  static RunDir open(const std::filesystem::path& dir);
  // The run directory another process created (data parallel: rank 0's, seen by the others,
  // which read it but never write it).
  static RunDir of_rank_zero(const std::filesystem::path& dir) { return RunDir(dir); }

  const std::filesystem::path& path() const { return dir_; }
  std::filesystem::path last_checkpoint() const { return dir_ / "checkpoints" / "last.pt"; }
  std::filesystem::path previous_checkpoint() const { return dir_ / "checkpoints" / "previous.pt"; }
  std::filesystem::path best_checkpoint() const { return dir_ / "checkpoints" / "best.pt"; }

  void write_config(const nlohmann::json& config) const;
  // Writes `name` in the run directory atomically.
  void write_file(const std::string& name, const std::string& text) const;
  std::filesystem::path metrics_jsonl() const { return dir_ / "metrics.jsonl"; }
  std::filesystem::path metrics_csv() const { return dir_ / "metrics.csv"; }
  std::filesystem::path curves_png() const { return dir_ / "curves.png"; }

  // The columns of metrics.csv, set once the task is known (the trainer's metric_columns).
  // A column `c` of an epoch row that has no `c` takes `train_c` (its training figure).
  void set_metric_columns(std::vector<std::string> columns) { columns_ = std::move(columns); }
  // Appends one row to metrics.jsonl (the object as it is) and to metrics.csv (the metric
  // columns; the CSV gets its header when it is new).
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
  std::string csv_line(const nlohmann::json& row) const;
  std::string csv_header() const;

  std::filesystem::path dir_;
  std::vector<std::string> columns_;
};

}  // namespace zoo
