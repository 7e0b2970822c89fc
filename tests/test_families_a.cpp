// AlexNet, AlexNet-2012, VGG and ResNet against torchvision (models/alexnet, vgg, resnet).
// Parameter counts are torchvision's (hard-coded, taken once from torchvision 0.14.1). The
// parity tests run scripts/fixtures/torchvision_parity.py once per family into a temp dir: it
// builds each reference model after torch.manual_seed, saves weights.pth, a random input and
// the eval- and train-mode outputs. Here we check, per model: state-dict keys, order and
// shapes; that a seeded build draws the same initial weights; the eval output; the seeded
// train-mode output, dropout outputs (masks) and BN running stats after it. Skipped when
// /usr/bin/python3 has no torchvision.
#include "common/error.h"
#include "models/alexnet.h"
#include "models/registry.h"
#include "models/resnet.h"
#include "weights/state_dict.h"
#include "models/vgg.h"
#include "weights/weights_io.h"

#include <gtest/gtest.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/dropout.h>
#include <torch/utils.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

constexpr int64_t kSeed = 0;
constexpr int64_t kFixtureClasses = 10;  // small head: smaller files, same architecture
constexpr double kTolerance = 1e-4;      // max|a - b| / max|b|
const char* const kPython = "/usr/bin/python3";

bool python_has_torchvision() {
  static const bool has =
      std::system((std::string(kPython) + " -c 'import torchvision' >/dev/null 2>&1").c_str()) == 0;
  return has;
}

// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "zoo_families_a_XXXXXX").string();
    if (mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed: " + templ);
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Runs the fixture script for `models` (NAME or NAME@SIZE) into dir, train mode on.
void generate_fixtures(const fs::path& dir, const std::vector<std::string>& models, int64_t size) {
  std::string cmd = std::string(kPython) + " " + ZOO_SOURCE_DIR +
                    "/scripts/fixtures/torchvision_parity.py --out '" + dir.string() +
                    "' --num-classes " + std::to_string(kFixtureClasses) + " --batch 2 --size " +
                    std::to_string(size) + " --seed " + std::to_string(kSeed) + " --train-mode";
  for (const auto& m : models) cmd += " --model " + m;
  const auto start = std::chrono::steady_clock::now();
  const int rc = std::system(cmd.c_str());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(rc, 0) << "fixture script failed: " << cmd;
  std::printf("[ fixtures ] %zu models in %.1f s\n", models.size(), seconds);
}

std::map<std::string, torch::Tensor> as_map(const zoo::StateDict& sd) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& kv : sd) out.emplace(kv.first, kv.second);
  return out;
}

std::string shape_text(torch::IntArrayRef sizes) {
  std::string s;
  for (size_t i = 0; i < sizes.size(); ++i) s += (i ? "," : "") + std::to_string(sizes[i]);
  return s;
}

double rel_err(const torch::Tensor& a, const torch::Tensor& b) {
  const double scale = b.abs().max().item<double>();
  const double diff = (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
  return scale > 0 ? diff / scale : diff;
}

// Runs features / avgpool / flatten / classifier by hand (AlexNet and VGG), returning the
// output of every Dropout in classifier under its state-dict-style name.
std::map<std::string, torch::Tensor> dropout_outputs(zoo::ClassifierImpl& model, torch::Tensor x) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& child : model.named_children()) {
    if (child.key() == "classifier") {
      x = x.flatten(1);
      auto seq = std::dynamic_pointer_cast<torch::nn::SequentialImpl>(child.value());
      size_t i = 0;
      for (auto& layer : *seq) {
        x = layer.forward(x);
        if (layer.ptr()->as<torch::nn::Dropout>() != nullptr) {
          out.emplace("dropout.classifier." + std::to_string(i), x);
        }
        ++i;
      }
    } else if (child.key() == "features") {
      x = std::dynamic_pointer_cast<torch::nn::SequentialImpl>(child.value())->forward(x);
    } else if (child.key() == "avgpool") {
      x = std::dynamic_pointer_cast<torch::nn::AdaptiveAvgPool2dImpl>(child.value())->forward(x);
    }
  }
  return out;
}

