// `shapes`: a synthetic image classification set generated in-process, the embedded default
// for the CNNs that want RGB input. 64 x 64 RGB images of one coloured geometric shape (10
// classes) with a random size, position, rotation and colour on a noisy background of another
// colour with a few distractor lines. Each image is drawn on demand from (dataset seed, split,
// index), so nothing is held in memory and every run sees the same images; the training split
// is then augmented like CIFAR (padded random crop + flip) from the loader's sample seed.
// Sizes: 10,000 training and 1,000 validation images, balanced (class = index % 10): enough
// steps for ResNet-18 to learn them in 3 epochs at batch 64 (docs/BENCHMARKS.md).
#include "common/error.h"
#include "data/formats.h"
#include "data/transforms.h"

#include <opencv2/imgproc.hpp>

#include <cmath>

namespace zoo {

namespace {

constexpr int kSize = 64;
constexpr uint64_t kDatasetSeed = 0x5ba9e5;
constexpr size_t kTrainSize = 10000;
constexpr size_t kValSize = 1000;

uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::vector<cv::Point> regular_polygon(cv::Point2d c, double r, int sides, double angle,
                                       double inner = 0.0) {
  std::vector<cv::Point> pts;
  const int n = inner > 0 ? 2 * sides : sides;
  for (int i = 0; i < n; ++i) {
    const double a = angle + 2.0 * M_PI * i / n;
    const double rr = inner > 0 && i % 2 ? inner : r;
    pts.emplace_back(int(std::lround(c.x + rr * std::cos(a))), int(std::lround(c.y + rr * std::sin(a))));
  }
  return pts;
}

std::vector<cv::Point> plus_sign(cv::Point2d c, double r, double angle) {
  const double w = 0.33 * r;  // half the arm width
  const double xy[12][2] = {{-w, -r}, {w, -r}, {w, -w}, {r, -w}, {r, w},  {w, w},
                            {w, r},   {-w, r}, {-w, w}, {-r, w}, {-r, -w}, {-w, -w}};
  std::vector<cv::Point> pts;
  const double ca = std::cos(angle), sa = std::sin(angle);
  for (const auto& p : xy) {
    pts.emplace_back(int(std::lround(c.x + p[0] * ca - p[1] * sa)), int(std::lround(c.y + p[0] * sa + p[1] * ca)));
  }
  return pts;
}

double luma(const cv::Scalar& c) { return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]; }

// Draws image `index` of a split (RGB, kSize x kSize); its class is index % 10.
cv::Mat draw_shape(uint64_t seed, size_t index) {
  Rng rng(mix(seed ^ mix(index)));
  const int label = int(index % 10);
  auto colour = [&] { return cv::Scalar(double(rng.randint(0, 256)), double(rng.randint(0, 256)), double(rng.randint(0, 256))); };
  const cv::Scalar bg = colour();
  cv::Scalar fg = colour();
  while (std::abs(luma(fg) - luma(bg)) < 80) fg = colour();
  cv::Mat img(kSize, kSize, CV_8UC3, bg);
  for (int i = 0, n = int(rng.randint(0, 3)); i < n; ++i) {  // distractor lines
    const cv::Point a(int(rng.randint(0, kSize)), int(rng.randint(0, kSize)));
    const cv::Point b(int(rng.randint(0, kSize)), int(rng.randint(0, kSize)));
    cv::line(img, a, b, colour(), 1, cv::LINE_AA);
  }
  const double r = rng.uniform(12.0, 24.0);
  const cv::Point2d c(rng.uniform(r + 1, kSize - r - 1), rng.uniform(r + 1, kSize - r - 1));
  const double angle = rng.uniform(0.0, 2.0 * M_PI);
  const int thickness = std::max(2, int(r / 3.5));
  const cv::Point ci(int(std::lround(c.x)), int(std::lround(c.y)));
  auto fill = [&](const std::vector<cv::Point>& pts) {
    cv::fillPoly(img, std::vector<std::vector<cv::Point>>{pts}, fg, cv::LINE_AA);
  };
  switch (label) {
    case 0: cv::circle(img, ci, int(r), fg, cv::FILLED, cv::LINE_AA); break;
    case 1: cv::circle(img, ci, int(r - thickness / 2), fg, thickness, cv::LINE_AA); break;
    case 2: fill(regular_polygon(c, r, 4, angle)); break;
    case 3:
      cv::polylines(img, std::vector<std::vector<cv::Point>>{regular_polygon(c, r - thickness / 2, 4, angle)},
                    true, fg, thickness, cv::LINE_AA);
      break;
    case 4: fill(regular_polygon(c, r, 3, angle)); break;
    case 5: fill(regular_polygon(c, r, 5, angle)); break;
    case 6: fill(regular_polygon(c, r, 6, angle)); break;
    case 7: fill(regular_polygon(c, r, 5, angle, 0.45 * r)); break;
    case 8: fill(plus_sign(c, r, angle)); break;
    default:
      cv::ellipse(img, ci, cv::Size(int(r), int(r)), angle * 180.0 / M_PI, 0, 180, fg, cv::FILLED, cv::LINE_AA);
      break;
  }
  // Pixel noise, +-16 per channel.
  for (int y = 0; y < kSize; ++y) {
    uint8_t* row = img.ptr<uint8_t>(y);
    for (int x = 0; x < kSize * 3; ++x) row[x] = cv::saturate_cast<uint8_t>(row[x] + int(rng.randint(-16, 17)));
  }
  return img;
}

class ShapesDataset : public Dataset {
 public:
  ShapesDataset(size_t size, uint64_t seed, SampleSpec spec, Augment augment, std::string split)
      : size_(size), seed_(seed), spec_(spec), augment_(augment), split_(std::move(split)) {}
  size_t size() const override { return size_; }
  int64_t label(size_t index) const override { return int64_t(index % 10); }
  void load(size_t index, float* out, uint64_t sample_seed) const override {
    small_image_pipeline(draw_shape(seed_, index), spec_, augment_, true, sample_seed, out);
  }
  const SampleSpec& spec() const override { return spec_; }
  std::string describe(size_t index) const override {
    return "shapes/" + split_ + "[" + std::to_string(index) + "]";
  }
  std::array<int64_t, 2> source_size(size_t) const override { return {kSize, kSize}; }

