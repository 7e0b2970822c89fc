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
#include <algorithm>
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
  for (const char* f : {"metrics.csv", "curves.png"}) EXPECT_TRUE(fs::is_regular_file(run / f)) << f;
  std::ifstream metrics(run / "metrics.jsonl");
  int epoch_rows = 0, step_rows = 0;
  int64_t last_step = 0;
  for (std::string line; std::getline(metrics, line);) {
    auto row = nlohmann::json::parse(line);
    const bool epoch = row.at("kind") == "epoch";
    (epoch ? epoch_rows : step_rows) += 1;
    const auto keys = epoch ? std::vector<const char*>{"epoch", "step", "lr", "train_loss",
                                                       "train_top1", "val_loss", "val_top1",
                                                       "val_top5", "images_per_s", "elapsed"}
                            : std::vector<const char*>{"epoch", "step", "lr", "loss", "top1",
                                                       "images_per_s", "elapsed"};
    for (const char* key : keys) EXPECT_TRUE(row.contains(key)) << key << " in " << line;
    EXPECT_GE(row["step"].get<int64_t>(), last_step);
    last_step = row["step"];
  }
  EXPECT_EQ(epoch_rows, 2);
  EXPECT_EQ(step_rows, 2 * 94);  // one per optimizer step: 3000 / 32 = 94 batches an epoch
  // metrics.csv: the documented header, then one line per JSON row with as many fields.
  std::ifstream csv(run / "metrics.csv");
  std::string header;
  std::getline(csv, header);
  EXPECT_EQ(header, "kind,epoch,step,lr,loss,top1,images_per_s,elapsed,val_loss,val_top1,val_top5");
  int csv_rows = 0;
  for (std::string line; std::getline(csv, line); ++csv_rows) {
    EXPECT_EQ(std::count(line.begin(), line.end(), ','), 10) << line;
  }
  EXPECT_EQ(csv_rows, epoch_rows + step_rows);
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
  TrainSummary rest = resume(half.run_dir, {{"epochs", 2}});
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
  TrainSummary rest = resume(run);
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

Checkpoint last_of(const std::string& run) { return load_checkpoint(run + "/checkpoints/last.pt"); }

TEST_F(TrainerTest, AccumulationEqualsTheLargerBatch) {
  // The loader's order does not depend on the batch size, so two accumulated batches of 16 are
  // the samples of one batch of 32: the weights agree up to float summation order.
  TrainConfig big = small_config(*dir_, "batch32");
  big.epochs = 1;
  big.limit_batches = 20;
  big.schedule = "constant";
  big.momentum = 0.0;
  TrainConfig acc = big;
  acc.name = "batch16x2";
  acc.batch_size = 16;
  acc.accumulate = 2;
  acc.limit_batches = 40;
  TrainSummary a = train(big), b = train(acc);
  EXPECT_EQ(a.steps_done, 20);
  EXPECT_EQ(b.steps_done, 20);
  Checkpoint ca = last_of(a.run_dir), cb = last_of(b.run_dir);
  for (size_t i = 0; i < ca.model.size(); ++i) {
    EXPECT_TRUE(torch::allclose(ca.model[i].second, cb.model[i].second, 1e-4, 1e-5)) << ca.model[i].first;
  }
  // And accumulation is not a no-op: one batch of 16 per step moves elsewhere.
  TrainConfig small = acc;
  small.name = "batch16";
  small.accumulate = 1;
  small.limit_batches = 20;
  Checkpoint cs = last_of(train(small).run_dir);
  EXPECT_FALSE(torch::allclose(ca.model[0].second, cs.model[0].second, 1e-4, 1e-5));
}

TEST_F(TrainerTest, MaxStepsStopsMidEpochAndResumesExactly) {
  TrainConfig full = small_config(*dir_, "steps10");
  full.epochs = 3;
  full.limit_batches = 5;
  full.max_steps = 10;
  full.schedule = "constant";
  full.deterministic = true;
  TrainSummary a = train(full);
  EXPECT_EQ(a.steps_done, 10);
  EXPECT_EQ(a.epochs_done, 2);
  EXPECT_EQ(a.stop_reason, "max_steps");
  TrainConfig part = full;
  part.name = "steps7";
  part.max_steps = 7;
  TrainSummary b = train(part);
  EXPECT_EQ(b.steps_done, 7);
  EXPECT_TRUE(b.final_metrics.value("partial", false));
  const auto pos = last_of(b.run_dir).meta["position"];
  EXPECT_EQ(pos["epoch"], 1);
  EXPECT_EQ(pos["batch"], 2);
  // Resuming an ended run does nothing; raising --max-steps continues it.
  EXPECT_TRUE(resume(b.run_dir).final_metrics.is_null());
  TrainSummary c = resume(b.run_dir, {{"max_steps", 10}});
  EXPECT_EQ(c.steps_done, 10);
  expect_same_weights(a.run_dir + "/checkpoints/last.pt", b.run_dir + "/checkpoints/last.pt");
  // Anything but the plan is refused on resume.
  EXPECT_THROW(resume(b.run_dir, {{"lr", 0.5}}), Error);
}

