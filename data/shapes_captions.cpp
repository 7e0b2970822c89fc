// Scene layout, captions, drawing and the COCO-captions writer for `shapes-captions`; see
// shapes_captions.h for the layout rules and the caption grammar.
#include "data/shapes_captions.h"

#include "common/atomic_file.h"
#include "common/error.h"

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <system_error>

namespace zoo {

namespace {

constexpr std::array<const char*, 4> kKinds = {"circle", "square", "triangle", "diamond"};
constexpr std::array<const char*, 5> kColours = {"red", "green", "blue", "yellow", "white"};
// RGB of each colour in kColours; every pair differs by at least 150 in some channel.
constexpr std::array<std::array<int, 3>, 5> kRgb = {{
    {225, 35, 35},    // red
    {35, 205, 60},    // green
    {45, 85, 235},    // blue
    {235, 215, 35},   // yellow
    {235, 235, 235},  // white
}};
constexpr double kSmallRadius = 0.09;  // of the image side
constexpr double kLargeRadius = 0.17;
constexpr double kGap = 0.05;          // of the image side: between shapes, and between offsets
constexpr int kMinSize = 16;
constexpr int kLayoutAttempts = 32;    // whole layouts tried before a large shape is made small
constexpr int kPlacementTries = 64;    // positions tried per shape within one layout
constexpr int kShift = 4;              // sub-pixel bits for OpenCV drawing

// The splitmix64 finaliser (with its increment): a bijection on 64-bit integers.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A splitmix64 stream: the same numbers on every platform and standard library.
class Stream {
 public:
  explicit Stream(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform(double lo, double hi) { return lo + (hi - lo) * double(next() >> 11) * 0x1.0p-53; }
  // An integer in [lo, hi).
  int randint(int lo, int hi) { return lo + int(next() % uint64_t(hi - lo)); }

 private:
  uint64_t state_;
};

void check_size(int size) {
  if (size < kMinSize) {
    throw usage_error("shapes-captions: image size " + std::to_string(size) + " is too small; HINT: use at least " +
                      std::to_string(kMinSize) + " pixels");
  }
}

double radius_of(const std::string& size_word, int size) {
  return (size_word == "large" ? kLargeRadius : kSmallRadius) * size;
}

// Whether shape b may sit next to a in a scene of n shapes (see the header's layout rules).
bool compatible(const ShapeSpec& a, const ShapeSpec& b, size_t n, int size) {
  const double dx = std::abs(b.cx - a.cx), dy = std::abs(b.cy - a.cy);
  const double gap = kGap * size;
  if (std::hypot(dx, dy) < a.radius + b.radius + gap) return false;
  if (n == 2 && std::abs(dx - dy) < gap) return false;
  if (n == 3 && (dx < gap || dy < gap)) return false;
  return true;
}

// Places every shape (kind, colour and size already set) or returns false.
bool place(std::vector<ShapeSpec>& shapes, Stream& rng, int size) {
  for (size_t j = 0; j < shapes.size(); ++j) {
    ShapeSpec& s = shapes[j];
    const double lo = s.radius + 1.0, hi = size - 1.0 - s.radius;
    bool placed = false;
    for (int t = 0; t < kPlacementTries && !placed; ++t) {
      s.cx = rng.uniform(lo, hi);
      s.cy = rng.uniform(lo, hi);
      placed = true;
      for (size_t k = 0; k < j && placed; ++k) placed = compatible(shapes[k], s, shapes.size(), size);
    }
    if (!placed) return false;
  }
  return true;
}

std::vector<std::string> phrase(const ShapeSpec& s) { return {"a", s.size, s.colour, s.kind}; }

std::vector<std::string> join(std::initializer_list<std::vector<std::string>> parts) {
  std::vector<std::string> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::vector<std::vector<std::string>> captions_of(const std::vector<ShapeSpec>& shapes) {
  std::vector<std::vector<std::string>> captions;
  if (shapes.size() == 1) {
    const auto a = phrase(shapes[0]);
    captions.push_back(a);
    captions.push_back(join({a, {"on", "a", "black", "background"}}));
  } else if (shapes.size() == 2) {
    const ShapeSpec *a = &shapes[0], *b = &shapes[1];
    const double dx = b->cx - a->cx, dy = b->cy - a->cy;
    if (std::abs(dy) > std::abs(dx)) {
      if (dy < 0) std::swap(a, b);  // a is the upper one
      captions.push_back(join({phrase(*a), {"above"}, phrase(*b)}));
      captions.push_back(join({phrase(*b), {"below"}, phrase(*a)}));
    } else {
      if (dx < 0) std::swap(a, b);  // a is the left one
      captions.push_back(join({phrase(*a), {"to", "the", "left", "of"}, phrase(*b)}));
      captions.push_back(join({phrase(*b), {"to", "the", "right", "of"}, phrase(*a)}));
    }
    captions.push_back(join({phrase(shapes[0]), {"and"}, phrase(shapes[1])}));
    captions.push_back(join({phrase(shapes[1]), {"and"}, phrase(shapes[0])}));
  } else {
    std::vector<size_t> by_x(shapes.size()), by_y(shapes.size());
    std::iota(by_x.begin(), by_x.end(), 0);
    std::iota(by_y.begin(), by_y.end(), 0);
    std::sort(by_x.begin(), by_x.end(), [&](size_t i, size_t j) { return shapes[i].cx < shapes[j].cx; });
    std::sort(by_y.begin(), by_y.end(), [&](size_t i, size_t j) { return shapes[i].cy < shapes[j].cy; });
    std::vector<std::vector<size_t>> orders = {by_x, {by_x.rbegin(), by_x.rend()}, by_y,
                                               {by_y.rbegin(), by_y.rend()}};
    std::vector<std::vector<size_t>> seen;
    for (const auto& o : orders) {
      if (std::find(seen.begin(), seen.end(), o) != seen.end()) continue;
      seen.push_back(o);
      captions.push_back(join({phrase(shapes[o[0]]), {","}, phrase(shapes[o[1]]), {"and"}, phrase(shapes[o[2]])}));
    }
  }
  return captions;
}

size_t colour_index(const std::string& colour) {
  for (size_t i = 0; i < kColours.size(); ++i) {
    if (colour == kColours[i]) return i;
  }
  throw internal_error("shapes-captions: unknown colour '" + colour + "'");
}

// The polygon of a non-circle shape, in OpenCV fixed point with kShift fractional bits.
std::vector<cv::Point> polygon_of(const ShapeSpec& s) {
  std::vector<double> angles;  // degrees, image coordinates (y down)
  if (s.kind == "square") {
    angles = {45, 135, 225, 315};
  } else if (s.kind == "diamond") {
    angles = {0, 90, 180, 270};
  } else if (s.kind == "triangle") {
    angles = {-90, 30, 150};  // apex up
  } else {
    throw internal_error("shapes-captions: unknown shape kind '" + s.kind + "'");
  }
  std::vector<cv::Point> pts;
  const double scale = double(1 << kShift);
  for (double a : angles) {
    const double r = a * M_PI / 180.0;
    pts.emplace_back(int(std::lround((s.cx + s.radius * std::cos(r)) * scale)),
                     int(std::lround((s.cy + s.radius * std::sin(r)) * scale)));
  }
  return pts;
}

void make_directory(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) {
    throw io_error("cannot create directory '" + path.string() + "': " + ec.message() +
                   "; HINT: check that the parent is writable");
  }
}

std::string image_name(size_t id) {
  char name[32];
  std::snprintf(name, sizeof(name), "%012zu.jpg", id);
  return name;
}

// Writes the images of one split and returns its COCO annotation document. `next_image_id` and
// `next_annotation_id` continue across splits.
nlohmann::json write_split(const std::filesystem::path& root, const std::string& folder, int split, size_t count,
                           int size, uint64_t seed_offset, size_t& next_image_id, size_t& next_annotation_id) {
  const std::filesystem::path image_dir = root / folder;
  make_directory(image_dir);
  nlohmann::json images = nlohmann::json::array();
  nlohmann::json annotations = nlohmann::json::array();
  const std::vector<int> jpeg = {cv::IMWRITE_JPEG_QUALITY, 95};
  for (size_t i = 0; i < count; ++i) {
    const uint64_t seed = shapes_captions_seed(split, size_t(seed_offset) + i);
    const ShapesScene scene = make_shapes_scene(seed, size);
    cv::Mat bgr;
    cv::cvtColor(render_shapes_scene(scene, seed, size), bgr, cv::COLOR_RGB2BGR);
    const size_t id = next_image_id++;
    const std::string file_name = image_name(id);
    const std::string path = (image_dir / file_name).string();
    bool ok = false;
    std::string why = "the encoder reported a failure";
    try {
      ok = cv::imwrite(path, bgr, jpeg);
    } catch (const cv::Exception& e) {
      why = e.what();
    }
    if (!ok) {
      throw io_error("cannot write '" + path + "': " + why +
                     "; HINT: check that the directory is writable and that the disk has space");
    }
    images.push_back({{"id", id}, {"file_name", file_name}, {"height", size}, {"width", size}});
    for (const auto& caption : scene.captions) {
      annotations.push_back(
          {{"id", next_annotation_id++}, {"image_id", id}, {"caption", shapes_caption_sentence(caption)}});
    }
  }
  nlohmann::json doc;
  doc["info"] = {{"description", "zoo shapes-captions: generated scenes of 1 to 3 coloured shapes"},
                 {"url", ""},
                 {"version", "1.0"},
                 {"contributor", "zoo"},
                 {"image_size", size},
                 {"seed_offset", seed_offset}};
  doc["licenses"] = nlohmann::json::array();
  doc["images"] = std::move(images);
  doc["annotations"] = std::move(annotations);
  return doc;
}

}  // namespace

ShapesScene make_shapes_scene(uint64_t seed, int size) {
  check_size(size);
  Stream rng(mix(seed));
  const double u = rng.uniform(0.0, 1.0);
  const size_t n = u < 0.2 ? 1 : u < 0.7 ? 2 : 3;
  std::vector<ShapeSpec> shapes;
  std::vector<int> used;  // (colour, kind) pairs as colour * kinds + kind
  while (shapes.size() < n) {
    const int pair = rng.randint(0, int(kColours.size() * kKinds.size()));
    if (std::find(used.begin(), used.end(), pair) != used.end()) continue;
    used.push_back(pair);
    ShapeSpec s;
    s.colour = kColours[size_t(pair) / kKinds.size()];
    s.kind = kKinds[size_t(pair) % kKinds.size()];
    s.size = rng.randint(0, 2) ? "large" : "small";
    s.radius = radius_of(s.size, size);
    s.cx = s.cy = 0.0;
    shapes.push_back(s);
  }
  for (;;) {
    for (int attempt = 0; attempt < kLayoutAttempts; ++attempt) {
      if (place(shapes, rng, size)) return ShapesScene{shapes, captions_of(shapes)};
    }
    // The largest shapes do not fit together: make the last large one small and try again.
    auto large = std::find_if(shapes.rbegin(), shapes.rend(), [](const ShapeSpec& s) { return s.size == "large"; });
    if (large == shapes.rend()) {
      throw internal_error("shapes-captions: " + std::to_string(n) + " small shapes do not fit in a " +
                           std::to_string(size) + " pixel image");
    }
    large->size = "small";
    large->radius = radius_of("small", size);
  }
}

cv::Mat render_shapes_scene(const ShapesScene& scene, uint64_t seed, int size) {
  check_size(size);
  Stream rng(mix(seed ^ 0x7265'6e64'6572ULL));
  // Near-black background with a slight tint.
  const cv::Scalar background(rng.randint(4, 24), rng.randint(4, 24), rng.randint(4, 24));
  cv::Mat img(size, size, CV_8UC3, background);
  const double scale = double(1 << kShift);
  for (const auto& s : scene.shapes) {
    const auto& rgb = kRgb[colour_index(s.colour)];
    // Each shape's colour varies by up to +-12 per channel around the palette entry.
    const cv::Scalar colour(rgb[0] + rng.randint(-12, 13), rgb[1] + rng.randint(-12, 13),
                            rgb[2] + rng.randint(-12, 13));
    if (s.kind == "circle") {
      const cv::Point centre(int(std::lround(s.cx * scale)), int(std::lround(s.cy * scale)));
      cv::circle(img, centre, int(std::lround(s.radius * scale)), colour, cv::FILLED, cv::LINE_AA, kShift);
    } else {
      cv::fillPoly(img, std::vector<std::vector<cv::Point>>{polygon_of(s)}, colour, cv::LINE_AA, kShift);
    }
  }
  // Pixel noise, +-6 per channel.
  for (int y = 0; y < size; ++y) {
    uint8_t* row = img.ptr<uint8_t>(y);
    for (int x = 0; x < size * 3; ++x) row[x] = cv::saturate_cast<uint8_t>(row[x] + rng.randint(-6, 7));
  }
  return img;
}

uint64_t shapes_captions_seed(int split, size_t index) {
  if (split != 0 && split != 1) {
    throw internal_error("shapes-captions: split " + std::to_string(split) + " is not 0 (train) or 1 (val)");
  }
  if (uint64_t(index) >= (uint64_t(1) << 40)) {
    throw internal_error("shapes-captions: scene index " + std::to_string(index) + " is not below 2^40");
  }
  return mix(kShapesCaptionsSeed ^ (uint64_t(split) << 40 | uint64_t(index)));
}

std::vector<std::string> shapes_captions_vocabulary() {
  std::vector<std::string> words = {"a",  "small", "large", "above", "below", "to",    "the",        ",",
                                    "of", "left",  "right", "and",   "on",    "black", "background"};
  words.insert(words.end(), kKinds.begin(), kKinds.end());
  words.insert(words.end(), kColours.begin(), kColours.end());
  std::sort(words.begin(), words.end());
  return words;
}

std::string shapes_caption_sentence(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') out[0] = char(out[0] - 'a' + 'A');
  return out + ".";
}

void write_shapes_captions_coco(const std::string& dir, size_t train, size_t val, int size, uint64_t seed_offset) {
  check_size(size);
  constexpr uint64_t kLimit = uint64_t(1) << 40;
  if (seed_offset >= kLimit || uint64_t(std::max(train, val)) > kLimit - seed_offset) {
    throw usage_error("shapes-captions: seed offset " + std::to_string(seed_offset) + " plus " +
                      std::to_string(std::max(train, val)) + " scenes reaches 2^40; HINT: use a smaller offset");
  }
  const std::filesystem::path root(dir);
  make_directory(root / "annotations");
  size_t next_image_id = 1, next_annotation_id = 1;
  const nlohmann::json train_doc =
      write_split(root, "train2017", 0, train, size, seed_offset, next_image_id, next_annotation_id);
  const nlohmann::json val_doc =
      write_split(root, "val2017", 1, val, size, seed_offset, next_image_id, next_annotation_id);
  for (const auto& [name, doc] : {std::pair<const char*, const nlohmann::json*>{"captions_train2017.json", &train_doc},
                                  {"captions_val2017.json", &val_doc}}) {
    AtomicFile file((root / "annotations" / name).string());
    const std::string text = doc->dump();
    file.write(text.data(), text.size());
    file.commit();
  }
}

}  // namespace zoo
