// zoo caption IMAGE... [--weights CKPT]: one caption per image by beam search with a trained
// captioner; --json adds the top beams and their scores; --attention-map PNG draws where an
// attention model looked for each word. Without --weights: the newest runs/*/checkpoints/best.pt
// of a captioner run. An image that cannot be read gets an error line; the others are still
// captioned, and the exit code reports the failure at the end.
#include "app/commands/commands.h"
#include "app/engine/caption.h"
#include "app/engine/tasks/captioning.h"
#include "common/device.h"
#include "common/error.h"
#include "common/json_text.h"
#include "data/image.h"
#include "data/image_folder.h"

#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/utils.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>

namespace zoo {

namespace fs = std::filesystem;

namespace {

struct CaptionOptions {
  std::vector<std::string> images;
  std::string weights;
  std::string runs_dir = "runs";
  BeamOptions beam;
  int64_t top = 3;  // beams listed by --json
  std::string attention_map;
  int threads = 0;
  bool json = false;
};

// The newest best.pt of a captioner run under runs_dir (its config.json names the model).
std::string newest_captioner(const std::string& runs_dir) {
  std::error_code ec;
  std::string best;
  fs::file_time_type newest{};
  for (const auto& run : fs::directory_iterator(runs_dir, ec)) {
    const fs::path ckpt = run.path() / "checkpoints" / "best.pt";
    if (!fs::exists(ckpt, ec)) continue;
    std::ifstream in(run.path() / "config.json");
    nlohmann::json config = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (!config.is_object() || config.value("model", "") != "captioner") continue;
    const auto when = fs::last_write_time(ckpt, ec);
    if (best.empty() || when > newest) {
      best = ckpt.string();
      newest = when;
    }
  }
  if (best.empty()) {
    throw missing_error("no captioner checkpoint under " + runs_dir + "/*/checkpoints/best.pt; HINT: train one "
                        "(zoo train captioner) or pass --weights CKPT");
  }
  return best;
}

// One panel per token: the image dimmed where the attention weights (h x w, upsampled, scaled
// to the panel's range) are low, the word written above.
void write_attention_map(const std::string& path, const std::string& image_path, const std::vector<std::string>& words,
                         const std::vector<torch::Tensor>& attention, int64_t h, int64_t w) {
  constexpr int kPanel = 160, kLabel = 24, kColumns = 5;
  cv::Mat image = read_image(image_path, 3);  // RGB, through the decoder's size checks
  cv::cvtColor(image, image, cv::COLOR_RGB2BGR);
  cv::resize(image, image, cv::Size(kPanel, kPanel), 0, 0, cv::INTER_AREA);
  const int panels = static_cast<int>(attention.size());
  const int columns = std::min(kColumns, panels), rows = (panels + kColumns - 1) / kColumns;
  cv::Mat canvas(rows * (kPanel + kLabel), columns * kPanel, CV_8UC3, cv::Scalar(255, 255, 255));
  for (int i = 0; i < panels; ++i) {
    const torch::Tensor a = attention[i].to(torch::kFloat).reshape({h, w}).contiguous();
    cv::Mat alpha(static_cast<int>(h), static_cast<int>(w), CV_32F, a.data_ptr<float>());
    cv::Mat up;
    cv::resize(alpha, up, cv::Size(kPanel, kPanel), 0, 0, cv::INTER_LINEAR);
    double lo = 0, hi = 0;
    cv::minMaxLoc(up, &lo, &hi);
    up = (up - lo) / std::max(hi - lo, 1e-12);
    cv::Mat panel = image.clone();  // where the weight is low, the image is dimmed
    for (int y = 0; y < kPanel; ++y) {
      for (int x = 0; x < kPanel; ++x) {
        const float v = 0.2f + 0.8f * up.at<float>(y, x);
        cv::Vec3b& px = panel.at<cv::Vec3b>(y, x);
        px = cv::Vec3b(static_cast<uchar>(px[0] * v), static_cast<uchar>(px[1] * v), static_cast<uchar>(px[2] * v));
      }
    }
    const int r = i / kColumns, c = i % kColumns;
    panel.copyTo(canvas(cv::Rect(c * kPanel, r * (kPanel + kLabel) + kLabel, kPanel, kPanel)));
    const std::string word = i < static_cast<int>(words.size()) ? words[i] : "<end>";
    cv::putText(canvas, word, cv::Point(c * kPanel + 4, r * (kPanel + kLabel) + 17), cv::FONT_HERSHEY_SIMPLEX, 0.55,
                cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  }
  if (!cv::imwrite(path, canvas)) throw io_error("cannot write the attention map " + path);
}

std::string numbered(const std::string& path, size_t i, size_t count) {
  if (count == 1) return path;
  const fs::path p(path);
  return (p.parent_path() / (p.stem().string() + "-" + std::to_string(i) + p.extension().string())).string();
}

void run_caption(CaptionOptions opts) {
  if (opts.images.empty()) throw usage_error("no image given; HINT: zoo caption photo.jpg [more.png ...]");
  at::set_num_threads(resolve_threads(opts.threads));
  if (opts.weights.empty()) opts.weights = newest_captioner(opts.runs_dir);
  LoadedCaptioner lc = load_captioner(opts.weights);
  if (!opts.attention_map.empty() && !lc.model->options().attention) {
    throw usage_error("--attention-map needs a captioner trained with --attention; " + opts.weights + " has none");
  }
  torch::NoGradGuard no_grad;
  nlohmann::json out = nlohmann::json::array();
  std::optional<Error> first;
  int failed = 0;
  for (size_t i = 0; i < opts.images.size(); ++i) {
    const std::string& path = opts.images[i];
    try {
      const torch::Tensor image = load_image_file(path, lc.spec).unsqueeze(0);
      const ImageFeatures features = lc.model->encode(image);
      const auto beams = beam_search(*lc.model, features, opts.beam);
      const std::vector<std::string> words = beams.empty() ? std::vector<std::string>{} : lc.vocab.decode(beams[0].words);
      nlohmann::json row = {{"image", path}, {"caption", join_words(words)}};
      nlohmann::json top = nlohmann::json::array();
      for (size_t b = 0; b < beams.size() && static_cast<int64_t>(b) < opts.top; ++b) {
        top.push_back({{"caption", join_words(lc.vocab.decode(beams[b].words))},
                       {"score", beams[b].score},
                       {"logprob", beams[b].logprob},
                       {"ended", beams[b].ended}});
      }
      row["beams"] = top;
      if (!opts.attention_map.empty() && !beams.empty()) {
        const std::string png = numbered(opts.attention_map, i, opts.images.size());
        write_attention_map(png, path, words, beams[0].attention, features.height, features.width);
        row["attention_map"] = png;
      }
      if (!opts.json) std::printf("%s: %s\n", path.c_str(), join_words(words).c_str());
      out.push_back(row);
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::kInterrupted || opts.images.size() == 1) throw;  // one image: its error is the command's
      std::fprintf(stderr, "zoo: error: %s\n", e.what());
      if (!first) first = e;
      ++failed;
    }
    std::fflush(stdout);
  }
  if (opts.json) std::printf("%s\n", json_text(out, 2).c_str());
  if (first) {
    throw Error(first->kind(), std::to_string(failed) + " of " + std::to_string(opts.images.size()) +
                " images could not be captioned (errors above)");
  }
}

}  // namespace

void register_caption(CLI::App& app) {
  auto opts = std::make_shared<CaptionOptions>();
  CLI::App* cmd = app.add_subcommand("caption", "Caption image files with a trained captioner (beam search)");
  cmd->add_option("images", opts->images, "Image files (PNG, JPEG, BMP, ...)");
  cmd->add_option("--weights", opts->weights,
                  "A captioner checkpoint; default: the newest runs/*/checkpoints/best.pt of a captioner run");
  cmd->add_option("--runs-dir", opts->runs_dir, "Where to look for runs without --weights")->capture_default_str();
  add_beam_options(cmd, opts->beam);
  cmd->add_option("--top", opts->top, "Beams listed per image by --json")->check(kPositiveNumber)->capture_default_str();
  cmd->add_option("--attention-map", opts->attention_map,
                  "Write the attention over the image for each word to this PNG (several images: "
                  "NAME-0.png, NAME-1.png ...); models trained with --attention");
  add_threads_option(cmd, opts->threads)
      ->capture_default_str();
  cmd->add_flag("--json", opts->json, "Print machine-readable JSON on stdout: captions, top beams and scores");
  cmd->callback([opts] { run_caption(*opts); });
}

}  // namespace zoo