// Every check for one model against its fixture folder.
void check_model(const std::string& name, const fs::path& dir) {
  SCOPED_TRACE(name);
  zoo::ModelOptions options;
  options.num_classes = kFixtureClasses;
  torch::manual_seed(kSeed);
  zoo::Classifier model = zoo::build_classifier(name, options);
  const zoo::StateDict own = zoo::state_dict_of(*model);

  // Keys, order and shapes.
  std::ifstream keys_file(dir / "keys.txt");
  ASSERT_TRUE(keys_file) << (dir / "keys.txt");
  std::vector<std::string> expected, actual;
  for (std::string line; std::getline(keys_file, line);) expected.push_back(line);
  for (const auto& kv : own) actual.push_back(kv.first + "\t" + shape_text(kv.second.sizes()));
  ASSERT_EQ(actual, expected);

  // A seeded build draws torchvision's initial weights (same generator, same order).
  const std::string weights_path = (dir / "weights.pth").string();
  const zoo::StateDict weights = zoo::read_pth(weights_path);
  const auto file = as_map(weights);
  int64_t init_differ = 0;
  for (const auto& kv : own) init_differ += torch::equal(kv.second, file.at(kv.first)) ? 0 : 1;
  EXPECT_EQ(init_differ, 0) << "tensors whose seeded initialisation differs from torchvision's";

  zoo::load_state_dict(*model, weights, zoo::LoadMode::kStrict, weights_path);
  const auto io = as_map(zoo::read_safetensors((dir / "io.safetensors").string()));
  const torch::Tensor input = io.at("input");
  torch::NoGradGuard no_grad;

  ASSERT_GT(io.at("output").abs().max().item<double>(), 0.0);
  ASSERT_GT(io.at("train_output").abs().max().item<double>(), 0.0);
  model->eval();
  const double eval_err = rel_err(model->forward(input), io.at("output"));
  EXPECT_LE(eval_err, kTolerance) << "eval output";

  model->train();
  torch::manual_seed(kSeed);
  const double train_err = rel_err(model->forward(input), io.at("train_output"));
  EXPECT_LE(train_err, kTolerance) << "train output";
  // Buffers after the train-mode forward: BN running stats and num_batches_tracked.
  double buffer_err = 0;
  for (const auto& b : model->named_buffers()) {
    const torch::Tensor& ref = io.at("after_train." + b.key());
    if (b.value().is_floating_point()) {
      buffer_err = std::max(buffer_err, rel_err(b.value(), ref));
    } else {
      EXPECT_TRUE(torch::equal(b.value(), ref)) << b.key();
    }
  }
  EXPECT_LE(buffer_err, kTolerance) << "running stats after a train-mode forward";

  // Dropout masks: same zeros, same kept values.
  std::string masks = "-";
  if (io.count("dropout.classifier.2") || io.count("dropout.classifier.0")) {
    torch::manual_seed(kSeed);
    const auto drops = dropout_outputs(*model, input);
    ASSERT_FALSE(drops.empty());
    masks.clear();
    for (const auto& kv : drops) {
      const torch::Tensor& ref = io.at(kv.first);
      const int64_t differ = ((kv.second == 0) != (ref == 0)).sum().item<int64_t>();
      EXPECT_EQ(differ, 0) << kv.first << ": dropout masks differ";
      EXPECT_LE(rel_err(kv.second, ref), kTolerance) << kv.first;
      const double nonzero = (ref != 0).to(torch::kDouble).mean().item<double>();
      masks += (masks.empty() ? "" : ", ") + kv.first.substr(8) + " " +
               std::to_string(nonzero).substr(0, 4) + " nonzero";
    }
  }
  std::printf("[ parity   ] %-11s init %s  eval %.1e  train %.1e  buffers %.1e  dropout: %s\n",
              name.c_str(), init_differ == 0 ? "exact" : "DIFFERS", eval_err, train_err,
              buffer_err, masks.c_str());
}

