// Optimizers and learning-rate schedules against values computed by hand from the published
// update rules (PyTorch's documentation of SGD, Adam, AdamW, RMSprop, OneCycleLR,
// ReduceLROnPlateau), a few steps each, in float64 so the comparison can be tight.
#include "app/engine/optim.h"
#include "app/engine/schedule.h"
#include "common/error.h"

#include <gtest/gtest.h>
#include <torch/nn/module.h>

#include <cmath>

namespace zoo {
namespace {

// One 2-D weight (decayed) and one 1-D bias (exempt with --wd-skip-norm-bias).
struct Toy : torch::nn::Module {
  Toy() {
    w = register_parameter("w", torch::tensor({{1.0, -2.0}}, torch::kFloat64));
    b = register_parameter("b", torch::tensor({0.5}, torch::kFloat64));
  }
  torch::Tensor w, b;
};

TrainConfig opt_config(const std::string& name) {
  TrainConfig c;
  c.optimizer = name;
  c.lr = 0.1;
  c.momentum = 0.9;
  c.weight_decay = 0.01;
  return c;
}

// Runs `steps` steps with the gradient of 0.5 * ||w||^2 (i.e. grad = w) and returns w[0][0].
double run_steps(const TrainConfig& c, int steps) {
  Toy toy;
  auto opt = make_optimizer(c, toy);
  for (int i = 0; i < steps; ++i) {
    opt->zero_grad();
    (0.5 * toy.w.pow(2).sum() + 0.5 * toy.b.pow(2).sum()).backward();
    opt->step();
  }
  return toy.w[0][0].item<double>();
}

TEST(Optimizers, SgdMomentumByHand) {
  // d = g + wd p; buf = d (step 1) or 0.9 buf + d; p -= lr buf. With g = p.
  double p = 1.0, buf = 0.0;
  for (int t = 1; t <= 3; ++t) {
    const double d = p + 0.01 * p;
    buf = t == 1 ? d : 0.9 * buf + d;
    p -= 0.1 * buf;
  }
  EXPECT_NEAR(run_steps(opt_config("sgd"), 3), p, 1e-12);
  EXPECT_NEAR(p, 0.481324499, 1e-9);  // the same three steps on paper
}

TEST(Optimizers, SgdNesterovByHand) {
  TrainConfig c = opt_config("sgd");
  c.nesterov = true;
  double p = 1.0, buf = 0.0;
  for (int t = 1; t <= 3; ++t) {
    const double d = p + 0.01 * p;
    buf = t == 1 ? d : 0.9 * buf + d;
    p -= 0.1 * (d + 0.9 * buf);
  }
  EXPECT_NEAR(run_steps(c, 3), p, 1e-12);
}

TEST(Optimizers, AdamByHand) {
  TrainConfig c = opt_config("adam");
  double p = 1.0, m = 0.0, v = 0.0;
  for (int t = 1; t <= 3; ++t) {
    const double g = p + 0.01 * p;  // L2: decay joins the gradient
    m = 0.9 * m + 0.1 * g;
    v = 0.999 * v + 0.001 * g * g;
    const double mhat = m / (1 - std::pow(0.9, t)), vhat = v / (1 - std::pow(0.999, t));
    p -= 0.1 * mhat / (std::sqrt(vhat) + 1e-8);
  }
  EXPECT_NEAR(run_steps(c, 3), p, 1e-12);
}

TEST(Optimizers, AdamWByHand) {
  TrainConfig c = opt_config("adamw");
  double p = 1.0, m = 0.0, v = 0.0;
  for (int t = 1; t <= 3; ++t) {
    const double g = p;
    p *= 1 - 0.1 * 0.01;  // decoupled decay first
    m = 0.9 * m + 0.1 * g;
    v = 0.999 * v + 0.001 * g * g;
    const double mhat = m / (1 - std::pow(0.9, t)), vhat = v / (1 - std::pow(0.999, t));
    p -= 0.1 * mhat / (std::sqrt(vhat) + 1e-8);
  }
  EXPECT_NEAR(run_steps(c, 3), p, 1e-12);
}

TEST(Optimizers, RmspropByHand) {
  TrainConfig c = opt_config("rmsprop");
  double p = 1.0, sq = 0.0, buf = 0.0;
  for (int t = 1; t <= 3; ++t) {
    const double g = p + 0.01 * p;
    sq = 0.99 * sq + 0.01 * g * g;
    buf = 0.9 * buf + g / (std::sqrt(sq) + 1e-8);
    p -= 0.1 * buf;
  }
  EXPECT_NEAR(run_steps(c, 3), p, 1e-12);
}

TEST(Optimizers, WeightDecaySkipsNormAndBias) {
  TrainConfig c = opt_config("sgd");
  Toy toy;
  EXPECT_EQ(group_weight_decays(*make_optimizer(c, toy)), std::vector<double>({0.01}));
  c.wd_skip_norm_bias = true;
  auto opt = make_optimizer(c, toy);
  EXPECT_EQ(group_weight_decays(*opt), std::vector<double>({0.01, 0.0}));
  ASSERT_EQ(opt->param_groups()[1].params().size(), 1u);
  EXPECT_TRUE(opt->param_groups()[1].params()[0].is_same(toy.b));
  set_lr(*opt, 0.5);
  for (auto& g : opt->param_groups()) EXPECT_EQ(g.options().get_lr(), 0.5);
}

TrainConfig schedule_config(const std::string& name) {
  TrainConfig c;
  c.schedule = name;
  c.lr = 1.0;
  c.epochs = 10;
  return c;
}

TEST(Schedules, ConstantCosineStepMultistep) {
  LrSchedule constant(schedule_config("constant"), 10);
  EXPECT_EQ(constant.total_steps(), 100);
  EXPECT_DOUBLE_EQ(constant.lr(0), 1.0);
  EXPECT_DOUBLE_EQ(constant.lr(99), 1.0);

  TrainConfig cos = schedule_config("cosine");
  LrSchedule cosine(cos, 10);
  EXPECT_DOUBLE_EQ(cosine.lr(0), 1.0);
  EXPECT_NEAR(cosine.lr(25), (1 + std::sqrt(0.5)) / 2, 1e-15);
  EXPECT_NEAR(cosine.lr(50), 0.5, 1e-15);
  EXPECT_NEAR(cosine.lr(100), 0.0, 1e-15);
  cos.min_lr = 0.1;
  EXPECT_NEAR(LrSchedule(cos, 10).lr(50), 0.55, 1e-15);

  TrainConfig st = schedule_config("step");
  st.step_size = 2;
  LrSchedule step(st, 10);
  EXPECT_DOUBLE_EQ(step.lr(19), 1.0);
  EXPECT_NEAR(step.lr(20), 0.1, 1e-15);
  EXPECT_NEAR(step.lr(45), 0.01, 1e-15);

  TrainConfig ms = schedule_config("multistep");
  ms.milestones = {3, 5};
  ms.gamma = 0.5;
  LrSchedule multistep(ms, 10);
  EXPECT_DOUBLE_EQ(multistep.lr(29), 1.0);
  EXPECT_DOUBLE_EQ(multistep.lr(30), 0.5);
  EXPECT_DOUBLE_EQ(multistep.lr(49), 0.5);
  EXPECT_DOUBLE_EQ(multistep.lr(50), 0.25);
}

TEST(Schedules, WarmupThenMainScheduleShifted) {
  TrainConfig c = schedule_config("cosine");
  c.warmup_epochs = 1;
  c.warmup_factor = 0.1;
  LrSchedule s(c, 10);
  EXPECT_EQ(s.warmup_steps(), 10);
  EXPECT_DOUBLE_EQ(s.lr(0), 0.1);
  EXPECT_NEAR(s.lr(5), 0.55, 1e-15);   // 0.1 + 0.9 * 5/10
  EXPECT_DOUBLE_EQ(s.lr(10), 1.0);     // cosine starts at the end of warmup
  EXPECT_NEAR(s.lr(55), 0.5, 1e-15);   // half of the remaining 90 steps
  // A fractional warmup rounds to whole steps; step decays count epochs after warmup.
  TrainConfig st = schedule_config("step");
  st.warmup_epochs = 0.5;
  st.step_size = 1;
  LrSchedule step(st, 10);
  EXPECT_EQ(step.warmup_steps(), 5);
  EXPECT_DOUBLE_EQ(step.lr(14), 1.0);
  EXPECT_NEAR(step.lr(15), 0.1, 1e-15);
}

TEST(Schedules, OneCycleMatchesPyTorchFormula) {
  TrainConfig c = schedule_config("onecycle");  // 100 steps, pct 0.3
  LrSchedule s(c, 10);
  auto anneal = [](double a, double b, double pct) { return b + (a - b) / 2 * (std::cos(M_PI * pct) + 1); };
  EXPECT_NEAR(s.lr(0), 0.04, 1e-15);                    // max_lr / 25
  EXPECT_NEAR(s.lr(10), anneal(0.04, 1.0, 10.0 / 29.0), 1e-15);
  EXPECT_NEAR(s.lr(29), 1.0, 1e-15);                    // peak at pct * total - 1
  EXPECT_NEAR(s.lr(64), anneal(1.0, 4e-6, 0.5), 1e-15);  // half way down
  EXPECT_NEAR(s.lr(99), 4e-6, 1e-15);                   // initial / 1e4
}

TEST(Schedules, PlateauDecaysAfterPatienceAndRoundTrips) {
  TrainConfig c = schedule_config("plateau");
  c.plateau_patience = 2;
  c.gamma = 0.5;
  c.min_lr = 0.2;
  LrSchedule s(c, 10);
  EXPECT_FALSE(s.observe(0.50, Goal::kMax));   // first value: the best
  EXPECT_FALSE(s.observe(0.60, Goal::kMax));   // better
  EXPECT_FALSE(s.observe(0.60, Goal::kMax));   // 1 bad epoch
  EXPECT_FALSE(s.observe(0.600001, Goal::kMax));  // within the 1e-4 relative threshold: 2 bad epochs
  EXPECT_DOUBLE_EQ(s.lr(0), 1.0);
  EXPECT_TRUE(s.observe(0.55, Goal::kMax));    // 3 > patience: decay
  EXPECT_DOUBLE_EQ(s.lr(0), 0.5);
  LrSchedule restored(c, 10);
  restored.load_state(s.state());
  EXPECT_DOUBLE_EQ(restored.lr(7), 0.5);
  EXPECT_FALSE(restored.observe(0.1, Goal::kMax));
  EXPECT_FALSE(restored.observe(0.1, Goal::kMax));
  EXPECT_TRUE(restored.observe(0.1, Goal::kMax));  // the bad-epoch count resets after each decay
  EXPECT_DOUBLE_EQ(restored.lr(0), 0.25);
  EXPECT_FALSE(restored.observe(0.1, Goal::kMax));
  EXPECT_FALSE(restored.observe(0.1, Goal::kMax));
  EXPECT_TRUE(restored.observe(0.1, Goal::kMax));
  EXPECT_DOUBLE_EQ(restored.lr(0), 0.2);  // floored at --min-lr
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(restored.observe(0.1, Goal::kMax));  // at the floor: no decay
  // A lower-is-better metric (a loss).
  LrSchedule loss(c, 10);
  loss.observe(1.0, Goal::kMin);
  loss.observe(0.9, Goal::kMin);
  loss.observe(0.95, Goal::kMin);
  loss.observe(0.95, Goal::kMin);
  EXPECT_TRUE(loss.observe(0.95, Goal::kMin));
}

TEST(Schedules, MaxStepsShortensThePlan) {
  TrainConfig c = schedule_config("cosine");
  c.max_steps = 40;
  LrSchedule s(c, 10);
  EXPECT_EQ(s.total_steps(), 40);
  EXPECT_NEAR(s.lr(20), 0.5, 1e-15);
}

TEST(Schedules, ValidationRejectsBadCombinations) {
  TrainConfig c = schedule_config("multistep");
  EXPECT_THROW(validate(c), Error);  // no milestones
  c.milestones = {5, 3};
  EXPECT_THROW(validate(c), Error);  // not increasing
  c = schedule_config("onecycle");
  c.warmup_epochs = 1;
  EXPECT_THROW(validate(c), Error);
  c = schedule_config("linear");
  EXPECT_THROW(validate(c), Error);
  c = TrainConfig{};
  c.nesterov = true;
  c.optimizer = "adam";
  EXPECT_THROW(validate(c), Error);
  c = TrainConfig{};
  c.label_smoothing = 1.0;
  EXPECT_THROW(validate(c), Error);
}

}  // namespace
}  // namespace zoo
