// Faults lose nothing. Runs of the real binary under --deterministic:
// - killed with SIGKILL at random moments of training and in the middle of checkpoint writes,
//   20 times over, each time resumed from a valid last.pt: the run ends bit-identical to one that
//   was never interrupted;
// - a damaged last.pt is named (tensor, exit 65) and the intact previous.pt offered, and the run
//   continues exactly from that;
// - a disk that fills up, or turns read-only, during a save stops the run with one error line
//   (exit 74), the checkpoint it had intact, and the run continues exactly once there is room;
// - a dataset file that disappears mid-epoch stops the run with one error line (exit 66) and a
//   last.pt at that position; resuming over the changed data is refused (exit 65), and the run
//   continues exactly once the file is back.
// The disk tests mount a small tmpfs and are skipped where mounting is not permitted.
#include "app/engine/checkpoint.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <chrono>
#include <csignal>
#include <fstream>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include <sys/stat.h>

namespace zoo {
namespace {

namespace fs = std::filesystem;
using test::run_zoo;
using test::TempDir;

// Every run here follows this plan (and adds only flags that do not change the numbers).
const std::string kPlan = " --epochs 30 --batch-size 16 --deterministic --quiet";

class Faults : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    test::write_synthetic_idx(dir_->path() / "data", 128, 64, 10);
    const auto r = run_zoo("train lenet5 --data " + data() + kPlan + " --name reference --runs-dir " + runs());
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string data() { return (dir_->path() / "data").string(); }
  static std::string runs() { return (dir_->path() / "runs").string(); }
  static std::string reference() { return runs() + "/reference/checkpoints/last.pt"; }
  static TempDir* dir_;
};
TempDir* Faults::dir_ = nullptr;

void expect_same_weights(const std::string& a, const std::string& b) {
  const Checkpoint x = load_checkpoint(a), y = load_checkpoint(b);
  EXPECT_EQ(x.meta["position"]["step"], y.meta["position"]["step"]);
  ASSERT_EQ(x.model.size(), y.model.size());
  for (size_t i = 0; i < x.model.size(); ++i) {
    EXPECT_TRUE(torch::equal(x.model[i].second, y.model[i].second)) << x.model[i].first;
  }
}

// The error line of a failed command: the last line of stderr, which must be the only one that
// starts "zoo: error:" (log lines may come before it); empty otherwise.
std::string error_line(const std::string& err) {
  if (err.empty() || err.back() != '\n') return "";
  const auto start = err.rfind('\n', err.size() - 2);
  const std::string line = err.substr(start == std::string::npos ? 0 : start + 1);
  if (line.rfind("zoo: error:", 0) != 0 || err.find("zoo: error:") != (start == std::string::npos ? 0 : start + 1)) return "";
  return line;
}

// Starts `zoo args` with its stderr in `err` (and its stdout nowhere).
pid_t start_zoo(const std::string& args, const std::string& err = "/dev/null") {
  const std::string cmd = "exec " + std::string(ZOO_BINARY) + " " + args + " >/dev/null 2>" + err;
  const pid_t child = ::fork();
  if (child == 0) {
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
    ::_exit(127);
  }
  return child;
}

ino_t inode_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : ino_t{0};
}

bool has_temporary(const fs::path& dir) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename().string().find(".tmp.") != std::string::npos) return true;
  }
  return false;
}

// Waits up to `seconds` for `done`; false on time out.
template <typename F>
bool wait_for(F done, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

int wait_exit(pid_t child) {
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

void expect_unique_step_rows(const std::string& run) {
  std::set<int64_t> steps;
  std::ifstream metrics(run + "/metrics.jsonl");
  for (std::string line; std::getline(metrics, line);) {
    const auto row = nlohmann::json::parse(line);
    if (row["kind"] == "step") EXPECT_TRUE(steps.insert(row["step"].get<int64_t>()).second) << line;
  }
  EXPECT_EQ(steps.size(), size_t(30 * 8));  // 128 / 16 = 8 steps an epoch
}

TEST_F(Faults, TwentyRandomKillsResumeBitIdentical) {
  const std::string run = runs() + "/killed", last = run + "/checkpoints/last.pt";
  std::mt19937 rng(20261202);
  int kills = 0, mid_write = 0;
  std::string args = "train lenet5 --data " + data() + kPlan + " --save-every 1 --name killed --runs-dir " + runs();
  for (int trial = 0; trial < 20; ++trial) {
    const ino_t before = inode_of(last);
    const pid_t child = start_zoo(args);
    ASSERT_GT(child, 0);
    // Let this process land one save of its own, then kill it: at a random moment of training
    // (even trials) or as soon as a checkpoint write is under way (odd trials).
    ASSERT_TRUE(wait_for([&] { return inode_of(last) != before; }, 120)) << "trial " << trial << ": no save";
    bool writing = false;
    if (trial % 2 == 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, 40000)(rng)));
    } else {
      writing = wait_for([&] { return has_temporary(run + "/checkpoints"); }, 10);
    }
    writing = writing || has_temporary(run + "/checkpoints");
    ::kill(child, SIGKILL);
    const int code = wait_exit(child);
    ASSERT_EQ(code, -SIGKILL) << "trial " << trial << ": the run ended before the kill";
    ++kills;
    mid_write += writing;
    // What survives is whole: it loads and every checksum matches.
    const Checkpoint c = load_checkpoint(last);
    EXPECT_GT(c.checksums, 0);
    args = "train --resume " + run;
  }
  const auto r = run_zoo(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(kills, 20);
  EXPECT_GE(mid_write, 10) << "kills that landed in the middle of a checkpoint write";
  expect_same_weights(reference(), last);
  expect_unique_step_rows(run);
  EXPECT_FALSE(has_temporary(run + "/checkpoints")) << "a resumed run removes the killed writers' temporaries";
}

