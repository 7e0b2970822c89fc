// `zoo predict` on a torchvision-saved ResNet-18 against torchvision's own pipeline:
// - on torchvision's preprocessed tensor, zoo's probabilities match to 1e-4;
// - from the JPEG files (zoo: OpenCV decode + area resize; torchvision: PIL decode + antialiased
//   bilinear Resize(256) + CenterCrop(224)) the top-5 classes match, and the preprocessed
//   tensors differ by a small mean absolute error, printed here and recorded in
//   docs/BENCHMARKS.md;
// - the CLI prints ImageNet class names for 1000-class torchvision weights;
// - the same weights by name (a catalogue entry, $ZOO_WEIGHTS_CATALOG) fetched from a loopback
//   mirror give the same top-5 as the file, and `zoo convert NAME out.pt` works.
#include "app/engine/checkpoint.h"
#include "app/engine/model_io.h"
#include "data/class_names.h"
#include "data/image.h"
#include "weights/download.h"
#include "weights/weights_io.h"
#include "http_server.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/utils.h>

#include <map>
#include <set>

namespace zoo {
namespace {

using test::TempDir;

class PredictParity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    const std::string cmd = "/usr/bin/python3 " + std::string(ZOO_SOURCE_DIR) +
                            "/scripts/fixtures/predict_parity.py --out " + dir_->path().string() +
                            " --images 8";
    ok_ = std::system(("/usr/bin/python3 -c 'import torchvision' 2>/dev/null")) == 0 &&
          std::system(cmd.c_str()) == 0;
  }
  static void TearDownTestSuite() { delete dir_; }
  void SetUp() override {
    if (!ok_) GTEST_SKIP() << "/usr/bin/python3 with torchvision is needed for these fixtures";
  }
  static TempDir* dir_;
  static bool ok_;
};
TempDir* PredictParity::dir_ = nullptr;
bool PredictParity::ok_ = false;

std::map<std::string, torch::Tensor> expected_tensors(const std::string& path) {
  std::map<std::string, torch::Tensor> out;
  for (auto& kv : read_safetensors(path)) out[kv.first] = kv.second;
  return out;
}

TEST_F(PredictParity, ProbabilitiesTopFiveAndPreprocessing) {
  LoadedClassifier loaded = load_classifier(*dir_ / "resnet18.pth", "resnet18");
  ASSERT_EQ(loaded.class_names.size(), 1000u);
  EXPECT_EQ(loaded.class_names[0], "tench");
  EXPECT_EQ(loaded.spec.resize, 256);
  auto expected = expected_tensors(*dir_ / "expected.safetensors");
  auto rows = nlohmann::json::parse(test::read_file(*dir_ / "expected.json"));
  torch::NoGradGuard no_grad;
  double mae_sum = 0.0, mae_max = 0.0;
  int top1_same = 0, top5_sets_same = 0, order_same = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const std::string idx = std::to_string(i);
    const torch::Tensor pre = expected.at("pre" + idx);
    const torch::Tensor probs = expected.at("probs" + idx);
    // Same input tensor: same probabilities.
    auto ours = torch::softmax(loaded.model->forward(pre.unsqueeze(0)), 1)[0];
    const double rel = (ours - probs).abs().max().item<double>() / probs.abs().max().item<double>();
    EXPECT_LE(rel, 1e-4) << "image " << i;
    // From the file: zoo's own decode and resize.
    const torch::Tensor mine = load_image_file(*dir_ / rows[i]["image"].get<std::string>(), loaded.spec);
    ASSERT_EQ(mine.sizes(), pre.sizes());
    const double mae = (mine - pre).abs().mean().item<double>();
    mae_sum += mae;
    mae_max = std::max(mae_max, mae);
    auto from_file = torch::softmax(loaded.model->forward(mine.unsqueeze(0)), 1)[0];
    auto top5 = std::get<1>(from_file.topk(5));
    std::vector<int64_t> ours5(top5.data_ptr<int64_t>(), top5.data_ptr<int64_t>() + 5);
    const auto theirs5 = rows[i]["top5"].get<std::vector<int64_t>>();
    top1_same += ours5[0] == theirs5[0];
    top5_sets_same += std::set<int64_t>(ours5.begin(), ours5.end()) ==
                      std::set<int64_t>(theirs5.begin(), theirs5.end());
    // Same order, except where torchvision's own probabilities of the two classes are a near tie
    // (within 2% of each other), which preprocessing differences of ~1/255 may flip.
    EXPECT_EQ(std::set<int64_t>(ours5.begin(), ours5.end()),
              std::set<int64_t>(theirs5.begin(), theirs5.end())) << "image " << i;
    for (size_t k = 0; k < 5; ++k) {
      const double a = probs[ours5[k]].item<double>(), b = probs[theirs5[k]].item<double>();
      EXPECT_LE(std::abs(a - b), 0.02 * std::max(a, b))
          << "image " << i << " rank " << k << ": class " << ours5[k] << " (p " << a
          << ") where torchvision ranks " << theirs5[k] << " (p " << b << ")";
      order_same += ours5[k] == theirs5[k];
    }
  }
  std::printf("preprocessing vs torchvision: mean abs error %.4f (max over images %.4f, normalized "
              "units); top-1 agree %d/%zu, top-5 sets agree %d/%zu, top-5 ranks agree %d/%zu\n",
              mae_sum / rows.size(), mae_max, top1_same, rows.size(), top5_sets_same, rows.size(),
              order_same, 5 * rows.size());
  EXPECT_EQ(top1_same, int(rows.size()));
  EXPECT_LT(mae_max, 0.05);
}

