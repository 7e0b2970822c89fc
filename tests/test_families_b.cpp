// GoogLeNet and DenseNet against torchvision: parameter counts, state-dict keys/shapes/order,
// and outputs in eval and train mode (BN batch statistics, running statistics afterwards,
// dropout masks from the same seed, GoogLeNet's aux logits) for weights torchvision wrote.
// Fixtures come from scripts/fixtures/parity_b.py (all variants in one /usr/bin/python3 run),
// cached per content hash under the temp directory (older versions removed) and shared by the
// test processes behind a file lock. Tests that need them skip when /usr/bin/python3 lacks
// torchvision.
#include "common/error.h"
#include "models/densenet.h"
#include "models/googlenet.h"
#include "models/registry.h"
#include "weights/state_dict.h"
#include "weights/weights_io.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>

namespace {

namespace fs = std::filesystem;
using zoo::test::read_file;

constexpr int kSeed = 0;
constexpr int kSize = 64;  // smallest convenient size: DenseNet ends at 2x2, GoogLeNet at 2x2

struct Variant {
  std::string tag;     // fixture folder and test name
  std::string model;   // registry / torchvision name
  std::string kwargs;  // torchvision builder arguments, parity_b.py syntax
  zoo::ModelOptions options;
};

// gtest prints a parameter with this instead of its bytes.
void PrintTo(const Variant& v, std::ostream* os) { *os << v.tag; }

zoo::ModelOptions with_aux(bool aux, bool transform_input) {
  zoo::ModelOptions o;
  o.aux_logits = aux;
  o.transform_input = transform_input;
  return o;
}

zoo::ModelOptions with_dropout(double p) {
  zoo::ModelOptions o;
  o.dropout = p;
  return o;
}

const std::vector<Variant>& variants() {
  static const std::vector<Variant> list = {
      {"densenet121", "densenet121", "", {}},
      {"densenet121_drop", "densenet121", ",drop_rate=0.2", with_dropout(0.2)},
      {"densenet161", "densenet161", "", {}},
      {"densenet169", "densenet169", "", {}},
      {"densenet201", "densenet201", "", {}},
      {"googlenet_aux", "googlenet", ",aux_logits=True,init_weights=True", with_aux(true, false)},
      {"googlenet", "googlenet", ",aux_logits=False,init_weights=True,transform_input=True",
       with_aux(false, true)},
  };
  return list;
}

bool python_has_torchvision() {
  static const bool ok =
      std::system("/usr/bin/python3 -c 'import torchvision' >/dev/null 2>&1") == 0;
  return ok;
}

// Generates every variant's fixtures once (per content of the scripts and arguments) and
// returns the folder; on failure returns "" and sets *error to the script's output.
fs::path fixture_root(std::string* error) {
  static std::string cached_error;
  static const fs::path root = []() -> fs::path {
    const fs::path scripts = fs::path(ZOO_SOURCE_DIR) / "scripts" / "fixtures";
    std::string args = " --size " + std::to_string(kSize) + " --seed " + std::to_string(kSeed) +
                       " --batch 2 --train-mode --threads 1";
    for (const auto& v : variants()) args += " --variant " + v.tag + "=" + v.model + v.kwargs;
    const std::string key = read_file(scripts / "parity_b.py") +
                            read_file(scripts / "torchvision_parity.py") + args;
    std::ostringstream name;
    name << "zoo-parity-b-" << getuid() << "-" << std::hex << std::hash<std::string>{}(key);
    const fs::path dir = fs::temp_directory_path() / name.str();

    const std::string lock_path = dir.string() + ".lock";
    const int fd = ::open(lock_path.c_str(), O_CREAT | O_RDWR, 0644);
    if (fd >= 0) ::flock(fd, LOCK_EX);
    if (!fs::exists(dir / "DONE")) {
      // Fixtures of older script versions (~400 MB each) go; this one is regenerated.
      const std::string prefix = "zoo-parity-b-" + std::to_string(getuid()) + "-";
      std::error_code ec;
      for (const auto& entry : fs::directory_iterator(fs::temp_directory_path(), ec)) {
        const std::string n = entry.path().filename().string();
        if (n.rfind(prefix, 0) == 0 && n != name.str() && n != name.str() + ".lock") {
          fs::remove_all(entry.path(), ec);
        }
      }
      fs::remove_all(dir);
      fs::create_directories(dir);
      const fs::path log = dir / "python.log";
      const std::string cmd = "/usr/bin/python3 -W ignore '" + (scripts / "parity_b.py").string() +
                              "' --out '" + dir.string() + "'" + args + " > '" + log.string() +
                              "' 2>&1";
      if (std::system(cmd.c_str()) != 0) {
        cached_error = "fixture script failed: " + cmd + "\n" + read_file(log);
      } else {
        std::ofstream(dir / "DONE") << "ok\n";
      }
    }
    if (fd >= 0) {
      ::flock(fd, LOCK_UN);
      ::close(fd);
    }
    return cached_error.empty() ? dir : fs::path();
  }();
  *error = cached_error;
  return root;
}

std::map<std::string, torch::Tensor> to_map(const zoo::StateDict& sd) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& kv : sd) out.emplace(kv.first, kv.second);
  return out;
}