// Flips one byte of `path` inside the bytes of its tensor `name` (as stored).
void damage_tensor(const std::string& path, const std::string& name) {
  const Checkpoint c = load_checkpoint(path);
  torch::Tensor t;
  for (const auto& [n, v] : c.model) {
    if (n == name) t = v.contiguous();
  }
  ASSERT_TRUE(t.defined()) << name;
  std::string bytes = test::read_file(path);
  const auto at = bytes.find(std::string(static_cast<const char*>(t.data_ptr()), t.nbytes()));
  ASSERT_NE(at, std::string::npos);
  bytes[at + t.nbytes() / 2] ^= 0x10;
  test::write_file(path, bytes);
}

TEST_F(Faults, DamagedLastPtIsNamedAndThePreviousOneContinuesExactly) {
  const std::string run = runs() + "/damaged", dir = run + "/checkpoints";
  auto r = run_zoo("train lenet5 --data " + data() + kPlan + " --name damaged --runs-dir " + runs());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(fs::exists(dir + "/previous.pt"));
  const std::string name = load_checkpoint(dir + "/last.pt").model.front().first;
  damage_tensor(dir + "/last.pt", name);

  r = run_zoo("verify " + dir + "/last.pt");
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_NE(error_line(r.err).find("tensor model/" + name + " does not match its checksum"), std::string::npos) << r.err;
  r = run_zoo("verify " + dir + "/previous.pt " + dir + "/best.pt");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("previous.pt: zoo checkpoint, format 3, lenet5"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("checksums match (xxh3-64)"), std::string::npos) << r.out;
  r = run_zoo("eval --weights " + dir + "/last.pt --data " + data());
  EXPECT_EQ(r.exit_code, 65);

  // --resume names the damage and offers the previous checkpoint; nothing is written.
  const std::string metrics_before = test::read_file(run + "/metrics.jsonl");
  r = run_zoo("train --resume " + run);
  EXPECT_EQ(r.exit_code, 65);
  const std::string line = error_line(r.err);
  EXPECT_NE(line.find("tensor model/" + name), std::string::npos) << r.err;
  EXPECT_NE(line.find("previous checkpoint " + dir + "/previous.pt is intact"), std::string::npos) << r.err;
  EXPECT_NE(line.find("zoo train --resume " + dir + "/previous.pt"), std::string::npos) << r.err;
  EXPECT_EQ(test::read_file(run + "/metrics.jsonl"), metrics_before);

  // Continuing from it sets the damaged file aside and ends where an undamaged run ends.
  r = run_zoo("train --resume " + dir + "/previous.pt");  // the last epoch again
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir + "/last.damaged.pt"));
  expect_same_weights(reference(), dir + "/last.pt");
  expect_unique_step_rows(run);
}

// Fills the file system of `dir` to the last byte; returns the filler's path.
std::string fill_disk(const std::string& dir) {
  const std::string filler = dir + "/filler";
  std::FILE* f = std::fopen(filler.c_str(), "wb");
  if (!f) return filler;
  const std::string block(4096, 'x');
  while (std::fwrite(block.data(), 1, block.size(), f) == block.size() && std::fflush(f) == 0) {
  }
  for (char c = 'x'; std::fputc(c, f) != EOF && std::fflush(f) == 0;) {
  }
  std::fclose(f);
  return filler;
}

// Starts a run in a tmpfs, waits for its first mid-epoch save, breaks the disk with `fault`,
// checks that the run stops at its next save with one line and exit 74 and leaves its last.pt
// whole, then repairs the disk with `repair` and checks that the resumed run ends exactly.
template <typename Fault, typename Repair>
void stop_on_disk_fault(const std::string& mount_dir, const std::string& data, const std::string& reference,
                        Fault fault, Repair repair, const std::string& expected) {
  const std::string run = mount_dir + "/run", last = run + "/checkpoints/last.pt";
  const pid_t child = start_zoo("train lenet5 --data " + data + kPlan + " --save-every 2 --name run --runs-dir " +
                                mount_dir);
  ASSERT_TRUE(wait_for([&] { return fs::exists(last); }, 120));
  fault();
  // The run is still going; its next save fails. Its stderr went to /dev/null: the message is
  // checked on a resumed run that meets the same fault below.
  EXPECT_EQ(wait_exit(child), 74);
  const Checkpoint whole = load_checkpoint(last);
  EXPECT_GT(whole.checksums, 0);
  auto r = run_zoo("train --resume " + run);  // the disk is still broken: it stops at its first save
  EXPECT_EQ(r.exit_code, 74);
  EXPECT_NE(error_line(r.err).find(expected), std::string::npos) << r.err;
  EXPECT_EQ(load_checkpoint(last).meta["position"], whole.meta["position"]);
  repair();
  r = run_zoo("train --resume " + run);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_same_weights(reference, last);
  EXPECT_FALSE(has_temporary(run + "/checkpoints"));
}