TEST_F(PredictParity, CliPrintsImageNetNames) {
  auto r = test::run_zoo("predict resnet18 --weights " + *dir_ / "resnet18.pth" + " --json " +
                         *dir_ / "img0.jpg");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  auto rows = nlohmann::json::parse(test::read_file(*dir_ / "expected.json"));
  ASSERT_EQ(j[0]["top"].size(), 5u);
  const int64_t index = j[0]["top"][0]["index"];
  EXPECT_EQ(index, rows[0]["top5"][0].get<int64_t>());
  EXPECT_EQ(j[0]["top"][0]["class"], imagenet_classes().at(index));
  // A bare state dict needs the model named.
  r = test::run_zoo("predict --weights " + *dir_ / "resnet18.pth" + " " + *dir_ / "img0.jpg");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("resnet18"), std::string::npos);
  // The wrong model for the weights is refused with the load report.
  r = test::run_zoo("predict resnet34 --weights " + *dir_ / "resnet18.pth" + " " + *dir_ / "img0.jpg");
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_NE(r.err.find("missing"), std::string::npos);
}

TEST_F(PredictParity, ConvertRoundTripKeepsTensors) {
  const std::string pth = *dir_ / "resnet18.pth";
  const std::string st = *dir_ / "r18.safetensors";
  const std::string pt = *dir_ / "r18.pt";
  ASSERT_EQ(test::run_zoo("convert " + pth + " " + st).exit_code, 0);
  auto r = test::run_zoo("convert " + st + " " + pt + " --model resnet18");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const StateDict a = read_pth(pth);
  LoadedClassifier b = load_classifier(pt);
  const StateDict bs = state_dict_of(*b.model);
  ASSERT_EQ(a.size(), bs.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, bs[i].first);
    EXPECT_TRUE(torch::equal(a[i].second, bs[i].second)) << a[i].first;
  }
  EXPECT_EQ(b.class_names.size(), 1000u);
  // And back to .pth: identical to the original.
  ASSERT_EQ(test::run_zoo("convert " + pt + " " + *dir_ / "back.pth").exit_code, 0);
  const StateDict c = read_pth(*dir_ / "back.pth");
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i].second, c[i].second));
  EXPECT_EQ(test::run_zoo("convert " + pth + " " + *dir_ / "x.pt").exit_code, 2);  // no --model
  EXPECT_EQ(test::run_zoo("convert " + pth + " " + *dir_ / "x.onnx").exit_code, 2);
}