std::string shape_str(torch::IntArrayRef sizes) {
  std::string s;
  for (size_t i = 0; i < sizes.size(); ++i) s += (i ? "," : "") + std::to_string(sizes[i]);
  return s;
}

// max|a - b| / max|b|
double rel_error(const torch::Tensor& a, const torch::Tensor& b) {
  const auto af = a.to(torch::kDouble), bf = b.to(torch::kDouble);
  return ((af - bf).abs().max() / bf.abs().max().clamp_min(1e-30)).item<double>();
}

constexpr double kTol = 1e-4;

class FamiliesB : public ::testing::TestWithParam<Variant> {
 protected:
  fs::path fixture_dir() {
    if (!python_has_torchvision()) return {};
    std::string error;
    const fs::path root = fixture_root(&error);
    EXPECT_TRUE(error.empty()) << error;
    return root.empty() ? root : root / GetParam().tag / GetParam().model;
  }
};

#define NEED_FIXTURES(dir)                                                       \
  const fs::path dir = fixture_dir();                                            \
  if (!python_has_torchvision()) GTEST_SKIP() << "/usr/bin/python3 lacks torchvision"; \
  ASSERT_FALSE(dir.empty())

TEST_P(FamiliesB, StateDictKeysShapesAndOrderAreTorchvisions) {
  NEED_FIXTURES(dir);
  const Variant& v = GetParam();
  auto model = zoo::build_classifier(v.model, v.options);
  const zoo::StateDict ours = zoo::state_dict_of(*model);

  std::ifstream in(dir / "keys.txt");
  ASSERT_TRUE(in) << dir / "keys.txt";
  std::vector<std::pair<std::string, std::string>> theirs;
  for (std::string line; std::getline(in, line);) {
    const auto tab = line.find('\t');
    theirs.emplace_back(line.substr(0, tab), line.substr(tab + 1));
  }
  ASSERT_EQ(ours.size(), theirs.size());
  for (size_t i = 0; i < ours.size(); ++i) {
    EXPECT_EQ(ours[i].first, theirs[i].first) << "entry " << i;
    EXPECT_EQ(shape_str(ours[i].second.sizes()), theirs[i].second) << ours[i].first;
  }
}

