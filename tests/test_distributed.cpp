// Data-parallel training with real processes on 127.0.0.1 over Gloo: two ranks of batch B end
// with the weights of one process of batch 2B over the same samples (with and without
// batch norm), a stopped two-rank run resumes bit-identical, a lost or frozen rank makes the
// other fail within --dist-timeout instead of hanging, and the real torchrun launches zoo. Also
// the shards themselves (loader and stream batcher).
#include "app/engine/checkpoint.h"
#include "app/engine/launch.h"
#include "common/device.h"
#include "data/loader.h"
#include "data/stream_batcher.h"
#include "models/batch_norm.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <fstream>
#include <set>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

namespace zoo {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using test::run_zoo;
using test::TempDir;

// ---- shards -----------------------------------------------------------------------------

TEST(Shards, PaddedShardsCoverTheOrderInEqualParts) {
  const std::vector<size_t> order = epoch_order(10, 7, 3, true);
  LoaderOptions o;
  o.world = 3;
  std::multiset<size_t> seen;
  for (int r = 0; r < 3; ++r) {
    o.rank = r;
    const auto shard = shard_order(order, o);
    ASSERT_EQ(shard.size(), 4u);  // ceil(10 / 3): the order's first two samples come twice
    for (size_t k = 0; k < shard.size(); ++k) EXPECT_EQ(shard[k], order[(r + 3 * k) % 10]);
    seen.insert(shard.begin(), shard.end());
  }
  EXPECT_EQ(seen.size(), 12u);
  EXPECT_EQ(seen.count(order[0]), 2u);
  EXPECT_EQ(seen.count(order[1]), 2u);
  EXPECT_EQ(std::set<size_t>(seen.begin(), seen.end()).size(), 10u);
}

TEST(Shards, UnpaddedShardsAreDisjoint) {
  const std::vector<size_t> order = epoch_order(10, 7, 0, false);
  LoaderOptions o;
  o.world = 4;
  o.pad_shards = false;
  std::vector<size_t> all;
  for (int r = 0; r < 4; ++r) {
    o.rank = r;
    const auto shard = shard_order(order, o);
    EXPECT_EQ(shard.size(), shard_size(10, o));
    EXPECT_EQ(shard.size(), r < 2 ? 3u : 2u);
    all.insert(all.end(), shard.begin(), shard.end());
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, order);
}

// Two ranks' batches of B, side by side, are one process's batch of 2B: same samples.
TEST(Shards, RanksTogetherReadTheGlobalBatch) {
  const std::vector<size_t> order = epoch_order(64, 1, 2, true);
  LoaderOptions o;
  o.world = 2;
  const int64_t b = 4;
  for (int64_t batch = 0; batch < 8; ++batch) {
    std::multiset<size_t> ranks, global(order.begin() + batch * 2 * b, order.begin() + (batch + 1) * 2 * b);
    for (int r = 0; r < 2; ++r) {
      o.rank = r;
      const auto shard = shard_order(order, o);
      ranks.insert(shard.begin() + batch * b, shard.begin() + (batch + 1) * b);
    }
    EXPECT_EQ(ranks, global) << "batch " << batch;
  }
}

TEST(Shards, StreamRanksInterleaveTheStreamsOfOneProcess) {
  const torch::Tensor tokens = torch::arange(1000, torch::kInt64);
  StreamBatcher one(tokens, StreamOptions{6, 5, true, 3});
  StreamBatcher r0(tokens, StreamOptions{3, 5, true, 3, 0, 2});
  StreamBatcher r1(tokens, StreamOptions{3, 5, true, 3, 1, 2});
  ASSERT_EQ(one.batches_per_epoch(), r0.batches_per_epoch());
  ASSERT_EQ(one.batches_per_epoch(), r1.batches_per_epoch());
  one.start_epoch(1);
  r0.start_epoch(1);
  r1.start_epoch(1);
  while (auto batch = one.next()) {
    const auto a = r0.next(), b = r1.next();
    ASSERT_TRUE(a && b);
    const auto rows = [](int64_t first) { return torch::arange(first, 6, 2, torch::kInt64); };
    EXPECT_TRUE(torch::equal(a->inputs(), batch->inputs().index_select(0, rows(0))));
    EXPECT_TRUE(torch::equal(b->inputs(), batch->inputs().index_select(0, rows(1))));
    EXPECT_TRUE(torch::equal(b->targets(), batch->targets().index_select(0, rows(1))));
  }
}

// With one rank (a sum that is the identity), synchronised statistics are batch norm's own:
// the output, every gradient and the running statistics.
TEST(SyncBatchNorm, OneRankIsBatchNorm) {
  struct Identity : BatchStatisticsSum {
    torch::Tensor sum(const torch::Tensor& t) override { return t; }
  };
  torch::manual_seed(3);
  BatchNorm2d plain(5), synced(5);
  synced->set_statistics_sum(std::make_shared<Identity>());
  torch::NoGradGuard no_grad;
  for (auto* bn : {&plain, &synced}) {
    (*bn)->weight.copy_(torch::linspace(0.5, 1.5, 5));
    (*bn)->bias.copy_(torch::linspace(-0.2, 0.2, 5));
  }
  const torch::Tensor x = torch::randn({4, 5, 3, 3}) * 3 + 1;
  const torch::Tensor upstream = torch::randn({4, 5, 3, 3});
  std::vector<torch::Tensor> grads;
  std::vector<torch::Tensor> outputs;
  for (auto* bn : {&plain, &synced}) {
    torch::AutoGradMode grad(true);
    (*bn)->train();
    torch::Tensor input = x.clone().requires_grad_(true);
    torch::Tensor y = (*bn)->forward(input);
    (y * upstream).sum().backward();
    outputs.push_back(y.detach());
    grads.push_back(input.grad());
    grads.push_back((*bn)->weight.grad());
    grads.push_back((*bn)->bias.grad());
  }
  EXPECT_TRUE(torch::allclose(outputs[0], outputs[1], 1e-5, 1e-5));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(torch::allclose(grads[i], grads[3 + i], 1e-4, 1e-5)) << i;
  EXPECT_TRUE(torch::allclose(plain->running_mean, synced->running_mean, 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(plain->running_var, synced->running_var, 1e-6, 1e-6));
  EXPECT_EQ(plain->num_batches_tracked.item<int64_t>(), synced->num_batches_tracked.item<int64_t>());
}

// ---- the cores a process may use (what --threads 0 shares among the local ranks) -----------

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

TEST(Cores, CgroupQuotaInCoresRoundedUp) {
  TempDir dir;
  const fs::path root = dir.path();
  // v2: the process's cgroup and an ancestor with a smaller quota; "max" is no quota.
  write_text(root / "a/b/cpu.max", "250000 100000\n");
  EXPECT_EQ(cgroup_cpu_quota("0::/a/b\n", root.string()), 3);
  write_text(root / "a/cpu.max", "100000 100000\n");
  EXPECT_EQ(cgroup_cpu_quota("0::/a/b\n", root.string()), 1);
  write_text(root / "c/cpu.max", "max 100000\n");
  EXPECT_EQ(cgroup_cpu_quota("0::/c\n", root.string()), 0);
  EXPECT_EQ(cgroup_cpu_quota("0::/nowhere\n", root.string()), 0);
  // v1: the cpu controller's hierarchy; -1 is no quota.
  write_text(root / "cpu,cpuacct/docker/x/cpu.cfs_quota_us", "150000\n");
  write_text(root / "cpu,cpuacct/docker/x/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(cgroup_cpu_quota("4:memory:/docker/x\n3:cpu,cpuacct:/docker/x\n", root.string()), 2);
  write_text(root / "cpu/y/cpu.cfs_quota_us", "-1\n");
  write_text(root / "cpu/y/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(cgroup_cpu_quota("1:cpu:/y\n0::/\n", root.string()), 0);
  EXPECT_EQ(cgroup_cpu_quota("garbage\n", root.string()), 0);
  EXPECT_GE(available_cores(), 1);
}

TEST(Cores, IdleCoresFromProcStat) {
  // cpu0 idle through the interval, cpu1 busy, cpu2 half idle (iowait counts as idle); cpu3 is
  // not ours. Ticks: user nice system idle iowait irq softirq steal.
  const std::string before =
      "cpu  10 0 10 100 0 0 0 0 0 0\ncpu0 0 0 0 100 0 0 0 0 0 0\ncpu1 100 0 0 0 0 0 0 0 0 0\n"
      "cpu2 0 0 0 0 0 0 0 0 0 0\ncpu3 0 0 0 0 0 0 0 0 0 0\nintr 1 2 3\n";
  const std::string after =
      "cpu  10 0 10 100 0 0 0 0 0 0\ncpu0 0 0 0 200 0 0 0 0 0 0\ncpu1 190 0 10 0 0 0 0 0 0 0\n"
      "cpu2 25 0 25 25 25 0 0 0 0 0\ncpu3 0 0 0 100 0 0 0 0 0 0\nintr 1 2 3\n";
  EXPECT_DOUBLE_EQ(idle_cores_between(before, after, {0, 1, 2}), 1.5);
  EXPECT_DOUBLE_EQ(idle_cores_between(before, after, {1}), 0.0);
  EXPECT_DOUBLE_EQ(idle_cores_between(before, after, {0, 3}), 2.0);
  EXPECT_LT(idle_cores_between(before, before, {0, 1}), 0.0);  // no tick passed
  EXPECT_LT(idle_cores_between(before, after, {7}), 0.0);      // not in the snapshots
  EXPECT_LT(idle_cores_between("garbage", after, {0}), 0.0);
}

TEST(Cores, DefaultThreadsFollowOmpNumThreadsElseIdleCores) {
  const char* saved = std::getenv("OMP_NUM_THREADS");
  const std::string keep = saved ? saved : "";
  ::setenv("OMP_NUM_THREADS", "3", 1);
  EXPECT_EQ(default_threads(1), 3);
  EXPECT_EQ(default_threads(2), 3);  // per process, as torchrun sets it for each rank
  EXPECT_EQ(resolve_threads(5), 5);
  ::unsetenv("OMP_NUM_THREADS");
  const int idle = default_threads(1, 0.05);
  EXPECT_GE(idle, 1);
  EXPECT_LE(idle, available_cores());
  EXPECT_EQ(default_threads(1, 0.0), available_cores());  // no sample: every available core
  EXPECT_EQ(default_threads(available_cores() + 1, 0.0), 1);
  if (saved) ::setenv("OMP_NUM_THREADS", keep.c_str(), 1);
}

// ---- processes --------------------------------------------------------------------------

// The largest |a - b| / max|b| over the tensors of two checkpoints' models.
double max_relative_difference(const std::string& a_path, const std::string& b_path) {
  const Checkpoint a = load_checkpoint(a_path), b = load_checkpoint(b_path);
  EXPECT_EQ(a.model.size(), b.model.size());
  double worst = 0.0;
  for (size_t i = 0; i < a.model.size() && i < b.model.size(); ++i) {
    EXPECT_EQ(a.model[i].first, b.model[i].first);
    const torch::Tensor x = a.model[i].second.to(torch::kDouble), y = b.model[i].second.to(torch::kDouble);
    if (!x.is_floating_point() || x.numel() == 0) continue;
    const double scale = std::max(y.abs().max().item<double>(), 1e-12);
    worst = std::max(worst, (x - y).abs().max().item<double>() / scale);
  }
  return worst;
}

bool same_weights(const std::string& a_path, const std::string& b_path) {
  const Checkpoint a = load_checkpoint(a_path), b = load_checkpoint(b_path);
  if (a.model.size() != b.model.size()) return false;
  for (size_t i = 0; i < a.model.size(); ++i) {
    if (a.model[i].first != b.model[i].first || !torch::equal(a.model[i].second, b.model[i].second)) return false;
  }
  return true;
}

std::vector<nlohmann::json> epoch_rows(const fs::path& run) {
  std::vector<nlohmann::json> rows;
  std::ifstream in(run / "metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    const auto row = nlohmann::json::parse(line);
    if (row.at("kind") == "epoch") rows.push_back(row);
  }
  return rows;
}

// One rank of a two-rank group started by hand (as torchrun would), stderr to `err`.
pid_t start_rank(int rank, int port, const std::string& args, const std::string& err, int restart = 0) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (restart > 0) ::setenv("TORCHELASTIC_RESTART_COUNT", std::to_string(restart).c_str(), 1);
    ::setenv("RANK", std::to_string(rank).c_str(), 1);
    ::setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
    ::setenv("WORLD_SIZE", "2", 1);
    ::setenv("LOCAL_WORLD_SIZE", "2", 1);
    ::setenv("MASTER_ADDR", "127.0.0.1", 1);
    ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
    const std::string command = std::string("exec ") + ZOO_BINARY + " " + args + " >/dev/null 2>" + err;
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

// Waits at most `limit` for `pid`; its wait status, or -1 when it is still running.
int wait_for(pid_t pid, std::chrono::seconds limit) {
  const auto end = Clock::now() + limit;
  while (Clock::now() < end) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return -1;
}

class DataParallel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    test::write_synthetic_idx(dir_->path() / "data", 640, 200, 10);
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string data() { return (dir_->path() / "data").string(); }
  static fs::path runs() { return dir_->path() / "runs"; }
  static std::string last(const std::string& name) { return (runs() / name / "checkpoints" / "last.pt").string(); }
  // LeNet-5, 2 epochs of 5 steps, constant lr (so --max-steps does not change the schedule).
  static std::string lenet(const std::string& name, int64_t batch) {
    return "train lenet5 --data " + data() + " --epochs 2 --limit-batches 5 --batch-size " + std::to_string(batch) +
           " --schedule constant --lr 0.05 --threads 1 --workers 1 --quiet --name " + name +
           " --runs-dir " + runs().string();
  }
  static TempDir* dir_;
};
TempDir* DataParallel::dir_ = nullptr;

TEST_F(DataParallel, TwoRanksMatchOneProcessWithTheGlobalBatch) {
  auto one = run_zoo(lenet("one", 64));
  ASSERT_EQ(one.exit_code, 0) << one.err;
  auto two = run_zoo(lenet("two", 32) + " --nproc 2");
  ASSERT_EQ(two.exit_code, 0) << two.err;
  const double diff = max_relative_difference(last("two"), last("one"));
  EXPECT_LT(diff, 1e-5);
  // Control: the same run on one rank's shard alone (batch 32) ends elsewhere.
  auto half = run_zoo(lenet("half", 32));
  ASSERT_EQ(half.exit_code, 0) << half.err;
  EXPECT_GT(max_relative_difference(last("half"), last("one")), 1e-3);

  // Training figures are summed over the ranks, validation combined from the two shards.
  const auto a = epoch_rows(runs() / "one"), b = epoch_rows(runs() / "two");
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  for (const char* key : {"train_loss", "train_top1", "val_loss", "val_top1", "val_top5"}) {
    EXPECT_NEAR(a[1].at(key).get<double>(), b[1].at(key).get<double>(), 1e-5) << key;
  }
  EXPECT_EQ(b[1].at("ranks"), 2);
  EXPECT_GT(b[1].at("allreduce_mb").get<double>(), 0.2);
  // Rank 0 alone wrote: one run directory, one summary line, each log line once.
  EXPECT_FALSE(fs::exists(runs() / "two-1"));
  EXPECT_EQ(std::count(two.out.begin(), two.out.end(), '\n'), 1) << two.out;
  const std::string log = test::read_file((runs() / "two" / "train.log").string());
  EXPECT_NE(log.find("data parallel: 2 ranks over gloo"), std::string::npos) << log;
  EXPECT_NE(log.find("global batch 64 = 32 per rank x 2 ranks"), std::string::npos) << log;
  EXPECT_EQ(log.find("epoch 1/2"), log.rfind("epoch 1/2")) << log;
}

// With --accumulate, only the group's last batch all-reduces, and what .grad accumulated from
// the group's earlier batches goes with it.
TEST_F(DataParallel, AccumulatedGroupsMatchOneProcess) {
  auto one = run_zoo(lenet("acc-one", 32) + " --accumulate 2");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  auto two = run_zoo(lenet("acc-two", 16) + " --accumulate 2 --nproc 2");
  ASSERT_EQ(two.exit_code, 0) << two.err;
  EXPECT_LT(max_relative_difference(last("acc-two"), last("acc-one")), 1e-5);
  auto plain = run_zoo(lenet("acc-plain", 32));  // control: the same batches, a step after each
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_GT(max_relative_difference(last("acc-two"), last("acc-plain")), 1e-3);
}

TEST_F(DataParallel, StoppedTwoRankRunResumesBitIdentical) {
  auto full = run_zoo(lenet("full", 32) + " --nproc 2");
  ASSERT_EQ(full.exit_code, 0) << full.err;
  auto part = run_zoo(lenet("part", 32) + " --nproc 2 --max-steps 7");  // inside epoch 2
  ASSERT_EQ(part.exit_code, 0) << part.err;
  ASSERT_FALSE(same_weights(last("part"), last("full")));
  auto rest = run_zoo("train --resume " + (runs() / "part").string() + " --max-steps 0 --nproc 2");
  ASSERT_EQ(rest.exit_code, 0) << rest.err;
  EXPECT_TRUE(same_weights(last("part"), last("full")));
  // Inside an epoch, another number of ranks cannot continue it.
  auto again = run_zoo(lenet("again", 32) + " --nproc 2 --max-steps 3");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  auto single = run_zoo("train --resume " + (runs() / "again").string() + " --max-steps 0");
  EXPECT_EQ(single.exit_code, 2) << single.err;
  EXPECT_NE(single.err.find("saved inside an epoch by 2 rank(s)"), std::string::npos) << single.err;
}

// A char-level LSTM: two ranks of B streams carry their own states, like one process of 2B
// streams, and a stop inside an epoch resumes with each rank's own state.
TEST_F(DataParallel, CharLmRanksCarryTheirOwnStreams) {
  std::string text;
  for (int i = 0; i < 400; ++i) text += "the quick brown fox jumps over the lazy dog " + std::to_string(i % 7) + "\n";
  test::write_file((dir_->path() / "corpus.txt").string(), text);
  const std::string base = "train charlm --data " + (dir_->path() / "corpus.txt").string() +
                           " --hidden 32 --embed 16 --seq-len 16 --epochs 2 --limit-batches 6 --schedule constant --threads 1 --quiet"
                           " --runs-dir " + runs().string();
  auto one = run_zoo(base + " --batch-size 8 --name lm-one");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  auto two = run_zoo(base + " --batch-size 4 --nproc 2 --name lm-two");
  ASSERT_EQ(two.exit_code, 0) << two.err;
  EXPECT_LT(max_relative_difference(last("lm-two"), last("lm-one")), 1e-5);
  auto part = run_zoo(base + " --batch-size 4 --nproc 2 --name lm-part --max-steps 9 --save-every 1");
  ASSERT_EQ(part.exit_code, 0) << part.err;
  const Checkpoint stopped = load_checkpoint(last("lm-part"));
  std::set<std::string> names;
  for (const auto& [name, t] : stopped.task_state) names.insert(name);
  EXPECT_EQ(names, (std::set<std::string>{"h", "c", "rank1/h", "rank1/c"}));
  auto rest = run_zoo("train --resume " + (runs() / "lm-part").string() + " --max-steps 0 --nproc 2");
  ASSERT_EQ(rest.exit_code, 0) << rest.err;
  EXPECT_LT(max_relative_difference(last("lm-part"), last("lm-two")), 1e-6);
}

TEST_F(DataParallel, SyncBatchNormMatchesOneProcessWithTheGlobalBatch) {
  // A small lr: at 28 px ResNet-18's last stages see 1 x 1 maps, whose batch statistics over 16
  // values amplify rounding so much that at lr 0.01 even --threads 1 vs 2 of one process end
  // 10% apart after 3 steps.
  const std::string base = "train resnet18 --data " + data() + " --epochs 1 --limit-batches 3 --limit-val-batches 1 "
                           "--schedule constant --lr 0.002 --threads 1 --workers 1 --quiet --runs-dir " + runs().string();
  auto one = run_zoo(base + " --batch-size 16 --name bn-one");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  auto sync = run_zoo(base + " --batch-size 8 --nproc 2 --sync-bn --name bn-sync");
  ASSERT_EQ(sync.exit_code, 0) << sync.err;
  auto local = run_zoo(base + " --batch-size 8 --nproc 2 --name bn-local");
  ASSERT_EQ(local.exit_code, 0) << local.err;
  const double synced = max_relative_difference(last("bn-sync"), last("bn-one"));
  const double per_rank = max_relative_difference(last("bn-local"), last("bn-one"));
  EXPECT_LT(synced, 1e-4);
  EXPECT_GT(per_rank, 100 * synced);  // per-rank statistics are another computation
}

// A rank killed mid-run: the other fails with one clear line, promptly; a rank that stops
// answering (SIGSTOP): the other fails once --dist-timeout has passed.
TEST_F(DataParallel, LostRankMakesTheOtherFailWithinTheTimeout) {
  for (const int sig : {SIGKILL, SIGSTOP}) {
    SCOPED_TRACE(sig == SIGKILL ? "killed" : "stopped");
    const std::string name = sig == SIGKILL ? "killed" : "frozen";
    const std::string args = "train lenet5 --data " + data() + " --epochs 1000 --batch-size 8 --threads 1 --workers 1 "
                             "--quiet --dist-timeout 5 --name " + name + " --runs-dir " + runs().string();
    const int port = free_port();
    const std::string err0 = (dir_->path() / (name + "0.err")).string();
    const pid_t rank0 = start_rank(0, port, args, err0);
    const pid_t rank1 = start_rank(1, port, args, (dir_->path() / (name + "1.err")).string());
    const auto metrics = runs() / name / "metrics.jsonl";
    const auto until = Clock::now() + std::chrono::seconds(60);
    while (Clock::now() < until && (!fs::exists(metrics) || fs::file_size(metrics) == 0)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(fs::exists(metrics)) << test::read_file(err0);
    ::kill(rank1, sig);
    const auto lost = Clock::now();
    const int status = wait_for(rank0, std::chrono::seconds(40));
    const double seconds = std::chrono::duration<double>(Clock::now() - lost).count();
    ::kill(rank1, SIGKILL);
    ::waitpid(rank1, nullptr, 0);
    if (status == -1) {
      ::kill(rank0, SIGKILL);
      ::waitpid(rank0, nullptr, 0);
      FAIL() << "rank 0 still running " << seconds << " s after rank 1 was lost";
    }
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 74);
    EXPECT_LT(seconds, sig == SIGKILL ? 10.0 : 5.0 + 15.0);  // generous: ctest runs two suites at once
    const std::string err = test::read_file(err0);
    EXPECT_NE(err.find("zoo: error: distributed"), std::string::npos) << err;
    EXPECT_NE(err.find("on rank 0 of 2"), std::string::npos) << err;
    size_t errors = 0;  // one error line among the log lines
    for (size_t at = err.find("zoo: error:"); at != std::string::npos; at = err.find("zoo: error:", at + 1)) ++errors;
    EXPECT_EQ(errors, 1u) << err;
  }
}

// torchrun --max-restarts: both ranks killed mid-run, the same command started again as
// restart 1 continues the named run from its last.pt and ends bit-identical to a run that was
// never interrupted.
TEST_F(DataParallel, RestartedAttemptContinuesTheNamedRun) {
  const auto args = [&](const std::string& name) {
    return "train lenet5 --data " + data() + " --epochs 3 --limit-batches 10 --batch-size 32 --schedule constant "
           "--lr 0.05 --threads 1 --workers 1 --quiet --save-every 4 --name " + name + " --runs-dir " + runs().string();
  };
  auto full = run_zoo(args("restart-full") + " --nproc 2");
  ASSERT_EQ(full.exit_code, 0) << full.err;
  const std::string err = (dir_->path() / "restart.err").string();
  int port = free_port();
  pid_t r0 = start_rank(0, port, args("restart"), err), r1 = start_rank(1, port, args("restart"), err + "1");
  const auto metrics = runs() / "restart" / "metrics.jsonl";
  const auto until = Clock::now() + std::chrono::seconds(60);
  auto steps_logged = [&] {
    std::ifstream in(metrics);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) n += line.find("\"kind\":\"step\"") != std::string::npos;
    return n;
  };
  while (Clock::now() < until && steps_logged() < 13) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ::kill(r0, SIGKILL);
  ::kill(r1, SIGKILL);
  ::waitpid(r0, nullptr, 0);
  ::waitpid(r1, nullptr, 0);
  ASSERT_GE(steps_logged(), 13);
  ASSERT_LT(load_checkpoint(last("restart")).meta.at("position").at("step").get<int64_t>(), 30) << "killed too late";
  port = free_port();
  r0 = start_rank(0, port, args("restart"), err, 1);
  r1 = start_rank(1, port, args("restart"), err + "1", 1);
  const int s0 = wait_for(r0, std::chrono::seconds(120)), s1 = wait_for(r1, std::chrono::seconds(30));
  ASSERT_TRUE(WIFEXITED(s0) && WEXITSTATUS(s0) == 0) << test::read_file(err);
  ASSERT_TRUE(WIFEXITED(s1) && WEXITSTATUS(s1) == 0) << test::read_file(err + "1");
  EXPECT_NE(test::read_file(err).find("torchrun restart 1: continuing"), std::string::npos) << test::read_file(err);
  EXPECT_TRUE(same_weights(last("restart"), last("restart-full")));
}

// Ctrl-C on `zoo train --nproc 2`: the launcher passes it on, both ranks stop at the same step,
// rank 0 saves last.pt, the exit code is 130, and the resumed run ends bit-identical.
TEST_F(DataParallel, InterruptedLauncherStopsEveryRankAtOneStep) {
  const auto args = [&](const std::string& name) {
    return "train lenet5 --data " + data() + " --epochs 3 --limit-batches 10 --batch-size 32 --schedule constant "
           "--lr 0.05 --threads 1 --workers 1 --quiet --nproc 2 --name " + name + " --runs-dir " + runs().string();
  };
  auto full = run_zoo(args("int-full"));
  ASSERT_EQ(full.exit_code, 0) << full.err;
  const std::string err = (dir_->path() / "int.err").string();
  const pid_t launcher = ::fork();
  if (launcher == 0) {
    const std::string command = std::string("exec ") + ZOO_BINARY + " " + args("int") + " >/dev/null 2>" + err;
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const auto metrics = runs() / "int" / "metrics.jsonl";
  const auto until = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < until && (!fs::exists(metrics) || fs::file_size(metrics) < 200)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(launcher, SIGINT);
  const int status = wait_for(launcher, std::chrono::seconds(60));
  ASSERT_NE(status, -1);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130) << test::read_file(err);
  const int64_t step = load_checkpoint(last("int")).meta.at("position").at("step").get<int64_t>();
  ASSERT_GT(step, 0);
  ASSERT_LT(step, 30) << "the run ended before the signal";
  auto rest = run_zoo("train --resume " + (runs() / "int").string() + " --nproc 2");
  ASSERT_EQ(rest.exit_code, 0) << rest.err;
  EXPECT_TRUE(same_weights(last("int"), last("int-full")));
}

// The launch users read about: Debian's torchrun (python3-torch) starting zoo.
TEST_F(DataParallel, TorchrunLaunchesZoo) {
  if (!fs::exists("/usr/bin/torchrun")) GTEST_SKIP() << "torchrun is not installed (python3-torch)";
  auto ours = run_zoo(lenet("by-zoo", 32) + " --nproc 2");
  ASSERT_EQ(ours.exit_code, 0) << ours.err;
  // --redirects 1 --tee 1: Debian's torchrun on Python 3.11 fails at start without them.
  const std::string torchrun = "/usr/bin/torchrun --no_python --redirects 1 --tee 1 --nproc_per_node 2 --master_port " +
                               std::to_string(free_port()) + " " + ZOO_BINARY + " ";
  const std::string out = (dir_->path() / "torchrun.out").string();
  const int rc = std::system((torchrun + lenet("by-torchrun", 32) + " >" + out + " 2>&1").c_str());
  ASSERT_EQ(rc, 0) << test::read_file(out);
  EXPECT_TRUE(same_weights(last("by-torchrun"), last("by-zoo")));
}

TEST_F(DataParallel, BadLaunchesAreUsageErrors) {
  auto r = run_zoo(lenet("bad", 32) + " --nproc 1");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = run_zoo(lenet("bad", 32), "WORLD_SIZE=2");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("RANK is not set"), std::string::npos) << r.err;
  r = run_zoo(lenet("bad", 32), "WORLD_SIZE=2 RANK=2 MASTER_ADDR=127.0.0.1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("outside WORLD_SIZE 2"), std::string::npos) << r.err;
  r = run_zoo(lenet("bad", 32) + " --nproc 2", "WORLD_SIZE=2");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("drop --nproc under torchrun"), std::string::npos) << r.err;
  r = run_zoo(lenet("bad", 32) + " --nproc 2 --dist-backend nccl");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_FALSE(fs::exists(runs() / "bad"));
}

}  // namespace
}  // namespace zoo