// torchvision's file under its hub name (NAME-<sha256 prefix>.pth), served by a loopback HTTP
// mirror, named in a user catalogue: predict by name equals predict by path, and matches
// torchvision's top-5.
TEST_F(PredictParity, WeightsByNameThroughALoopbackMirror) {
  TempDir served, cache;
  const std::string pth = *dir_ / "resnet18.pth";
  const std::string file = "resnet18-" + sha256_file(pth).substr(0, 8) + ".pth";
  std::filesystem::copy_file(pth, served / file);
  const nlohmann::json catalogue = nlohmann::json::array(
      {{{"name", "test:resnet18.V1"}, {"model", "resnet18"}, {"categories", "imagenet-1k"},
        {"crop", 224}, {"resize", 256}, {"url", "https://download.pytorch.org/models/" + file}}});
  test::write_file(served / "catalogue.json", catalogue.dump());
  test::LoopbackServer server(served.path());
  const std::string env = "ZOO_WEIGHTS_CATALOG=" + served / "catalogue.json" + " TORCH_HOME=" +
                          cache.path().string() + " ZOO_WEIGHTS_MIRROR=" + server.url();
  auto rows = nlohmann::json::parse(test::read_file(*dir_ / "expected.json"));
  std::string images;
  for (const auto& row : rows) images += " " + *dir_ / row["image"].get<std::string>();
  auto by_name = test::run_zoo("predict --weights test:resnet18 --json" + images, env);
  ASSERT_EQ(by_name.exit_code, 0) << by_name.err;
  auto by_path = test::run_zoo("predict resnet18 --weights " + pth + " --json" + images);
  ASSERT_EQ(by_path.exit_code, 0) << by_path.err;
  const auto a = nlohmann::json::parse(by_name.out), b = nlohmann::json::parse(by_path.out);
  ASSERT_EQ(a.size(), rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    std::set<int64_t> ours, theirs;
    for (const auto& t : a[i]["top"]) ours.insert(t["index"].get<int64_t>());
    for (const auto& t : rows[i]["top5"]) theirs.insert(t.get<int64_t>());
    EXPECT_EQ(ours, theirs) << "image " << i;
    EXPECT_EQ(a[i]["top"], b[i]["top"]) << "image " << i;
  }
  EXPECT_EQ(server.count(file), 1u);
  EXPECT_TRUE(std::filesystem::exists(cache / ("hub/checkpoints/" + file)));
  // Cached now: offline works, and convert takes the name too.
  auto r = test::run_zoo("--offline convert test:resnet18 " + cache / "r18.pt", env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(server.count(file), 1u);
  // A name of another model is refused before anything is fetched.
  r = test::run_zoo("predict resnet34 --weights test:resnet18" + images, env);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = test::run_zoo("finetune resnet34 --weights test:resnet18 --data " + served.path().string(), env);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  // Fine-tuning from the name: two classes of the test images, backbone frozen; the frozen
  // weights are the file's, bit for bit, and the new head has two rows.
  TempDir data, runs;
  for (size_t i = 0; i < rows.size(); ++i) {
    const std::string cls = data / (i % 2 ? "b" : "a");
    std::filesystem::create_directories(cls);
    std::filesystem::copy_file(*dir_ / rows[i]["image"].get<std::string>(), cls + "/" + std::to_string(i) + ".jpg");
  }
  r = test::run_zoo("--offline finetune --weights test:resnet18 --data " + data.path().string() +
                    " --freeze backbone --epochs 1 --batch-size 4 --input-size 64 --val-split 0.25 --workers 0 "
                    "--runs-dir " + runs.path().string() + " --name ft", env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const StateDict original = read_pth(pth);
  const Checkpoint ckpt = load_checkpoint(runs / "ft/checkpoints/last.pt");
  std::map<std::string, torch::Tensor> tuned(ckpt.model.begin(), ckpt.model.end());
  for (const auto& [key, tensor] : original) {
    if (key.rfind("fc.", 0) == 0) {
      EXPECT_EQ(tuned.at(key).size(0), 2) << key;
    } else if (key.find("running_") == std::string::npos && key.find("num_batches") == std::string::npos) {
      EXPECT_TRUE(torch::equal(tuned.at(key), tensor)) << key;
    }
  }
}

}  // namespace
}  // namespace zoo