TEST_P(FamiliesB, OutputsMatchTorchvisionInEvalAndTrainMode) {
  NEED_FIXTURES(dir);
  const Variant& v = GetParam();
  auto model = zoo::build_classifier(v.model, v.options);
  const std::string weights = (dir / "weights.pth").string();
  const auto report = zoo::load_state_dict(*model, zoo::read_pth(weights),
                                           zoo::LoadMode::kStrict, weights);
  EXPECT_TRUE(report.clean()) << report.summary();
  auto io = to_map(zoo::read_safetensors((dir / "io.safetensors").string()));
  const torch::Tensor input = io.at("input");
  torch::NoGradGuard no_grad;

  model->eval();
  const auto eval_out = model->forward_with_aux(input);
  EXPECT_TRUE(eval_out.aux.empty());
  const double eval_err = rel_error(eval_out.logits, io.at("output"));
  EXPECT_LE(eval_err, kTol);

  model->train();
  torch::manual_seed(kSeed);  // as the script does right before its train-mode forward
  const auto train_out = model->forward_with_aux(input);
  const double train_err = rel_error(train_out.logits, io.at("train_output"));
  EXPECT_LE(train_err, kTol);
  std::cout << "[ parity   ] " << v.tag << ": eval " << eval_err << ", train " << train_err;

  const bool aux = v.options.aux_logits;
  ASSERT_EQ(train_out.aux.size(), aux ? 2u : 0u);
  for (size_t i = 0; i < train_out.aux.size(); ++i) {
    const std::string key = "train_output.aux" + std::to_string(i + 1);
    const double err = rel_error(train_out.aux[i], io.at(key));
    EXPECT_LE(err, kTol) << key;
    std::cout << ", aux" << i + 1 << " " << err;
  }

  // BN running statistics and num_batches_tracked after the one train-mode forward.
  double stats_err = 0;
  size_t buffers = 0;
  for (const auto& kv : model->named_buffers()) {
    const auto it = io.find("after_train." + kv.key());
    ASSERT_NE(it, io.end()) << kv.key();
    if (kv.value().is_floating_point()) {
      stats_err = std::max(stats_err, rel_error(kv.value(), it->second));
    } else {
      EXPECT_TRUE(torch::equal(kv.value(), it->second)) << kv.key();
    }
    ++buffers;
  }
  EXPECT_LE(stats_err, kTol);
  std::cout << ", running stats " << stats_err << " (" << buffers << " buffers)\n";

  // The comparisons are not vacuous: train mode differs from eval mode, and where there is
  // dropout a forward without re-seeding draws other masks.
  EXPECT_GT(rel_error(train_out.logits, eval_out.logits), 1e-3);
  if (v.model == "googlenet" || v.options.dropout > 0) {
    EXPECT_GT(rel_error(model->forward(input), io.at("train_output")), 1e-3);
  }
}

INSTANTIATE_TEST_SUITE_P(Torchvision, FamiliesB, ::testing::ValuesIn(variants()),
                         [](const auto& info) { return info.param.tag; });

TEST(FamiliesBCounts, ParameterCountsAreTorchvisions) {
  // From torchvision 0.14.1: sum(p.numel() for p in model.parameters()), 1000 classes.
  const std::vector<std::pair<std::string, int64_t>> counts = {
      {"densenet121", 7978856}, {"densenet161", 28681000}, {"densenet169", 14149480},
      {"densenet201", 20013928}, {"googlenet", 6624904}};
  for (const auto& [name, count] : counts) {
    EXPECT_EQ(zoo::count_parameters(*zoo::build_classifier(name, {})), count) << name;
  }
  EXPECT_EQ(zoo::count_parameters(*zoo::build_classifier("googlenet", with_aux(true, false))),
            13004888);
}

TEST(FamiliesBCounts, AuxWeightsNeedAuxHeads) {
  auto with = zoo::build_classifier("googlenet", with_aux(true, false));
  auto without = zoo::build_classifier("googlenet", {});
  const zoo::StateDict sd = zoo::state_dict_of(*with);
  EXPECT_THROW(zoo::load_state_dict(*without, sd, zoo::LoadMode::kStrict, "aux"), zoo::Error);
  const auto report = zoo::load_state_dict(*without, sd, zoo::LoadMode::kNonStrict, "aux");
  EXPECT_EQ(report.unexpected.size(), 20u);  // aux{1,2}.{conv.conv, conv.bn x5, fc1 x2, fc2 x2}
  EXPECT_TRUE(report.missing.empty());
}

// Everything but the head (by head_prefixes), cloned.
std::map<std::string, torch::Tensor> backbone_of(zoo::ClassifierImpl& model) {
  std::map<std::string, torch::Tensor> out;
  const auto heads = model.head_prefixes();
  for (const auto& kv : zoo::state_dict_of(model)) {
    bool head = false;
    for (const auto& h : heads) head |= kv.first.rfind(h + ".", 0) == 0;
    if (!head) out.emplace(kv.first, kv.second.clone());
  }
  return out;
}

