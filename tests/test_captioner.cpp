// The captioner (models/captioner, app/engine/caption, tasks/captioning, zoo caption): a padded
// batch's loss equals its captions' one by one; beam 1 is greedy decoding; a beam as wide as the
// search space returns the exhaustive best; the registry's figures; training through the CLI on
// shapes-captions and on a COCO-layout folder, exact resume, zoo caption and zoo eval.
#include "app/engine/caption.h"
#include "app/engine/checkpoint.h"
#include "app/engine/tasks/captioning.h"
#include "app/engine/tasks/token_loss.h"
#include "data/shapes_captions.h"
#include "models/captioner.h"
#include "models/profile.h"
#include "models/registry.h"
#include "weights/state_dict.h"
#include "weights/weights_io.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/utils.h>

#include <cmath>
#include <functional>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace zoo {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

Captioner tiny_captioner(bool attention, int64_t vocab = 12, int64_t layers = 1) {
  torch::manual_seed(7);
  CaptionerOptions o;
  o.vocab_size = vocab;
  o.backbone = "lenet5";
  o.in_channels = 3;
  o.input_size = 32;
  o.embed = 8;
  o.hidden = 16;
  o.layers = layers;
  o.dropout = 0.0;
  o.attention = attention;
  o.attention_dim = 8;
  ModelOptions b;
  b.num_classes = 10;
  b.in_channels = 3;
  b.input_size = 32;
  Captioner model(o, build_classifier("lenet5", b));
  model->eval();
  return model;
}

// Captions of different lengths: <start> words <end>.
std::vector<torch::Tensor> some_captions() {
  return {torch::tensor({1, 4, 5, 6, 7, 2}, torch::kInt64), torch::tensor({1, 8, 2}, torch::kInt64),
          torch::tensor({1, 9, 10, 4, 2}, torch::kInt64)};
}

TEST(Captioner, PaddedBatchLossEqualsOneByOne) {
  for (bool attention : {false, true}) {
    for (int64_t layers : {1, 2}) {
      SCOPED_TRACE(std::string(attention ? "attention" : "show-and-tell") + " layers " + std::to_string(layers));
      Captioner model = tiny_captioner(attention, 12, layers);
      torch::NoGradGuard no_grad;
      const torch::Tensor images = torch::randn({3, 3, 32, 32});
      const auto captions = some_captions();
      Batch batch = pad_sequences(captions, CaptionVocabulary::kPad);
      Batch full(0);
      full.set(kInputs, images);
      full.set(kCaptions, batch.inputs());
      full.set(kMask, batch.get(kMask));
      const ImageFeatures f = model->encode(images);
      const CaptionBatchLoss all = caption_batch_loss(*model, f, full, torch::kCPU);
      double sum = 0.0;
      int64_t words = 0;
      for (size_t i = 0; i < captions.size(); ++i) {
        Batch one(0);
        one.set(kCaptions, captions[i].unsqueeze(0));
        one.set(kMask, torch::ones({1, captions[i].size(0)}, torch::kBool));
        const CaptionBatchLoss l =
            caption_batch_loss(*model, select_features(f, torch::tensor({int64_t(i)})), one, torch::kCPU);
        sum += l.sum;
        words += l.words;
      }
      EXPECT_EQ(all.words, words);
      EXPECT_EQ(words, 5 + 2 + 4);  // targets: the words and <end>
      EXPECT_NEAR(all.sum, sum, 1e-4 * std::abs(sum));
      EXPECT_NEAR(all.mean.item<double>(), sum / words, 1e-5);
    }
  }
}

TEST(Captioner, BeamOfOneIsGreedy) {
  for (bool attention : {false, true}) {
    Captioner model = tiny_captioner(attention, 12, 2);
    torch::NoGradGuard no_grad;
    const torch::Tensor images = torch::randn({6, 3, 32, 32});
    const ImageFeatures f = model->encode(images);
    const auto greedy = greedy_decode(*model, f, 8);
    for (int64_t i = 0; i < 6; ++i) {
      BeamOptions o;
      o.beam = 1;
      o.max_len = 8;
      const auto beams = beam_search(*model, select_features(f, torch::tensor({i})), o);
      ASSERT_EQ(beams.size(), 1u);
      EXPECT_EQ(beams[0].words, greedy[i]) << "image " << i << (attention ? " (attention)" : "");
      if (attention) {
        EXPECT_EQ(beams[0].attention.size(), beams[0].words.size() + (beams[0].ended ? 1 : 0));
      }
    }
  }
}