TEST_F(Faults, DiskFullDuringSaveStopsAndContinuesExactly) {
  const std::string dir = dir_->path() / "full";
  test::Mounts mounts;
  if (!mounts.tmpfs(dir, 8192)) GTEST_SKIP() << "cannot mount a tmpfs here (needs CAP_SYS_ADMIN)";
  std::string filler;
  stop_on_disk_fault(
      dir, data(), reference(), [&] { filler = fill_disk(dir); }, [&] { fs::remove(filler); },
      "No space left on device");
}

TEST_F(Faults, ReadOnlyRunDirectoryStopsAndContinuesExactly) {
  const std::string dir = dir_->path() / "ro";
  test::Mounts mounts;
  if (!mounts.tmpfs(dir, 8192)) GTEST_SKIP() << "cannot mount a tmpfs here (needs CAP_SYS_ADMIN)";
  stop_on_disk_fault(
      dir, data(), reference(), [&] { ASSERT_TRUE(mounts.read_only(dir)); }, [&] { mounts.pop(); },
      "Read-only file system");
  // A runs directory that is read-only from the start: one line, nothing written.
  ASSERT_TRUE(mounts.read_only(dir));
  const auto r = run_zoo("train lenet5 --data " + data() + " --name fresh --runs-dir " + dir);
  EXPECT_EQ(r.exit_code, 74);
  EXPECT_NE(error_line(r.err).find("Read-only file system"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir + "/fresh"));
}

// An ImageFolder of 28x28 PNGs in two classes, each image its own shade.
void write_png_folder(const fs::path& root, int per_class) {
  for (const char* split : {"train", "val"}) {
    for (int k = 0; k < 2; ++k) {
      const fs::path dir = root / split / (k == 0 ? "dark" : "light");
      fs::create_directories(dir);
      const int n = std::string(split) == "train" ? per_class : 4;
      for (int i = 0; i < n; ++i) {
        cv::Mat img(28, 28, CV_8UC3, cv::Scalar::all(k == 0 ? 20 + i : 200 + i % 50));
        ASSERT_TRUE(cv::imwrite((dir / (std::to_string(i) + ".png")).string(), img));
      }
    }
  }
}

TEST_F(Faults, DatasetFileDisappearingMidEpochStopsAndContinuesExactly) {
  const fs::path folder = dir_->path() / "pngs";
  write_png_folder(folder, 32);
  const std::string plan = "train lenet5 --data " + folder.string() +
                           " --epochs 40 --batch-size 4 --deterministic --quiet --save-every 1 --runs-dir " + runs();
  auto r = run_zoo(plan + " --name folder-reference");
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const std::string run = runs() + "/folder", last = run + "/checkpoints/last.pt", err = runs() + "/folder.err";
  const pid_t child = start_zoo(plan + " --name folder", err);
  ASSERT_TRUE(wait_for([&] { return fs::exists(last); }, 120));
  const fs::path gone = folder / "train" / "light" / "7.png";
  const std::string bytes = test::read_file(gone);
  fs::remove(gone);
  EXPECT_EQ(wait_exit(child), 66) << "the run ended before it met the missing file";
  const std::string line = error_line(test::read_file(err));
  EXPECT_NE(line.find("training data failed mid-epoch"), std::string::npos) << line;
  EXPECT_NE(line.find(gone.string()), std::string::npos) << line;
  EXPECT_NE(line.find("saved " + last + " at epoch"), std::string::npos) << line;
  EXPECT_NE(line.find("zoo train --resume " + run), std::string::npos) << line;
  const Checkpoint stopped = load_checkpoint(last);
  EXPECT_GT(stopped.checksums, 0);
  // Resumed before the file is back, the run would train on other batches: it is refused.
  r = run_zoo("train --resume " + run);
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_NE(error_line(r.err).find("the training data held 64 samples when it was saved and holds 63 now"),
            std::string::npos) << r.err;
  EXPECT_EQ(load_checkpoint(last).meta["position"], stopped.meta["position"]);

  test::write_file(gone, bytes);
  r = run_zoo("train --resume " + run);  // with the file back
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_same_weights(runs() + "/folder-reference/checkpoints/last.pt", last);
}

}  // namespace
}  // namespace zoo