void check_family(const std::vector<std::string>& models, int64_t size) {
  if (!python_has_torchvision()) GTEST_SKIP() << kPython << " has no torchvision";
  TempDir tmp;
  generate_fixtures(tmp.path(), models, size);
  if (::testing::Test::HasFatalFailure()) return;
  for (const auto& spec : models) {
    const std::string name = spec.substr(0, spec.find('@'));
    check_model(name, tmp.path() / name);
    std::error_code ec;
    fs::remove_all(tmp.path() / name, ec);  // VGG fixtures are ~0.5 GB each
  }
}

int64_t parameters_of(const std::string& name, int64_t num_classes = 1000) {
  zoo::ModelOptions options;
  options.num_classes = num_classes;
  return zoo::count_parameters(*zoo::build_classifier(name, options));
}

}  // namespace

// torchvision 0.14.1: sum(p.numel() for p in models.NAME().parameters()).
TEST(FamiliesA, ParameterCountsMatchTorchvision) {
  const std::vector<std::pair<std::string, int64_t>> expected = {
      {"alexnet", 61100840},    {"vgg11", 132863336},     {"vgg13", 133047848},
      {"vgg16", 138357544},     {"vgg19", 143667240},     {"vgg11_bn", 132868840},
      {"vgg13_bn", 133053736},  {"vgg16_bn", 138365992},  {"vgg19_bn", 143678248},
      {"resnet18", 11689512},   {"resnet34", 21797672},   {"resnet50", 25557032},
      {"resnet101", 44549160},  {"resnet152", 60192808},
      {"resnext50_32x4d", 25028904}, {"resnext101_32x8d", 88791336}, {"resnext101_64x4d", 83455272},
      {"wide_resnet50_2", 68883240}, {"wide_resnet101_2", 126886696},
  };
  for (const auto& [name, count] : expected) EXPECT_EQ(parameters_of(name), count) << name;
}

// AlexNet-2012, one-GPU (dense) form, 1000 classes, by hand:
//   conv1  96 x 3 x 11 x 11 + 96       =     34,944
//   conv2 256 x 96 x 5 x 5 + 256       =    614,656
//   conv3 384 x 256 x 3 x 3 + 384      =    885,120
//   conv4 384 x 384 x 3 x 3 + 384      =  1,327,488
//   conv5 256 x 384 x 3 x 3 + 256      =    884,992
//   fc6   4096 x 9216 + 4096           = 37,752,832
//   fc7   4096 x 4096 + 4096           = 16,781,312
//   fc8   1000 x 4096 + 1000           =  4,097,000
//   total                                 62,378,344
// (the paper's two-GPU net, with conv2/4/5 split in two groups, has about 60 million).
TEST(FamiliesA, AlexNet2012ParameterCountByHand) {
  EXPECT_EQ(parameters_of("alexnet2012"), 62378344);
  EXPECT_EQ(parameters_of("alexnet2012", 10), 62378344 - 4097000 + (4096 * 10 + 10));
}

TEST(FamiliesA, AlexNet2012Shapes) {
  auto model = zoo::build_classifier("alexnet2012", {});
  torch::NoGradGuard no_grad;
  model->eval();
  torch::Tensor x = torch::randn({1, 3, 227, 227});
  const std::vector<std::vector<int64_t>> expected = {
      {1, 96, 55, 55}, {1, 96, 55, 55},  {1, 96, 55, 55},  {1, 96, 27, 27},  {1, 256, 27, 27},
      {1, 256, 27, 27}, {1, 256, 27, 27}, {1, 256, 13, 13}, {1, 384, 13, 13}, {1, 384, 13, 13},
      {1, 384, 13, 13}, {1, 384, 13, 13}, {1, 256, 13, 13}, {1, 256, 13, 13}, {1, 256, 6, 6}};
  auto features = std::dynamic_pointer_cast<torch::nn::SequentialImpl>(
      model->named_children()["features"]);
  ASSERT_TRUE(features);
  ASSERT_EQ(features->size(), expected.size());
  size_t i = 0;
  for (auto& layer : *features) {
    x = layer.forward(x);
    EXPECT_EQ(x.sizes().vec(), expected[i]) << "features." << i;
    ++i;
  }
  EXPECT_EQ(model->forward(torch::randn({2, 3, 227, 227})).sizes().vec(),
            (std::vector<int64_t>{2, 1000}));
}