void check_reset_head(zoo::ClassifierImpl& model, int64_t size) {
  torch::NoGradGuard no_grad;
  const auto before = backbone_of(model);
  model.reset_head(7);
  EXPECT_EQ(model.num_classes(), 7);
  const auto after = backbone_of(model);
  ASSERT_EQ(before.size(), after.size());
  for (const auto& [key, t] : before) {
    ASSERT_TRUE(after.count(key)) << key;
    EXPECT_TRUE(torch::equal(t, after.at(key))) << key;
  }
  model.eval();
  EXPECT_EQ(model.forward(torch::randn({2, 3, size, size})).sizes(), (torch::IntArrayRef{2, 7}));
}

TEST(FamiliesBShapes, GoogLeNetAnyInputSizeFeaturesAndHead) {
  torch::NoGradGuard no_grad;
  auto model = zoo::build_classifier("googlenet", {});
  EXPECT_EQ(model->head_prefixes(), (std::vector<std::string>{"fc"}));
  model->eval();
  EXPECT_EQ(model->forward(torch::randn({1, 3, 224, 224})).sizes(),
            (torch::IntArrayRef{1, 1000}));
  EXPECT_EQ(model->forward(torch::randn({2, 3, 96, 96})).sizes(), (torch::IntArrayRef{2, 1000}));
  EXPECT_EQ(model->features(torch::randn({2, 3, 96, 96})).sizes(), (torch::IntArrayRef{2, 1024}));
  check_reset_head(*model, 96);
}

TEST(FamiliesBShapes, GoogLeNetAuxHeadsFollowResetHead) {
  torch::NoGradGuard no_grad;
  auto model = zoo::build_classifier("googlenet", with_aux(true, false));
  EXPECT_EQ(model->head_prefixes(), (std::vector<std::string>{"fc", "aux1", "aux2"}));
  check_reset_head(*model, 96);
  model->train();
  const auto out = model->forward_with_aux(torch::randn({2, 3, 96, 96}));
  ASSERT_EQ(out.aux.size(), 2u);
  EXPECT_EQ(out.logits.sizes(), (torch::IntArrayRef{2, 7}));
  EXPECT_EQ(out.aux[0].sizes(), (torch::IntArrayRef{2, 7}));
  EXPECT_EQ(out.aux[1].sizes(), (torch::IntArrayRef{2, 7}));
  model->eval();
  EXPECT_TRUE(model->forward_with_aux(torch::randn({2, 3, 96, 96})).aux.empty());
}

TEST(FamiliesBShapes, DenseNetAnyInputSizeFeaturesAndHead) {
  torch::NoGradGuard no_grad;
  auto model = zoo::build_classifier("densenet121", {});
  EXPECT_EQ(model->head_prefixes(), (std::vector<std::string>{"classifier"}));
  model->eval();
  EXPECT_EQ(model->forward(torch::randn({1, 3, 224, 224})).sizes(),
            (torch::IntArrayRef{1, 1000}));
  EXPECT_EQ(model->features(torch::randn({2, 3, 96, 96})).sizes(), (torch::IntArrayRef{2, 1024}));
  EXPECT_EQ(model->forward(torch::randn({2, 3, 32, 32})).sizes(), (torch::IntArrayRef{2, 1000}));
  check_reset_head(*model, 64);
}

TEST(FamiliesBShapes, OptionsReachTheModel) {
  zoo::ModelOptions o;
  o.num_classes = 5;
  o.in_channels = 1;
  o.dropout = 0.3;
  torch::NoGradGuard no_grad;
  for (const std::string name : {"googlenet", "densenet121"}) {
    auto model = zoo::build_classifier(name, o);
    model->eval();
    EXPECT_EQ(model->forward(torch::randn({1, 1, 64, 64})).sizes(), (torch::IntArrayRef{1, 5}))
        << name;
  }
  o.transform_input = true;
  EXPECT_THROW(zoo::build_classifier("googlenet", o), zoo::Error);
}

}  // namespace
