// Fine-tuning: freezing selects the documented parameters (groups, up-to:LAYER, globs, --train)
// for resnet, vgg, densenet and googlenet; a --freeze conv run leaves every frozen parameter and
// frozen batch-norm statistic bit-identical to the loaded weights while the head moves;
// --unfreeze-at releases them at its epoch and resumes exactly across it; a head whose class
// count differs is reset and one whose classes come in another order is reordered; the input
// convolution adapts from 3 channels to 1; --cache-features trains the same head as the
// uncached run.
#include "app/engine/checkpoint.h"
#include "app/engine/freeze.h"
#include "app/engine/tasks/classification.h"
#include "app/engine/trainer.h"
#include "common/error.h"
#include "models/registry.h"
#include "test_util.h"
#include "weights/weights_io.h"

#include <gtest/gtest.h>

#include <map>

namespace zoo {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

std::vector<std::string> names_with(const torch::nn::Module& model, const std::vector<std::string>& prefixes) {
  std::vector<std::string> out;
  for (const auto& p : model.named_parameters()) {
    for (const auto& prefix : prefixes) {
      if (p.key().rfind(prefix + ".", 0) == 0) {
        out.push_back(p.key());
        break;
      }
    }
  }
  return out;
}

FreezeOptions freeze(std::vector<std::string> patterns, std::vector<std::string> train = {}) {
  FreezeOptions o;
  o.freeze = std::move(patterns);
  o.train = std::move(train);
  return o;
}

std::vector<std::string> frozen(const ClassifierImpl& model, const FreezeOptions& options) {
  return Freezer(model, model.head_prefixes(), options).frozen();
}

TEST(Freeze, UpToGlobsAndGroupsSelectTheDocumentedParameters) {
  const auto resnet = build_classifier("resnet18", {});
  EXPECT_EQ(frozen(*resnet, freeze({"up-to:layer1"})), names_with(*resnet, {"conv1", "bn1", "layer1"}));
  EXPECT_EQ(frozen(*resnet, freeze({"layer1.*"})), names_with(*resnet, {"layer1"}));
  EXPECT_EQ(frozen(*resnet, freeze({"bn*"})), (std::vector<std::string>{"bn1.weight", "bn1.bias"}));
  EXPECT_EQ(frozen(*resnet, freeze({"conv"})).size(), resnet->named_parameters().size() - 2);  // all but fc
  EXPECT_EQ(frozen(*resnet, freeze({"all"}, {"fc.*", "layer4.*"})),
            names_with(*resnet, {"conv1", "bn1", "layer1", "layer2", "layer3"}));
  EXPECT_TRUE(frozen(*resnet, freeze({"none"})).empty());

  const auto vgg = build_classifier("vgg16", {});
  EXPECT_EQ(frozen(*vgg, freeze({"up-to:features.16"})),  // features.16 is a max-pool: the convs before it
            names_with(*vgg, {"features.0", "features.2", "features.5", "features.7", "features.10",
                              "features.12", "features.14"}));
  EXPECT_EQ(frozen(*vgg, freeze({"backbone"})),
            names_with(*vgg, {"features", "classifier.0", "classifier.3"}));

  const auto densenet = build_classifier("densenet121", {});
  EXPECT_EQ(frozen(*densenet, freeze({"up-to:denseblock3"})),  // a suffix of features.denseblock3
            names_with(*densenet, {"features.conv0", "features.norm0", "features.denseblock1",
                                   "features.transition1", "features.denseblock2",
                                   "features.transition2", "features.denseblock3"}));

  const auto googlenet = build_classifier("googlenet", {});
  EXPECT_EQ(frozen(*googlenet, freeze({"up-to:inception4a"})),
            names_with(*googlenet, {"conv1", "conv2", "conv3", "inception3a", "inception3b", "inception4a"}));

  // What selects nothing is an error naming what there is.
  for (const FreezeOptions& bad : {freeze({"nothing.*"}), freeze({"up-to:layer9"}),
                                   freeze({"up-to:conv"}),  // ambiguous in googlenet
                                   freeze({"all"}, {"zzz*"})}) {
    const auto& model = bad.freeze[0] == "up-to:conv" ? *googlenet : *resnet;
    EXPECT_EQ(test::kind_of([&] { frozen(model, bad); }), ErrorKind::kUsage) << bad.freeze[0];
  }
}

TEST(Freeze, ClassMapping) {
  EXPECT_EQ(class_mapping({"a", "b", "c"}, {"c", "a", "b"}), (std::vector<int64_t>{2, 0, 1}));
  EXPECT_EQ(class_mapping({"a", "b"}, {"a", "b"}), (std::vector<int64_t>{0, 1}));
  EXPECT_FALSE(class_mapping({"a", "b"}, {"a", "c"}));
  EXPECT_FALSE(class_mapping({"a", "b"}, {"a"}));
  EXPECT_FALSE(class_mapping({"a", "a"}, {"a", "a"}));
}

class Finetune : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    test::write_synthetic_idx(dir_->path() / "data", 96, 32, 5);
    test::write_file((dir_->path() / "data" / "classes.txt").string(), "a\nb\nc\nd\ne\n");
  }
  static void TearDownTestSuite() { delete dir_; }
  static TempDir* dir_;

  static TrainConfig config(const std::string& model, const std::string& weights, const std::string& name) {
    TrainConfig c;
    c.model = model;
    c.weights = weights;
    c.data = (dir_->path() / "data").string();
    c.epochs = 1;
    c.batch_size = 16;
    c.lr = 0.05;
    c.schedule = "constant";
    c.seed = 3;
    c.threads = 1;
    c.workers = 2;
    c.deterministic = true;
    c.name = name;
    c.runs_dir = (dir_->path() / "runs").string();
    c.quiet = true;
    return c;
  }

  // Random weights for `model` with `classes` classes and `channels` input channels, with
  // batch-norm statistics away from their initial values, saved as a .pth state dict.
  static std::map<std::string, torch::Tensor> pretrained(const std::string& model, int64_t classes,
                                                         int64_t channels, const std::string& path) {
    torch::manual_seed(11);
    ModelOptions o;
    o.num_classes = classes;
    o.in_channels = channels;
    Classifier m = build_classifier(model, o);
    torch::NoGradGuard no_grad;
    for (auto& b : m->named_buffers()) {
      if (b.key().find("running_mean") != std::string::npos) b.value().normal_(0.0, 0.1);
      if (b.key().find("running_var") != std::string::npos) b.value().uniform_(0.5, 1.5);
    }
    const StateDict sd = state_dict_of(*m);
    write_pth(path, sd);
    std::map<std::string, torch::Tensor> out;
    for (const auto& [k, v] : sd) out.emplace(k, v.clone());
    return out;
  }

  static std::map<std::string, torch::Tensor> last_weights(const TrainSummary& s) {
    const Checkpoint ckpt = load_checkpoint(s.run_dir + "/checkpoints/last.pt");
    return {ckpt.model.begin(), ckpt.model.end()};
  }
};
TempDir* Finetune::dir_ = nullptr;