TEST_F(TrainerTest, EarlyStoppingOnPatience) {
  TrainConfig c = small_config(*dir_, "patience");
  c.epochs = 6;
  c.limit_batches = 2;
  c.lr = 1e-9;  // the model cannot improve
  c.patience = 2;
  c.best_metric = "val_loss";
  TrainSummary s = train(c);
  EXPECT_EQ(s.stop_reason, "patience");
  EXPECT_LT(s.epochs_done, 6);
  const auto pos = last_of(s.run_dir).meta["position"];
  EXPECT_GE(s.epochs_done - pos["best_epoch"].get<int64_t>(), 2);
}

TEST_F(TrainerTest, ClippingBoundsTheUpdate) {
  // Plain SGD for one step moves the weights by lr * (clipped gradient): norm <= lr * clip.
  TrainConfig c = small_config(*dir_, "clip");
  c.max_steps = 1;
  c.momentum = 0.0;
  c.weight_decay = 0.0;
  c.schedule = "constant";
  c.lr = 0.5;
  c.clip_grad_norm = 0.01;
  torch::manual_seed(c.seed);
  Classifier initial = build_classifier("lenet5", ModelOptions{10, 1, 28});
  const StateDict initial_weights = state_dict_of(*initial);
  const std::map<std::string, torch::Tensor> before(initial_weights.begin(), initial_weights.end());
  auto moved = [&](const std::string& run) {
    double sq = 0.0;
    for (const auto& kv : last_of(run).model) sq += (kv.second - before.at(kv.first)).pow(2).sum().item<double>();
    return std::sqrt(sq);
  };
  const double clipped = moved(train(c).run_dir);
  EXPECT_LE(clipped, 0.5 * 0.01 * 1.0001);
  EXPECT_GT(clipped, 0.5 * 0.01 * 0.99);  // the raw gradient is far larger, so the clip binds
  c.name = "noclip";
  c.clip_grad_norm = 0.0;
  EXPECT_GT(moved(train(c).run_dir), 0.5 * 0.01 * 10);
}

TEST_F(TrainerTest, Bf16ChannelsLastAdamWLearns) {
  TrainConfig c = small_config(*dir_, "bf16");
  c.epochs = 1;
  c.precision = "bf16";
  c.channels_last = true;
  c.optimizer = "adamw";
  c.lr = 2e-3;
  c.weight_decay = 0.05;
  c.wd_skip_norm_bias = true;
  c.label_smoothing = 0.1;
  c.warmup_epochs = 0.2;
  TrainSummary s = train(c);
  EXPECT_GT(s.final_metrics["val_top1"].get<double>(), 0.85);
  Checkpoint ckpt = last_of(s.run_dir);
  for (const auto& kv : ckpt.model) EXPECT_EQ(kv.second.scalar_type(), torch::kFloat) << kv.first;
}

TEST_F(TrainerTest, OnecyclePlateauRmspropAdamRun) {
  // Every optimizer and schedule runs end to end inside the trainer and resumes its state.
  for (auto [optimizer, schedule] : {std::pair{"rmsprop", "onecycle"}, {"adam", "plateau"},
                                     {"sgd", "multistep"}, {"sgd", "step"}}) {
    TrainConfig c = small_config(*dir_, std::string(optimizer) + "-" + schedule);
    c.optimizer = optimizer;
    c.schedule = schedule;
    c.lr = std::string(optimizer) == "sgd" ? 0.05 : 1e-3;
    c.milestones = {1};
    c.step_size = 1;
    c.plateau_patience = 1;
    c.limit_batches = 50;
    c.epochs = 2;
    c.nesterov = std::string(optimizer) == "sgd";
    TrainSummary s = train(c);
    EXPECT_GT(s.final_metrics["val_top1"].get<double>(), 0.5) << optimizer << " " << schedule;
    if (std::string(schedule) != "onecycle" && std::string(schedule) != "plateau") {
      EXPECT_NEAR(s.final_metrics["lr"].get<double>(), c.lr * 0.1, 1e-12) << schedule;
    }
  }
}

}  // namespace
}  // namespace zoo
