// Run directories; see run_dir.h.
#include "app/engine/run_dir.h"

#include "common/atomic_file.h"
#include "common/error.h"
#include "common/json_text.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>
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
  RunDir run(dir);
  if (!fs::is_regular_file(run.last_checkpoint(), ec) && !fs::is_regular_file(run.previous_checkpoint(), ec)) {
    throw missing_error("no run to resume at " + dir.string() + " (checkpoints/last.pt not found); "
                        "HINT: pass a run directory written by `zoo train`, or a checkpoint file");
  }
  const int removed = remove_stale_temporaries((dir / "checkpoints").string());
  if (removed > 0) spdlog::info("removed {} unfinished checkpoint write(s) of a stopped process in {}", removed,
                                (dir / "checkpoints").string());
  return run;
}

void RunDir::write_config(const nlohmann::json& config) const {
  write_text(dir_ / "config.json", json_text(config, 2) + "\n");
}

void RunDir::write_file(const std::string& name, const std::string& text) const {
  write_text(dir_ / name, text);
}

namespace {

void append_line(const fs::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::app);
  out << text;
  out.flush();
  if (!out) {
    throw io_error("cannot append to " + file.string() + "; HINT: check free space and "
                   "permissions of the run directory");
  }
}

}  // namespace

// One CSV line of `row` in column order; an epoch row gives its train_loss as loss. Numbers
// keep full precision; absent values are empty fields.
std::string RunDir::csv_line(const nlohmann::json& row) const {
  std::string line;
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (i > 0) line += ',';
    std::string key = columns_[i];
    if (!row.contains(key)) key = "train_" + key;
    if (!row.contains(key) || row[key].is_null()) continue;
    const auto& v = row[key];
    line += v.is_string() ? v.get<std::string>() : v.dump();
  }
  return line + "\n";
}

std::string RunDir::csv_header() const {
  std::string line;
  for (const auto& column : columns_) line += (line.empty() ? "" : ",") + column;
  return line + "\n";
}

void RunDir::append_metrics(const nlohmann::json& row) const {
  std::error_code ec;
  const bool new_csv = !fs::exists(metrics_csv(), ec);
  append_line(metrics_jsonl(), row.dump() + "\n");
  append_line(metrics_csv(), (new_csv ? csv_header() : "") + csv_line(row));
}

std::vector<nlohmann::json> RunDir::read_metrics() const {
  std::vector<nlohmann::json> rows;
  std::ifstream in(metrics_jsonl());
  for (std::string line; std::getline(in, line);) {
    auto row = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (row.is_object()) rows.push_back(std::move(row));
  }
  return rows;
}

void RunDir::truncate_metrics(int64_t step) const {
  std::string jsonl, csv = csv_header();
  bool dropped = false;
  for (const auto& row : read_metrics()) {
    if (row.value("step", int64_t{0}) > step) {
      dropped = true;
      continue;
    }
    jsonl += row.dump() + "\n";
    csv += csv_line(row);
  }
  std::error_code ec;
  if (!dropped && fs::exists(metrics_csv(), ec)) return;
  write_text(metrics_jsonl(), jsonl);
  write_text(metrics_csv(), csv);
}

void RunDir::attach_log() const {
  const std::string path = (dir_ / "train.log").string();
  std::shared_ptr<spdlog::sinks::basic_file_sink_mt> sink;
  try {
    sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path);
  } catch (const spdlog::spdlog_ex& e) {
    throw io_error("cannot open the run's log: " + std::string(e.what()) +
                   "; HINT: check that the run directory is writable and the disk has space");
  }
  // A line that cannot be written (a full disk) is dropped with one warning; the run goes on
  // and fails at its next save, which says why.
  spdlog::default_logger()->set_error_handler([](const std::string& message) {
    static std::atomic<bool> warned{false};
    if (!warned.exchange(true)) std::fprintf(stderr, "zoo: warning: a log line was lost: %s\n", message.c_str());
  });
  sink->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
  spdlog::default_logger()->sinks().push_back(sink);
  // Each line reaches the file when it is logged (a few per epoch), so that `tail -f
  // train.log` follows a long run and a killed run keeps its log.
  spdlog::default_logger()->flush_on(spdlog::level::info);
}

}  // namespace zoo
