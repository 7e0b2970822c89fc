// Run directories; see run_dir.h.
#include "app/engine/run_dir.h"

#include "common/error.h"
#include "models/atomic_file.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include <fstream>

namespace zoo {

namespace fs = std::filesystem;

namespace {

void make_dirs(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    throw io_error("cannot create run directory " + dir.string() + ": " + ec.message() +
                   "; HINT: check --runs-dir is writable");
  }
}

void write_text(const fs::path& file, const std::string& text) {
  AtomicFile out(file.string());
  out.write(text.data(), text.size());
  out.commit();
}

}  // namespace

RunDir RunDir::create(const std::string& runs_dir, const std::string& name,
                      const std::string& model) {
  const fs::path root(runs_dir);
  std::error_code ec;
  fs::path dir;
  if (!name.empty()) {
    if (name.find('/') != std::string::npos || name == "." || name == "..") {
      throw usage_error("--name must be a plain directory name, got '" + name + "'");
    }
    dir = root / name;
    if (fs::exists(dir / "checkpoints" / "last.pt", ec) || fs::exists(dir / "config.json", ec)) {
      throw usage_error("run directory " + dir.string() + " already holds a run; HINT: continue "
                        "it with --resume " + dir.string() + " or choose another --name");
    }
  } else {
    for (int i = 1;; ++i) {
      dir = root / (model + "-" + std::to_string(i));
      if (!fs::exists(dir, ec)) break;
    }
  }
  make_dirs(dir / "checkpoints");
  return RunDir(dir);
}

RunDir RunDir::open(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_regular_file(dir / "checkpoints" / "last.pt", ec)) {
    throw missing_error("no run to resume at " + dir.string() + " (checkpoints/last.pt not found); "
                        "HINT: pass a run directory written by `zoo train`, or a checkpoint file");
  }
  return RunDir(dir);
}

void RunDir::write_config(const nlohmann::json& config) const {
  write_text(dir_ / "config.json", config.dump(2) + "\n");
}

void RunDir::write_labels(const std::vector<std::string>& class_names) const {
  std::string text;
  for (const auto& name : class_names) text += name + "\n";
  write_text(dir_ / "labels.txt", text);
}

void RunDir::append_metrics(const nlohmann::json& row) const {
  std::ofstream out(dir_ / "metrics.jsonl", std::ios::app);
  out << row.dump() << "\n";
  out.flush();
  if (!out) throw io_error("cannot append to " + (dir_ / "metrics.jsonl").string());
}

void RunDir::attach_log() const {
  auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>((dir_ / "train.log").string());
  sink->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
  spdlog::default_logger()->sinks().push_back(sink);
}

}  // namespace zoo