 private:
  size_t size_;
  uint64_t seed_;
  SampleSpec spec_;
  Augment augment_;
  std::string split_;
};

}  // namespace

std::vector<std::string> shapes_classes() {
  return {"circle", "ring", "square", "frame", "triangle", "pentagon", "hexagon", "star", "cross", "half-disc"};
}

DataSplits open_shapes(const DataOptions& options) {
  DataSplits splits;
  splits.name = "shapes";
  splits.location = "(generated in-process)";
  splits.val_name = "val";
  splits.native_size = kSize;
  splits.class_names = shapes_classes();
  const SampleSpec spec = fitted_spec(options, kSize);
  splits.train = std::make_shared<ShapesDataset>(kTrainSize, kDatasetSeed, spec,
                                                 parse_augment(options.augment), "train");
  splits.val = std::make_shared<ShapesDataset>(kValSize, mix(kDatasetSeed), spec, Augment::kNone, "val");
  splits.stored_channels = 3;
  splits.train_pipeline = "draw " + std::to_string(kSize) + " x " + std::to_string(kSize) + " + " +
                          small_pipeline_name(spec, kSize, kSize, parse_augment(options.augment), true);
  splits.eval_pipeline = "draw " + std::to_string(kSize) + " x " + std::to_string(kSize) + " + " +
                         small_pipeline_name(spec, kSize, kSize, Augment::kNone, true);
  describe_geometry(splits, options, std::to_string(kSize) + " x " + std::to_string(kSize) + " RGB");
  return splits;
}

}  // namespace zoo
