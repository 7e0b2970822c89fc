// The trainer end to end on a small synthetic MNIST-layout dataset: it learns, writes the run
// directory, resumes exactly (bit-identical weights after a stop at an epoch boundary and
// after a signal mid-epoch), and stops on a non-finite loss.
#include "app/engine/checkpoint.h"
#include "app/engine/signals.h"
#include "app/engine/trainer.h"
#include "common/error.h"
#include "models/registry.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <csignal>
#include <fstream>
#include <map>
#include <thread>

namespace zoo {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

TrainConfig small_config(const TempDir& dir, const std::string& name) {
  TrainConfig c;
  c.model = "lenet5";
  c.data = (dir.path() / "data").string();
  c.epochs = 2;
  c.batch_size = 32;
  c.lr = 0.02;
  c.seed = 7;
  c.threads = 1;
  c.workers = 2;
  c.name = name;
  c.runs_dir = (dir.path() / "runs").string();
  c.quiet = true;
  return c;
}

void expect_same_weights(const std::string& a, const std::string& b) {
  Checkpoint ca = load_checkpoint(a), cb = load_checkpoint(b);
  ASSERT_EQ(ca.model.size(), cb.model.size());
  for (size_t i = 0; i < ca.model.size(); ++i) {
    EXPECT_TRUE(torch::equal(ca.model[i].second, cb.model[i].second)) << ca.model[i].first;
  }
}

class TrainerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    test::write_synthetic_idx(dir_->path() / "data", 3000, 500, 10);
  }
  static void TearDownTestSuite() { delete dir_; }
  static TempDir* dir_;
};
TempDir* TrainerTest::dir_ = nullptr;

TEST_F(TrainerTest, LearnsAndWritesRunDirectory) {
  TrainSummary s = train(small_config(*dir_, "learn"));
  EXPECT_EQ(s.epochs_done, 2);
  EXPECT_GT(s.final_metrics["val_top1"].get<double>(), 0.9);
  const fs::path run = s.run_dir;
  for (const char* f : {"config.json", "metrics.jsonl", "train.log", "labels.txt",
                        "checkpoints/last.pt", "checkpoints/best.pt"}) {
    EXPECT_TRUE(fs::is_regular_file(run / f)) << f;
  }
  std::ifstream metrics(run / "metrics.jsonl");
  int rows = 0;
  for (std::string line; std::getline(metrics, line); ++rows) {
    auto row = nlohmann::json::parse(line);
    for (const char* key : {"epoch", "step", "lr", "train_loss", "train_top1", "val_loss",
                            "val_top1", "val_top5", "images_per_s"}) {
      EXPECT_TRUE(row.contains(key)) << key;
    }
  }
  EXPECT_EQ(rows, 2);
  // A second run of the same name is refused rather than overwriting.
  try {
    train(small_config(*dir_, "learn"));
    FAIL() << "overwrote a run";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUsage);
  }
}

TEST_F(TrainerTest, ResumeAtEpochBoundaryIsBitIdentical) {
  // Extending a finished 1-epoch run to 2 epochs changes a cosine plan, so this test uses the
  // constant schedule; the signal test below resumes a cosine run under an unchanged plan.
  TrainConfig reference = small_config(*dir_, "full");
  reference.schedule = "constant";
  TrainSummary full = train(reference);
  TrainConfig first = small_config(*dir_, "split");
  first.schedule = "constant";
  first.epochs = 1;
  TrainSummary half = train(first);
  TrainSummary rest = resume(half.run_dir, 2);
  EXPECT_EQ(rest.epochs_done, 2);
  expect_same_weights(full.run_dir + "/checkpoints/last.pt", rest.run_dir + "/checkpoints/last.pt");
  EXPECT_EQ(full.final_metrics["val_top1"], rest.final_metrics["val_top1"]);
}