// Every caption of at most 3 words over a vocabulary of 3 words and <unk>, scored by the same
// rule, against beam search with a beam wider than the search space.
TEST(Captioner, WideBeamIsTheExhaustiveBest) {
  for (bool attention : {false, true}) {
    Captioner model = tiny_captioner(attention, 7, 1);
    torch::NoGradGuard no_grad;
    const ImageFeatures f = model->encode(torch::randn({1, 3, 32, 32}));
    const int64_t max_len = 3;
    const double alpha = 0.7;
    const std::vector<int64_t> words{CaptionVocabulary::kUnk, 4, 5, 6};
    double best_score = -1e300;
    std::vector<int64_t> best;
    // Depth-first over prefixes, carrying the decoder state.
    std::function<void(std::vector<int64_t>, double, DecoderState, int64_t)> visit =
        [&](std::vector<int64_t> prefix, double logprob, DecoderState state, int64_t last) {
          auto [logp, next, a] = model->step(f, torch::tensor({last}), state);
          const double end = logprob + logp[0][CaptionVocabulary::kEnd].item<double>();
          const double ended = caption_score(end, prefix.size() + 1, alpha);
          if (ended > best_score) best_score = ended, best = prefix;
          for (int64_t w : words) {
            std::vector<int64_t> longer = prefix;
            longer.push_back(w);
            const double lp = logprob + logp[0][w].item<double>();
            if (static_cast<int64_t>(longer.size()) == max_len) {
              const double cut = caption_score(lp, longer.size(), alpha);  // cut at max_len
              if (cut > best_score) best_score = cut, best = longer;
            } else {
              visit(longer, lp, next, w);
            }
          }
        };
    visit({}, 0.0, model->start(f), CaptionVocabulary::kStart);
    BeamOptions o;
    o.beam = 1000;
    o.max_len = max_len;
    o.length_norm = alpha;
    const auto beams = beam_search(*model, f, o);
    ASSERT_FALSE(beams.empty());
    EXPECT_EQ(beams[0].words, best) << (attention ? "attention" : "show-and-tell");
    EXPECT_NEAR(beams[0].score, best_score, 1e-6);
    // 1 + 4 + 16 ended captions and 64 cut at max_len: all of them.
    EXPECT_EQ(beams.size(), 1u + 4u + 16u + 64u);
  }
}

TEST(Captioner, RegistryFigures) {
  const ModelInfo& info = find_model("captioner");
  EXPECT_FALSE(info.is_classifier());
  CaptionerOptions o;
  o.vocab_size = kCaptionerReferenceVocab;
  Captioner model(o, build_classifier(o.backbone, ModelOptions{}));
  EXPECT_EQ(info.parameters, count_parameters(*model));
  const auto feature = backbone_feature_shape(*model->backbone(), 3, 224);
  EXPECT_EQ(feature, (std::array<int64_t, 3>{512, 7, 7}));
  torch::NoGradGuard no_grad;
  const int64_t encoder = count_macs([&] { model->encode(torch::zeros({1, 3, 224, 224})); }).total();
  EXPECT_EQ(encoder, 1814073344 - 512 * 1000);  // ResNet-18 without its fc
  const CaptionerMacs d = captioner_decoder_macs(o, 512, 49);
  EXPECT_EQ(info.macs, encoder + d.per_image + d.per_word);
}