TEST_F(Finetune, FrozenBackboneStaysBitIdenticalAndTheHeadMoves) {
  const std::string pth = (dir_->path() / "resnet18.pth").string();
  // Pretrained on 3 channels and 5 classes; the data is gray, so conv1 sums over its inputs.
  auto file = pretrained("resnet18", 5, 3, pth);
  TrainConfig c = config("resnet18", pth, "resnet-conv");
  c.in_channels = 1;
  c.freeze = {"conv"};
  c.max_steps = 3;
  c.limit_val_batches = 1;
  const auto after = last_weights(train(c));
  int checked = 0;
  for (const auto& [name, t] : after) {
    if (name.rfind("fc.", 0) == 0) {
      EXPECT_FALSE(torch::equal(t, file.at(name))) << name << " did not train";
      continue;
    }
    const torch::Tensor expected = name == "conv1.weight" ? file.at(name).sum(1, true) : file.at(name);
    EXPECT_TRUE(torch::equal(t, expected)) << name << " moved";  // weights and running statistics
    ++checked;
  }
  EXPECT_EQ(checked, 120);  // 62 parameters and 60 buffers of resnet18, all but fc's two
  // --bn-train lets the frozen batch norms' statistics follow the new data.
  c.name = "resnet-bn-train";
  c.bn_train = true;
  const auto bn = last_weights(train(c));
  EXPECT_TRUE(torch::equal(bn.at("layer1.0.conv1.weight"), file.at("layer1.0.conv1.weight")));
  EXPECT_FALSE(torch::equal(bn.at("bn1.running_mean"), file.at("bn1.running_mean")));
}

