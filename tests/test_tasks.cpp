// The task seam: a second task, written here, trains through the same trainer as the
// classifiers. TinyLm is a character-level GRU over synthetic text, fed by the stream batcher,
// that carries its hidden state from batch to batch (truncated BPTT). The tests show that the
// trainer picks its best checkpoint by a lower-is-better metric, that a run interrupted by
// SIGINT mid-epoch resumes bit-identically with the hidden state restored (and not without
// it), that the stream batcher keeps its streams contiguous and resumable, and that the
// per-token loss of padded batches does not depend on the padding.
#include "app/engine/checkpoint.h"
#include "app/engine/signals.h"
#include "app/engine/tasks/token_loss.h"
#include "app/engine/trainer.h"
#include "common/error.h"
#include "data/stream_batcher.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>

#include <cmath>
#include <csignal>
#include <fstream>
#include <random>
#include <set>

namespace zoo {
namespace {

using test::TempDir;

constexpr int64_t kVocab = 12;

// A sequence with structure to learn: mostly "next symbol", sometimes a skip.
torch::Tensor synthetic_text(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto t = torch::empty({n}, torch::kInt64);
  auto* p = t.data_ptr<int64_t>();
  p[0] = 0;
  for (int64_t i = 1; i < n; ++i) p[i] = (p[i - 1] + 1 + (rng() % 8 == 0 ? 2 : 0)) % kVocab;
  return t;
}

struct TinyLmImpl : torch::nn::Module {
  TinyLmImpl() {
    embed = register_module("embed", torch::nn::Embedding(kVocab, 16));
    rnn = register_module("rnn", torch::nn::GRU(torch::nn::GRUOptions(16, 32).batch_first(true)));
    head = register_module("head", torch::nn::Linear(32, kVocab));
  }
  // B x T tokens, 1 x B x 32 state -> B x T x V logits and the new state.
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& x, const torch::Tensor& h) {
    auto [out, h_n] = rnn->forward(embed->forward(x), h);
    return {head->forward(out), h_n};
  }
  torch::nn::Embedding embed{nullptr};
  torch::nn::GRU rnn{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(TinyLm);

struct TinyLmOptions {
  bool restore_hidden = true;  // false: a task that forgets its carried state on resume
  int64_t interrupt_at_step = -1;  // raise SIGINT after the batch that makes this step
};

class TinyLmTask : public Task {
 public:
  TinyLmTask(TrainConfig& config, TinyLmOptions options)
      : options_(options),
        streams_(config.batch_size),
        train_(synthetic_text(20000, 1), {config.batch_size, 16, /*shift=*/true, config.seed}),
        val_(synthetic_text(4000, 2), {config.batch_size, 16, false, 0}) {
    if (config.data.empty()) config.data = "synthetic";
  }
  torch::nn::Module& module() override { return *model_; }
  BatchSource& train_data() override { return train_; }
  std::string describe() const override { return "tinylm on synthetic text"; }
  std::string validation_name() const override { return "val"; }
  std::vector<MetricSpec> metrics() const override {
    return {{"loss", "loss", Goal::kMin, MetricFormat::kDecimal, true},
            {"ppl", "perplexity", Goal::kMin, MetricFormat::kDecimal, false}};
  }
  std::string default_best_metric() const override { return "val_loss"; }
  std::string throughput_unit() const override { return "tokens"; }
  void begin_epoch(int64_t /*epoch*/, int64_t first_batch) override {
    if (first_batch == 0 || !options_.restore_hidden) hidden_ = torch::Tensor();
  }
  StepOutput train_step(const Batch& batch) override {
    auto [logits, h] = model_->forward(batch.inputs(), hidden());
    hidden_ = h.detach();  // truncated BPTT: the state goes on, its gradient stops here
    TokenLoss loss = token_cross_entropy(logits, batch.targets());
    StepOutput out;
    out.loss = loss.mean;
    out.sums.add("loss", loss.sum, double(loss.tokens));
    out.units = loss.tokens;
    if (++steps_ == options_.interrupt_at_step) std::raise(SIGINT);
    return out;
  }
  nlohmann::json validate(int64_t /*limit_batches*/) override {
    torch::NoGradGuard no_grad;
    model_->eval();
    torch::Tensor h = torch::zeros({1, streams_, 32});
    Sums sums;
    val_.start_epoch(0);
    while (auto batch = val_.next()) {
      auto [logits, next] = model_->forward(batch->inputs(), h);
      h = next;
      TokenLoss loss = token_cross_entropy(logits, batch->targets());
      sums.add("loss", loss.sum, double(loss.tokens));
    }
    model_->train();
    return {{"loss", sums.mean("loss")}, {"ppl", std::exp(sums.mean("loss"))}, {"skipped", 0}};
  }
  nlohmann::json checkpoint_meta() const override { return {{"vocab_size", kVocab}}; }
  TaskState state() const override {
    TaskState s;
    s.meta["steps"] = steps_;
    if (hidden_.defined()) s.tensors.emplace_back("hidden", hidden_);
    return s;
  }
  void load_state(const TaskState& s) override {
    steps_ = s.meta.value("steps", int64_t{0});
    for (const auto& [name, t] : s.tensors) {
      if (name == "hidden" && options_.restore_hidden) hidden_ = t.clone();
    }
  }

 private:
  torch::Tensor hidden() {
    if (!hidden_.defined()) hidden_ = torch::zeros({1, streams_, 32});
    return hidden_;
  }
  TinyLmOptions options_;
  int64_t streams_;
  TinyLm model_;
  StreamBatcher train_;
  StreamBatcher val_;
  torch::Tensor hidden_;
  int64_t steps_ = 0;
};

TaskFactory tiny_lm(TinyLmOptions options = {}) {
  return [options](TrainConfig& config, const TaskContext&) {
    return std::make_unique<TinyLmTask>(config, options);
  };
}

TrainConfig lm_config(const TempDir& dir, const std::string& name) {
  TrainConfig c;
  c.model = "tinylm";
  c.epochs = 3;
  c.batch_size = 8;  // streams
  c.optimizer = "adam";
  c.lr = 3e-3;
  c.weight_decay = 0.0;
  c.seed = 5;
  c.threads = 1;
  c.deterministic = true;
  c.name = name;
  c.runs_dir = (dir.path() / "runs").string();
  c.quiet = true;
  return c;
}

std::vector<nlohmann::json> epoch_rows(const std::string& run) {
  std::vector<nlohmann::json> rows;
  std::ifstream in(run + "/metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    auto row = nlohmann::json::parse(line);
    if (row["kind"] == "epoch") rows.push_back(row);
  }
  return rows;
}

void expect_same_state(const Checkpoint& a, const Checkpoint& b, bool equal = true) {
  ASSERT_EQ(a.model.size(), b.model.size());
  bool all = true;
  for (size_t i = 0; i < a.model.size(); ++i) all &= torch::equal(a.model[i].second, b.model[i].second);
  EXPECT_EQ(all, equal);
}

TEST(Tasks, SequenceTaskTrainsAndKeepsTheLowestLoss) {
  TempDir dir;
  TrainSummary s = train(lm_config(dir, "lm"), tiny_lm());
  EXPECT_EQ(s.best_metric, "val_loss");
  EXPECT_EQ(s.epochs_done, 3);
  const auto rows = epoch_rows(s.run_dir);
  ASSERT_EQ(rows.size(), 3u);
  // It learned: uniform guessing costs ln 12 = 2.48 nats a token; the text is nearly
  // deterministic (a skip in 8 steps), about 0.38 nats at best.
  EXPECT_LT(rows.back()["val_loss"].get<double>(), 0.8);
  for (const char* key : {"train_loss", "val_loss", "val_ppl", "tokens_per_s"}) {
    EXPECT_TRUE(rows.back().contains(key)) << key;
  }
  EXPECT_FALSE(rows.back().contains("train_ppl"));  // declared validation-only
  // best.pt holds the epoch with the lowest val_loss, not the highest.
  double lowest = 1e9;
  for (const auto& r : rows) lowest = std::min(lowest, r["val_loss"].get<double>());
  EXPECT_LT(lowest, rows.front()["val_loss"].get<double>());
  const Checkpoint best = load_checkpoint(s.run_dir + "/checkpoints/best.pt");
  EXPECT_EQ(best.meta["metrics"]["val_loss"].get<double>(), lowest);
  EXPECT_EQ(s.best, lowest);
  EXPECT_EQ(best.meta["vocab_size"], kVocab);  // the task's own metadata
  // metrics.csv's columns come from the declaration.
  std::ifstream csv(s.run_dir + "/metrics.csv");
  std::string header;
  std::getline(csv, header);
  EXPECT_EQ(header, "kind,epoch,step,lr,loss,tokens_per_s,elapsed,val_loss,val_ppl");
  // A metric the task does not declare is refused, naming the ones it has.
  TrainConfig bad = lm_config(dir, "bad");
  bad.best_metric = "val_top1";
  try {
    train(bad, tiny_lm());
    FAIL() << "val_top1 accepted for a language model";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUsage);
    EXPECT_NE(std::string(e.what()).find("val_ppl"), std::string::npos) << e.what();
  }
}

TEST(Tasks, SigintMidEpochResumesBitIdenticalWithCarriedState) {
  TempDir dir;
  TrainSummary full = train(lm_config(dir, "full"), tiny_lm());
  const Checkpoint reference = load_checkpoint(full.run_dir + "/checkpoints/last.pt");
  const int64_t per_epoch = StreamBatcher(synthetic_text(20000, 1), {8, 16, true, 5}).batches_per_epoch();
  const int64_t stop_at = per_epoch + 40;  // inside the second epoch
  install_stop_handlers();
  for (const bool restore_hidden : {true, false}) {
    SCOPED_TRACE(restore_hidden ? "hidden state restored" : "hidden state dropped");
    const std::string name = restore_hidden ? "stopped" : "forgetful";
    clear_stop_request();
    try {
      train(lm_config(dir, name), tiny_lm({restore_hidden, stop_at}));
      FAIL() << "the run was not interrupted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInterrupted);
    }
    clear_stop_request();
    const std::string run = (dir.path() / "runs" / name).string();
    const Checkpoint stopped = load_checkpoint(run + "/checkpoints/last.pt");
    EXPECT_EQ(stopped.meta["position"]["epoch"], 1);
    EXPECT_EQ(stopped.meta["position"]["batch"], 40);
    ASSERT_EQ(stopped.task_state.size(), 1u);  // the hidden state went into the checkpoint
    EXPECT_EQ(stopped.task_state[0].first, "hidden");
    TrainSummary rest = resume(run, {}, tiny_lm({restore_hidden, -1}));
    const Checkpoint resumed = load_checkpoint(run + "/checkpoints/last.pt");
    // Restored, the run ends bit-identical to the uninterrupted one; a task that drops its
    // carried state on resume ends elsewhere, so the restore is what makes it exact.
    expect_same_state(reference, resumed, restore_hidden);
    EXPECT_EQ(rest.final_metrics["val_loss"] == full.final_metrics["val_loss"], restore_hidden);
    if (restore_hidden) {
      EXPECT_EQ(rest.final_metrics["train_loss"], full.final_metrics["train_loss"]);
      ASSERT_EQ(resumed.task_state.size(), 1u);
      EXPECT_TRUE(torch::equal(resumed.task_state[0].second, reference.task_state[0].second));
    }
  }
}

TEST(Tasks, StreamBatcherKeepsStreamsContiguousAndResumable) {
  const auto text = torch::arange(1000, torch::kInt64);
  StreamBatcher streams(text, {4, 10, /*shift=*/false, 0});
  EXPECT_EQ(streams.stream_length(), 250);
  EXPECT_EQ(streams.batches_per_epoch(), 25);  // 249 predictions per stream in steps of 10
  streams.start_epoch(0);
  std::vector<Batch> batches;
  while (auto b = streams.next()) batches.push_back(*b);
  ASSERT_EQ(batches.size(), 25u);
  for (size_t i = 0; i < batches.size(); ++i) {
    const auto& in = batches[i].inputs();
    EXPECT_TRUE(torch::equal(batches[i].targets(), in + 1));  // next token
    EXPECT_EQ(in[2][0].item<int64_t>(), 500 + 10 * int64_t(i));  // stream 2 starts at 500
    if (i > 0) {  // row b continues row b of the previous batch
      const auto& prev = batches[i - 1].inputs();
      EXPECT_TRUE(torch::equal(in.select(1, 0), prev.select(1, prev.size(1) - 1) + 1));
    }
  }
  EXPECT_EQ(batches.back().inputs().size(1), 9);  // the short last batch
  // Starting at batch 7 gives the same batches from there.
  streams.start_epoch(0, 7);
  auto b7 = streams.next();
  ASSERT_TRUE(b7);
  EXPECT_EQ(b7->index(), 7);
  EXPECT_TRUE(torch::equal(b7->inputs(), batches[7].inputs()));
  // With shift, epochs start at different offsets in [0, T) and keep the batch count.
  StreamBatcher shifted(text, {4, 10, /*shift=*/true, 3});
  std::set<int64_t> offsets;
  for (int64_t e = 0; e < 8; ++e) {
    offsets.insert(shifted.offset(e));
    EXPECT_LT(shifted.offset(e), 10);
    shifted.start_epoch(e);
    int64_t n = 0;
    while (auto b = shifted.next()) {
      if (n == 0) {
        EXPECT_EQ(b->inputs()[0][0].item<int64_t>(), shifted.offset(e));
      }
      ++n;
    }
    EXPECT_EQ(n, shifted.batches_per_epoch());
  }
  EXPECT_GT(offsets.size(), 1u);
  EXPECT_EQ(test::kind_of([&] { StreamBatcher(torch::arange(7, torch::kInt64), {4, 10, false, 0}); }),
            ErrorKind::kBadData);
}

TEST(Tasks, PerTokenLossDoesNotDependOnPadding) {
  torch::manual_seed(3);
  torch::nn::Embedding embed(kVocab, 8);
  torch::nn::Linear head(8, kVocab);
  const std::vector<torch::Tensor> sequences = {
      torch::tensor({1, 2, 3, 4, 5, 6, 7}, torch::kInt64), torch::tensor({3, 4}, torch::kInt64),
      torch::tensor({9, 10, 11, 0}, torch::kInt64)};
  // A per-position model: what it predicts at a real token does not see the padding.
  auto loss_of = [&](const Batch& b) {
    const auto inputs = b.inputs();
    auto targets = (inputs + 1).remainder(kVocab);
    return token_cross_entropy(head->forward(embed->forward(inputs)), targets, b.get(kMask));
  };
  const Batch tight = pad_sequences(sequences);
  const Batch loose = pad_sequences(sequences, /*pad=*/0, /*min_length=*/20);
  EXPECT_EQ(tight.inputs().size(1), 7);
  EXPECT_EQ(loose.inputs().size(1), 20);
  EXPECT_TRUE(torch::equal(loose.get(kLengths), torch::tensor({7, 2, 4}, torch::kInt64)));
  const TokenLoss a = loss_of(tight), b = loss_of(loose);
  EXPECT_EQ(a.tokens, 13);
  EXPECT_EQ(b.tokens, 13);
  EXPECT_NEAR(a.sum, b.sum, 1e-5);
  EXPECT_NEAR(a.mean.item<double>(), b.mean.item<double>(), 1e-6);
  // Running sums over two batches average per token: the long sequence weighs 7 tokens, not
  // one sample's share.
  const TokenLoss first = loss_of(pad_sequences({sequences[0]}));
  const TokenLoss rest = loss_of(pad_sequences({sequences[1], sequences[2]}, 0, 30));
  Sums sums;
  sums.add("loss", first.sum, double(first.tokens));
  sums.add("loss", rest.sum, double(rest.tokens));
  EXPECT_NEAR(sums.mean("loss"), a.mean.item<double>(), 1e-6);
  const double per_batch_mean = (first.mean.item<double>() + rest.mean.item<double>()) / 2;
  EXPECT_GT(std::abs(per_batch_mean - sums.mean("loss")), 1e-4);  // the measure differs
  // The gradient ignores padding too.
  auto grads = [&](const Batch& batch) {
    embed->zero_grad();
    loss_of(batch).mean.backward();
    return embed->weight.grad().clone();
  };
  EXPECT_TRUE(torch::allclose(grads(tight), grads(loose), 1e-6, 1e-7));
}

}  // namespace
}  // namespace zoo