TEST_F(TrainerTest, SignalMidEpochSavesAndResumesExactly) {
  // Six epochs (~2 s here) so that the signal at 300 ms lands well inside the run.
  TrainConfig reference = small_config(*dir_, "ref");
  reference.epochs = 6;
  TrainSummary full = train(reference);
  install_stop_handlers();
  clear_stop_request();
  std::thread killer([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    std::raise(SIGINT);
  });
  TrainConfig c = small_config(*dir_, "interrupted");
  c.epochs = 6;
  try {
    train(c);
    killer.join();
    FAIL() << "the run finished before the signal; make the dataset larger";
  } catch (const Error& e) {
    killer.join();
    EXPECT_EQ(e.kind(), ErrorKind::kInterrupted);
    EXPECT_EQ(exit_code(e), 130);
  }
  clear_stop_request();
  const std::string run = c.runs_dir + "/interrupted";
  Checkpoint stopped = load_checkpoint(run + "/checkpoints/last.pt");
  const auto pos = stopped.meta["position"];
  EXPECT_TRUE(pos["epoch"].get<int64_t>() > 0 || pos["batch"].get<int64_t>() > 0);
  TrainSummary rest = resume(run, std::nullopt);
  expect_same_weights(full.run_dir + "/checkpoints/last.pt", run + "/checkpoints/last.pt");
  EXPECT_EQ(full.final_metrics["val_top1"], rest.final_metrics["val_top1"]);
}

TEST_F(TrainerTest, AuxHeadsAreTrained) {
  TrainConfig c = small_config(*dir_, "aux");
  test::write_synthetic_idx(dir_->path() / "tiny", 128, 32, 10);  // GoogLeNet is slow here
  c.data = (dir_->path() / "tiny").string();
  c.model = "googlenet";
  c.input_size = 32;  // 28x28 gray samples padded to 32 and replicated to RGB
  c.aux_logits = true;
  c.epochs = 1;
  c.threads = 2;
  TrainSummary s = train(c);
  Checkpoint ckpt = load_checkpoint(s.run_dir + "/checkpoints/last.pt");
  EXPECT_TRUE(ckpt.meta["model_options"]["aux_logits"].get<bool>());
  // The trainer seeds before building, so a model built the same way holds the initial weights:
  // the aux heads moved away from them, i.e. their loss reached them.
  torch::manual_seed(c.seed);
  ModelOptions o;
  o.num_classes = 10;
  o.input_size = 32;
  o.aux_logits = true;
  Classifier initial = build_classifier("googlenet", o);
  std::map<std::string, torch::Tensor> trained(ckpt.model.begin(), ckpt.model.end());
  for (const auto& kv : state_dict_of(*initial)) {
    if (kv.first == "aux1.fc2.weight" || kv.first == "aux2.fc2.weight") {
      ASSERT_TRUE(trained.count(kv.first));
      EXPECT_FALSE(torch::equal(kv.second, trained[kv.first])) << kv.first << " never trained";
    }
  }
}

TEST_F(TrainerTest, NonFiniteLossStops) {
  TrainConfig c = small_config(*dir_, "diverge");
  c.lr = 1e6;
  try {
    train(c);
    FAIL() << "a diverging run finished";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kBadData);
    EXPECT_NE(std::string(e.what()).find("loss became"), std::string::npos);
  }
}

TEST(TrainConfigTest, Schedules) {
  TrainConfig c;
  c.lr = 0.1;
  c.schedule = "constant";
  EXPECT_DOUBLE_EQ(scheduled_lr(c, 0, 100), 0.1);
  EXPECT_DOUBLE_EQ(scheduled_lr(c, 99, 100), 0.1);
  c.schedule = "cosine";
  EXPECT_DOUBLE_EQ(scheduled_lr(c, 0, 100), 0.1);
  EXPECT_NEAR(scheduled_lr(c, 50, 100), 0.05, 1e-15);           // half way: lr / 2
  EXPECT_NEAR(scheduled_lr(c, 25, 100), 0.1 * (1 + std::sqrt(0.5)) / 2, 1e-15);
  EXPECT_NEAR(scheduled_lr(c, 100, 100), 0.0, 1e-15);
  c.schedule = "linear";
  EXPECT_THROW(validate(c), Error);
}

TEST(TrainConfigTest, ValidationNamesTheFlag) {
  TrainConfig c;
  c.lr = -1;
  try {
    validate(c);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUsage);
    EXPECT_NE(std::string(e.what()).find("--lr"), std::string::npos);
  }
  c = TrainConfig{};
  c.batch_size = 0;
  EXPECT_THROW(validate(c), Error);
  // The JSON form round-trips every field.
  TrainConfig d;
  d.epochs = 3;
  d.name = "x";
  EXPECT_EQ(to_json(train_config_from_json(to_json(d))), to_json(d));
}

}  // namespace
}  // namespace zoo