// Training through the binary: a small LeNet encoder on shapes-captions for a few batches,
// exact resume, then zoo caption and zoo eval on its checkpoint.
TEST(CaptionerCli, TrainResumeCaptionEval) {
  TempDir runs;
  const std::string common = "train captioner --backbone lenet5 --input-size 32 --batch-size 16 --limit-batches 4 "
                             "--limit-val-batches 2 --embed 16 --hidden 32 --workers 0 --schedule constant --runs-dir " + runs.path().string();
  auto r = test::run_zoo(common + " --epochs 2 --name full");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("BLEU-4"), std::string::npos) << r.out;
  r = test::run_zoo(common + " --epochs 1 --name part");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_zoo("train --resume " + runs / "part" + " --epochs 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Checkpoint a = load_checkpoint(runs / "full/checkpoints/last.pt");
  const Checkpoint b = load_checkpoint(runs / "part/checkpoints/last.pt");
  ASSERT_EQ(a.model.size(), b.model.size());
  for (size_t i = 0; i < a.model.size(); ++i) {
    EXPECT_TRUE(torch::equal(a.model[i].second, b.model[i].second)) << a.model[i].first;
  }
  EXPECT_TRUE(fs::exists(runs / "full/vocab.json"));

  // zoo caption: one line per image; a missing file is reported and the rest still captioned.
  TempDir images;
  const ShapesScene scene = make_shapes_scene(shapes_captions_seed(1, 0), kShapesCaptionsSize);
  cv::Mat rgb = render_shapes_scene(scene, shapes_captions_seed(1, 0), kShapesCaptionsSize), bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  cv::imwrite(images / "a.png", bgr);
  const std::string ckpt = runs / "full/checkpoints/best.pt";
  r = test::run_zoo("caption --weights " + ckpt + " " + images / "a.png" + " " + images / "missing.png " + images / "a.png");
  EXPECT_EQ(r.exit_code, 66) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2) << r.out;
  EXPECT_NE(r.err.find("missing.png"), std::string::npos) << r.err;
  test::write_file(images / "bad.png", "not an image at all");
  r = test::run_zoo("caption --weights " + ckpt + " " + images / "bad.png" + " " + images / "a.png");
  EXPECT_EQ(r.exit_code, 65) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  EXPECT_NE(r.err.find("bad.png"), std::string::npos) << r.err;
  r = test::run_zoo("caption --json --beam 4 --top 2 --weights " + ckpt + " " + images / "a.png");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_LE(j[0]["beams"].size(), 2u);
  // Without --weights: the newest captioner run under --runs-dir.
  r = test::run_zoo("caption --runs-dir " + runs.path().string() + " " + images / "a.png");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::run_zoo("caption --runs-dir " + images.path().string() + " " + images / "a.png").exit_code, 66);
  // --attention-map needs an attention model.
  EXPECT_EQ(test::run_zoo("caption --attention-map x.png --weights " + ckpt + " " + images / "a.png").exit_code, 2);
  // zoo eval: BLEU on the validation scenes.
  r = test::run_zoo("eval --weights " + ckpt + " --beam 2 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto e = nlohmann::json::parse(r.out);
  EXPECT_EQ(e["images"], 1000);
  EXPECT_GE(e["bleu4"].get<double>(), 0.0);
  EXPECT_LE(e["bleu1"].get<double>(), 1.0);
  EXPECT_EQ(e["per_image"].size(), 1000u);
  // A captioner is not a classifier.
  EXPECT_EQ(test::run_zoo("predict --weights " + ckpt + " " + images / "a.png").exit_code, 65);
}

// An attention model on a COCO-layout folder (images read from files), and its attention map.
TEST(CaptionerCli, CocoFolderWithAttention) {
  TempDir data, runs;
  write_shapes_captions_coco(data.path().string(), 24, 8, 48);
  auto r = test::run_zoo("train captioner --data " + data.path().string() + " --attention --backbone lenet5 "
                         "--input-size 32 --batch-size 8 --epochs 1 --embed 16 --hidden 32 --workers 0 --runs-dir " +
                         runs.path().string() + " --name coco");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string image;
  for (const auto& f : fs::directory_iterator(data / "val2017")) image = std::max(image, f.path().string());
  ASSERT_FALSE(image.empty());
  r = test::run_zoo("caption --weights " + runs / "coco/checkpoints/best.pt" + " --attention-map " + runs / "att.png " + image);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(cv::imread(runs / "att.png").empty());
  r = test::run_zoo("eval --weights " + runs / "coco/checkpoints/best.pt" + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["images"], 8);
}

// The encoder from a weights file, frozen: every encoder tensor of the trained checkpoint is
// the file's, bit for bit, and the decoder trained.
TEST(CaptionerCli, BackboneWeightsFrozen) {
  TempDir dir, runs;
  torch::manual_seed(3);
  ModelOptions b;
  b.num_classes = 10;
  b.in_channels = 3;
  b.input_size = 32;
  const Classifier lenet = build_classifier("lenet5", b);
  const StateDict original = state_dict_of(*lenet);
  write_pth(dir / "lenet.pth", original);
  auto r = test::run_zoo("train captioner --backbone lenet5 --backbone-weights " + dir / "lenet.pth" +
                         " --freeze-backbone --input-size 32 --batch-size 16 --limit-batches 3 --limit-val-batches 1 "
                         "--epochs 1 --embed 16 --hidden 32 --workers 0 --runs-dir " + runs.path().string() + " --name frozen");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Checkpoint ckpt = load_checkpoint(runs / "frozen/checkpoints/last.pt");
  std::map<std::string, torch::Tensor> trained(ckpt.model.begin(), ckpt.model.end());
  for (const auto& [key, tensor] : original) {
    ASSERT_TRUE(trained.count("encoder." + key)) << key;
    EXPECT_TRUE(torch::equal(trained["encoder." + key], tensor)) << key;
  }
  // A backbone whose weights do not fit is refused before training.
  r = test::run_zoo("train captioner --backbone resnet18 --backbone-weights " + dir / "lenet.pth" +
                    " --epochs 1 --runs-dir " + runs.path().string());
  EXPECT_EQ(r.exit_code, 65) << r.err;
  // A captioner is not trained from --weights.
  EXPECT_EQ(test::run_zoo("finetune captioner --weights " + dir / "lenet.pth").exit_code, 2);
}

}  // namespace
}  // namespace zoo