TEST(FamiliesAParity, AlexNet) { check_family({"alexnet@224", "alexnet2012@227"}, 224); }

TEST(FamiliesAParity, Vgg) {
  check_family({"vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn"},
               64);
}

TEST(FamiliesAParity, ResNet) {
  check_family({"resnet18@224", "resnet34", "resnet50", "resnet101", "resnet152"}, 64);
}

TEST(FamiliesAParity, ResNeXtAndWideResNet) {
  check_family({"resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2",
                "wide_resnet101_2"},
               64);
}

TEST(FamiliesA, ResNetTakesAnyInputSize) {
  auto model = zoo::build_classifier("resnet18", {});
  torch::NoGradGuard no_grad;
  model->eval();
  for (int64_t size : {64, 320}) {
    EXPECT_EQ(model->forward(torch::randn({2, 3, size, size})).sizes().vec(),
              (std::vector<int64_t>{2, 1000}))
        << size;
  }
}

TEST(FamiliesA, ResetHeadKeepsBackbone) {
  for (const std::string name : {"resnet18", "alexnet", "vgg11"}) {
    SCOPED_TRACE(name);
    auto model = zoo::build_classifier(name, {});
    const auto before = as_map(zoo::state_dict_of(*model));
    model->reset_head(5);
    EXPECT_EQ(model->num_classes(), 5);
    const auto after = zoo::state_dict_of(*model);
    ASSERT_EQ(after.size(), before.size());
    const std::string head = model->head_prefixes().at(0) + ".";
    for (const auto& kv : after) {
      ASSERT_TRUE(before.count(kv.first)) << kv.first;  // same keys, same order of families
      if (kv.first.rfind(head, 0) == 0) {
        EXPECT_EQ(kv.second.size(0), 5) << kv.first;
      } else {
        EXPECT_TRUE(torch::equal(kv.second, before.at(kv.first))) << kv.first;
      }
    }
    torch::NoGradGuard no_grad;
    model->eval();
    EXPECT_EQ(model->forward(torch::randn({2, 3, 64, 64})).sizes().vec(),
              (std::vector<int64_t>{2, 5}));
  }
}

TEST(FamiliesA, FeaturesShapes) {
  torch::NoGradGuard no_grad;
  const std::vector<std::pair<std::string, int64_t>> expected = {
      {"resnet50", 2048}, {"resnet18", 512}, {"alexnet", 4096}, {"vgg11_bn", 4096}};
  for (const auto& [name, dim] : expected) {
    auto model = zoo::build_classifier(name, {});
    model->eval();
    torch::Tensor x = torch::randn({2, 3, 64, 64});
    EXPECT_EQ(model->features(x).sizes().vec(), (std::vector<int64_t>{2, dim})) << name;
  }
  // The head on the features is the whole forward, for every family (--cache-features).
  for (const char* name : {"lenet5", "alexnet", "vgg11", "resnet18", "densenet121", "googlenet"}) {
    auto model = zoo::build_classifier(name, {});
    model->eval();
    const int64_t size = std::string(name) == "lenet5" ? 28 : 64;
    const int64_t channels = std::string(name) == "lenet5" ? 1 : 3;
    torch::Tensor x = torch::randn({2, channels, size, size});
    EXPECT_TRUE(torch::equal(model->classify(model->features(x)), model->forward(x))) << name;
  }
  EXPECT_EQ(zoo::build_classifier("resnet50", {})->head_prefixes(),
            std::vector<std::string>{"fc"});
  EXPECT_EQ(zoo::build_classifier("vgg16", {})->head_prefixes(),
            std::vector<std::string>{"classifier.6"});
}

TEST(FamiliesA, TooSmallInputIsAUsageError) {
  zoo::ModelOptions options;
  options.input_size = 32;
  try {
    zoo::build_classifier("alexnet", options);
    FAIL() << "expected a usage error";
  } catch (const zoo::Error& e) {
    EXPECT_EQ(e.kind(), zoo::ErrorKind::kUsage);
    EXPECT_NE(std::string(e.what()).find("63x63"), std::string::npos) << e.what();
  }
}