TEST_F(Finetune, HeadResetWhenClassesDifferAndReorderedWhenTheyMatch) {
  const std::string pth = (dir_->path() / "lenet10.pth").string();
  auto file = pretrained("lenet5", 10, 1, pth);
  TrainConfig c = config("lenet5", pth, "lenet-reset");
  c.freeze = {"all"};
  c.train = {"features.0.bias"};  // only something outside the head trains
  c.max_steps = 2;
  const auto after = last_weights(train(c));
  EXPECT_EQ(after.at("classifier.4.weight").size(0), 5);  // a fresh 5-class head
  EXPECT_TRUE(torch::equal(after.at("classifier.2.weight"), file.at("classifier.2.weight")));
  EXPECT_FALSE(torch::equal(after.at("features.0.bias"), file.at("features.0.bias")));

  // A zoo checkpoint whose classes are the data's in another order: rows follow the names.
  const std::string pt = (dir_->path() / "lenet-shuffled.pt").string();
  file = pretrained("lenet5", 5, 1, (dir_->path() / "lenet5.pth").string());
  StateDict sd(file.begin(), file.end());
  save_checkpoint(pt, {{"model", "lenet5"}, {"class_names", {"c", "e", "a", "b", "d"}}}, sd, nullptr, false);
  c.weights = pt;
  c.name = "lenet-reorder";
  const auto reordered = last_weights(train(c));
  const auto rows = torch::tensor({2, 3, 0, 4, 1}, torch::kInt64);  // a, b, c, d, e
  EXPECT_TRUE(torch::equal(reordered.at("classifier.4.weight"), file.at("classifier.4.weight").index_select(0, rows)));
  EXPECT_TRUE(torch::equal(reordered.at("classifier.4.bias"), file.at("classifier.4.bias").index_select(0, rows)));
}

TEST_F(Finetune, UnfreezeAtReleasesTheBackboneAndResumesAcrossIt) {
  const std::string pth = (dir_->path() / "lenet.pth").string();
  const auto file = pretrained("lenet5", 5, 1, pth);
  TrainConfig c = config("lenet5", pth, "staged");
  c.freeze = {"conv"};
  c.unfreeze_at = 2;
  c.epochs = 2;
  c.limit_batches = 3;
  c.head_lr = 0.1;
  const auto staged = last_weights(train(c));
  EXPECT_FALSE(torch::equal(staged.at("features.0.weight"), file.at("features.0.weight")));
  // After epoch 1 alone the backbone is still the file's; resumed into epoch 2, the run ends
  // where the uninterrupted one did.
  TrainConfig first = c;
  first.name = "staged-split";
  first.epochs = 1;
  const TrainSummary half = train(first);
  EXPECT_TRUE(torch::equal(last_weights(half).at("features.0.weight"), file.at("features.0.weight")));
  EXPECT_FALSE(torch::equal(last_weights(half).at("classifier.4.weight"), file.at("classifier.4.weight")));
  const auto resumed = last_weights(resume(half.run_dir, {{"epochs", 2}}));
  for (const auto& [name, t] : staged) EXPECT_TRUE(torch::equal(t, resumed.at(name))) << name;
}

TEST_F(Finetune, HeadLrTrainsTheHeadAtItsOwnRate) {
  const std::string pth = (dir_->path() / "lenet-headlr.pth").string();
  const auto file = pretrained("lenet5", 5, 1, pth);
  TrainConfig c = config("lenet5", pth, "head-lr");
  c.lr = 1e-9;  // the body barely moves; only --head-lr lets the head learn
  c.head_lr = 0.1;
  c.weight_decay = 0.0;
  c.max_steps = 3;
  const auto fast = last_weights(train(c));
  EXPECT_TRUE(torch::allclose(fast.at("features.0.weight"), file.at("features.0.weight"), 0, 1e-6));
  const double moved = (fast.at("classifier.4.weight") - file.at("classifier.4.weight")).abs().max().item<double>();
  EXPECT_GT(moved, 1e-4);
  c.name = "no-head-lr";
  c.head_lr = 0.0;  // the head at --lr, like the rest
  const auto slow = last_weights(train(c));
  EXPECT_LT((slow.at("classifier.4.weight") - file.at("classifier.4.weight")).abs().max().item<double>(), 1e-6);
}

TEST_F(Finetune, CachedFeaturesTrainTheSameHead) {
  const std::string pth = (dir_->path() / "lenet-cache.pth").string();
  pretrained("lenet5", 5, 1, pth);
  TrainConfig c = config("lenet5", pth, "uncached");
  c.freeze = {"features"};
  c.augment = "none";
  c.epochs = 3;
  c.deterministic = false;
  const TrainSummary plain = train(c);
  c.name = "cached";
  c.cache_features = true;
  const TrainSummary cached = train(c);
  const auto a = last_weights(plain), b = last_weights(cached);
  for (const auto& [name, t] : a) {
    EXPECT_TRUE(torch::allclose(t, b.at(name), 1e-5, 1e-5)) << name;
  }
  EXPECT_NEAR(plain.final_metrics["val_loss"].get<double>(), cached.final_metrics["val_loss"].get<double>(), 1e-5);
  // Without the whole backbone frozen, or with augmentation, there is nothing to cache.
  c.name = "cache-bad";
  c.freeze = {"up-to:features.3"};
  EXPECT_EQ(test::kind_of([&] { train(c); }), ErrorKind::kUsage);
  c.freeze = {"conv"};
  c.augment = "standard";
  EXPECT_EQ(test::kind_of([&] { train(c); }), ErrorKind::kUsage);
}

}  // namespace
}  // namespace zoo
