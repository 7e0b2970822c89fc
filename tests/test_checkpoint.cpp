// Checkpoints: a round trip reproduces identical outputs and optimizer behaviour, metadata
// survives, bad files are refused cleanly, and a writer killed mid-save never leaves a
// half-written file under the final name.
#include "app/engine/checkpoint.h"
#include "app/engine/model_io.h"
#include "common/error.h"
#include "models/registry.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim/sgd.h>

#include <csignal>
#include <thread>

namespace zoo {
namespace {

using test::TempDir;

void sgd_step(ClassifierImpl& m, torch::optim::SGD& opt, const torch::Tensor& x) {
  opt.zero_grad();
  torch::nn::functional::cross_entropy(m.forward(x), torch::arange(x.size(0)) % 10).backward();
  opt.step();
}

TEST(Checkpoint, RoundTripIsExact) {
  TempDir dir;
  torch::manual_seed(3);
  Classifier a = build_classifier("lenet5", ModelOptions{10});
  torch::optim::SGD opt_a(a->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  auto x = torch::randn({4, 1, 28, 28});
  sgd_step(*a, opt_a, x);  // momentum buffers now hold state
  nlohmann::json meta = {{"model", "lenet5"}, {"class_names", {"a", "b"}}};
  save_checkpoint(dir / "a.pt", meta, state_dict_of(*a), &opt_a);

  Checkpoint c = load_checkpoint(dir / "a.pt");
  EXPECT_EQ(c.meta["model"], "lenet5");
  EXPECT_EQ(c.meta["format_version"], kCheckpointFormatVersion);
  ASSERT_TRUE(c.optimizer.has_value());
  ASSERT_TRUE(c.rng_cpu.defined());
  torch::manual_seed(99);
  Classifier b = build_classifier("lenet5", ModelOptions{10});
  load_state_dict(*b, c.model, LoadMode::kStrict, "a.pt");
  torch::optim::SGD opt_b(b->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  opt_b.load(*c.optimizer);
  EXPECT_TRUE(torch::equal(a->forward(x), b->forward(x)));
  // One more step from the restored momentum lands on identical weights.
  sgd_step(*a, opt_a, x);
  sgd_step(*b, opt_b, x);
  auto sa = state_dict_of(*a), sb = state_dict_of(*b);
  for (size_t i = 0; i < sa.size(); ++i) EXPECT_TRUE(torch::equal(sa[i].second, sb[i].second)) << sa[i].first;
}

TEST(Checkpoint, RefusesWhatIsNotACheckpoint) {
  TempDir dir;
  auto kind = [](const std::string& path) {
    try {
      load_checkpoint(path);
    } catch (const Error& e) {
      return e.kind();
    }
    return ErrorKind::kInternal;
  };
  EXPECT_EQ(kind(dir / "none.pt"), ErrorKind::kMissingInput);
  test::write_file(dir / "junk.pt", "this is not a zip file at all");
  EXPECT_EQ(kind(dir / "junk.pt"), ErrorKind::kBadData);
  test::write_file(dir / "empty.pt", "");
  EXPECT_EQ(kind(dir / "empty.pt"), ErrorKind::kBadData);
  Classifier m = build_classifier("lenet5", ModelOptions{10});
  save_checkpoint(dir / "ok.pt", {{"model", "lenet5"}}, state_dict_of(*m), nullptr);
  const std::string bytes = test::read_file(dir / "ok.pt");
  test::write_file(dir / "cut.pt", bytes.substr(0, bytes.size() / 2));
  EXPECT_EQ(kind(dir / "cut.pt"), ErrorKind::kBadData);
}

TEST(Checkpoint, WriteFailureLeavesPreviousFile) {
  TempDir dir;
  Classifier m = build_classifier("lenet5", ModelOptions{10});
  try {
    save_checkpoint(dir / "no/such/dir/x.pt", {}, state_dict_of(*m), nullptr);
    FAIL() << "saved into a missing directory";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kIO);
  }
}

TEST(Checkpoint, DiskFullLeavesPreviousFileAndNoTemporary) {
  // A file-size limit makes the write fail part way (EFBIG), as a full disk does (ENOSPC); it is
  // set in a child so that the test process keeps its limits.
  TempDir dir;
  const std::string path = dir / "last.pt";
  Classifier m = build_classifier("lenet5", ModelOptions{10});
  save_checkpoint(path, {{"generation", 1}}, state_dict_of(*m), nullptr);
  const std::string before = test::read_file(path);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit limit = {256 * 1024, 256 * 1024};  // the big save needs 4 MiB
    ::setrlimit(RLIMIT_FSIZE, &limit);
    const StateDict big = {{"w", torch::randn({1 << 20})}};
    try {
      save_checkpoint(path, {{"generation", 2}}, big, nullptr);
    } catch (const Error& e) {
      ::_exit(e.kind() == ErrorKind::kIO && exit_code(e) == 74 ? 0 : 2);
    } catch (...) {
      ::_exit(3);
    }
    ::_exit(1);  // the save claimed success
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: no error, 2: wrong kind, 3: not a zoo::Error";
  EXPECT_EQ(test::read_file(path), before);
  EXPECT_EQ(load_checkpoint(path).meta["generation"].get<int>(), 1);
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    ++entries;
    EXPECT_EQ(e.path().filename(), "last.pt") << "left behind: " << e.path();
  }
  EXPECT_EQ(entries, 1);
}

TEST(Checkpoint, KilledWriterNeverLeavesHalfFile) {
  TempDir dir;
  const std::string path = dir / "last.pt";
  // A big model makes each save take a while, so the kill lands mid-write.
  Classifier m = build_classifier("lenet5", ModelOptions{10});
  save_checkpoint(path, {{"model", "lenet5"}, {"generation", 0}}, state_dict_of(*m), nullptr);
  const StateDict big = {{"w", torch::randn({4 << 20})}};  // 16 MiB per save
  auto inode = [&] {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? st.st_ino : ino_t{0};
  };
  for (int round = 0; round < 3; ++round) {
    const ino_t before = inode();
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      for (int g = 1;; ++g) save_checkpoint(path, {{"generation", g}}, big, nullptr, false);
    }
    // Wait for one save to land (a rename gives the name a new inode), then kill the writer at
    // a different point of a later save each round, however loaded the machine is.
    for (int i = 0; i < 6000 && inode() == before; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + 45 * round));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    Checkpoint c = load_checkpoint(path);  // whichever generation it is, it is whole
    EXPECT_TRUE(c.meta.contains("generation"));
  }
  // The killed writers' temporaries are the only debris; the final name was never torn.
  EXPECT_GT(load_checkpoint(path).meta["generation"].get<int>(), 0);
}

}  // namespace
}  // namespace zoo
