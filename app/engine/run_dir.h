// Run directories: runs/<name>/ with config.json, metrics.jsonl, train.log, labels.txt and
// checkpoints/{last,best}.pt. Names are auto-numbered (<model>-1, <model>-2, ...) unless given.
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
  // An existing run directory, for --resume.
  static RunDir open(const std::filesystem::path& dir);

  const std::filesystem::path& path() const { return dir_; }
  std::filesystem::path last_checkpoint() const { return dir_ / "checkpoints" / "last.pt"; }
  std::filesystem::path best_checkpoint() const { return dir_ / "checkpoints" / "best.pt"; }

  void write_config(const nlohmann::json& config) const;
  void write_labels(const std::vector<std::string>& class_names) const;
  // Appends one JSON object as a line of metrics.jsonl.
  void append_metrics(const nlohmann::json& row) const;
  // Sends every log line from now on to train.log as well (appending).
  void attach_log() const;

 private:
  explicit RunDir(std::filesystem::path dir) : dir_(std::move(dir)) {}
  std::filesystem::path dir_;
};

}  // namespace zoo
