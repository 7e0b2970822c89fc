// The shapes-captions scene generator: determinism, layout rules (no overlaps, readable
// relations), captions that name every shape and agree with the geometry, the vocabulary and
// shape-count distribution over many scenes, seeds that never repeat across splits, and the
// COCO-captions writer's files (JSON that parses with matching ids, JPEGs that decode).
#include "data/shapes_captions.h"

#include "common/error.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <unistd.h>

namespace zoo {
namespace {

namespace fs = std::filesystem;
using Caption = std::vector<std::string>;

// A fresh directory under /tmp, removed when the object goes away.
using test::TempDir;

ShapesScene scene_of(size_t index, int split = 0) {
  return make_shapes_scene(shapes_captions_seed(split, index), kShapesCaptionsSize);
}

// The shapes a caption names, in the order it names them: each "a SIZE COLOUR KIND" phrase
// matched to the scene's shape with that colour and kind. Fails the test when a phrase names no
// shape or gives the wrong size.
std::vector<const ShapeSpec*> named_shapes(const ShapesScene& scene, const Caption& caption) {
  std::vector<const ShapeSpec*> out;
  for (size_t i = 0; i + 3 < caption.size(); ++i) {
    if (caption[i] != "a" || caption[i + 1] == "black") continue;
    const ShapeSpec* match = nullptr;
    for (const auto& s : scene.shapes) {
      if (s.colour == caption[i + 2] && s.kind == caption[i + 3]) match = &s;
    }
    EXPECT_NE(match, nullptr) << shapes_caption_sentence(caption);
    if (match == nullptr) continue;
    EXPECT_EQ(match->size, caption[i + 1]) << shapes_caption_sentence(caption);
    out.push_back(match);
  }
  return out;
}

bool contains(const Caption& caption, const std::string& word) {
  return std::find(caption.begin(), caption.end(), word) != caption.end();
}

TEST(ShapesCaptions, SameSeedGivesSameSceneAndPixels) {
  for (uint64_t seed : {uint64_t(0), uint64_t(7), shapes_captions_seed(1, 999)}) {
    const ShapesScene a = make_shapes_scene(seed, 64), b = make_shapes_scene(seed, 64);
    ASSERT_EQ(a.shapes.size(), b.shapes.size());
    for (size_t i = 0; i < a.shapes.size(); ++i) {
      EXPECT_EQ(a.shapes[i].kind, b.shapes[i].kind);
      EXPECT_EQ(a.shapes[i].colour, b.shapes[i].colour);
      EXPECT_EQ(a.shapes[i].size, b.shapes[i].size);
      EXPECT_EQ(a.shapes[i].cx, b.shapes[i].cx);
      EXPECT_EQ(a.shapes[i].cy, b.shapes[i].cy);
      EXPECT_EQ(a.shapes[i].radius, b.shapes[i].radius);
    }
    EXPECT_EQ(a.captions, b.captions);
    const cv::Mat x = render_shapes_scene(a, seed, 64), y = render_shapes_scene(b, seed, 64);
    ASSERT_EQ(x.type(), CV_8UC3);
    ASSERT_EQ(x.rows, 64);
    ASSERT_EQ(x.cols, 64);
    EXPECT_EQ(cv::norm(x, y, cv::NORM_L1), 0.0);
  }
}

TEST(ShapesCaptions, DifferentSeedsGiveDifferentScenes) {
  std::set<std::string> layouts;
  for (size_t i = 0; i < 200; ++i) {
    const ShapesScene s = scene_of(i);
    std::string key;
    for (const auto& shape : s.shapes) {
      key += shape.size + shape.colour + shape.kind + std::to_string(shape.cx) + "," + std::to_string(shape.cy) + ";";
    }
    layouts.insert(key);
  }
  EXPECT_EQ(layouts.size(), 200u);
  const uint64_t s0 = shapes_captions_seed(0, 0), s1 = shapes_captions_seed(0, 1);
  const cv::Mat a = render_shapes_scene(make_shapes_scene(s0, 64), s0, 64);
  const cv::Mat b = render_shapes_scene(make_shapes_scene(s1, 64), s1, 64);
  EXPECT_GT(cv::norm(a, b, cv::NORM_L1), 0.0);
}

TEST(ShapesCaptions, SeedsNeverRepeatAcrossSplits) {
  std::set<uint64_t> seeds;
  for (size_t i = 0; i < kShapesCaptionsTrain; ++i) seeds.insert(shapes_captions_seed(0, i));
  for (size_t i = 0; i < kShapesCaptionsVal; ++i) seeds.insert(shapes_captions_seed(1, i));
  EXPECT_EQ(seeds.size(), kShapesCaptionsTrain + kShapesCaptionsVal);
  EXPECT_NE(shapes_captions_seed(0, 5), shapes_captions_seed(1, 5));
}

TEST(ShapesCaptions, LayoutFollowsTheRules) {
  const std::set<std::string> kinds = {"circle", "square", "triangle", "diamond"};
  const std::set<std::string> colours = {"red", "green", "blue", "yellow", "white"};
  const int size = kShapesCaptionsSize;
  for (size_t i = 0; i < 2000; ++i) {
    const ShapesScene s = scene_of(i);
    ASSERT_GE(s.shapes.size(), 1u);
    ASSERT_LE(s.shapes.size(), 3u);
    std::set<std::pair<std::string, std::string>> pairs;
    for (const auto& a : s.shapes) {
      EXPECT_TRUE(kinds.count(a.kind)) << a.kind;
      EXPECT_TRUE(colours.count(a.colour)) << a.colour;
      ASSERT_TRUE(a.size == "small" || a.size == "large") << a.size;
      EXPECT_DOUBLE_EQ(a.radius, (a.size == "small" ? 0.09 : 0.17) * size);
      // Inside the image with a pixel to spare.
      EXPECT_GE(a.cx - a.radius, 1.0);
      EXPECT_GE(a.cy - a.radius, 1.0);
      EXPECT_LE(a.cx + a.radius, size - 1.0);
      EXPECT_LE(a.cy + a.radius, size - 1.0);
      pairs.insert({a.colour, a.kind});
    }
    EXPECT_EQ(pairs.size(), s.shapes.size()) << "scene " << i << " repeats a (colour, kind) pair";
    for (size_t j = 0; j < s.shapes.size(); ++j) {
      for (size_t k = j + 1; k < s.shapes.size(); ++k) {
        const ShapeSpec &a = s.shapes[j], &b = s.shapes[k];
        const double dx = std::abs(a.cx - b.cx), dy = std::abs(a.cy - b.cy);
        EXPECT_GE(std::hypot(dx, dy), a.radius + b.radius + 0.05 * size) << "scene " << i << " overlaps";
        if (s.shapes.size() == 2) {
          EXPECT_GE(std::abs(dx - dy), 0.05 * size) << "scene " << i;
        }
        if (s.shapes.size() == 3) {
          EXPECT_GE(dx, 0.05 * size) << "scene " << i;
          EXPECT_GE(dy, 0.05 * size) << "scene " << i;
        }
      }
    }
  }
}

TEST(ShapesCaptions, EveryCaptionNamesEveryShape) {
  for (size_t i = 0; i < 1000; ++i) {
    const ShapesScene s = scene_of(i);
    ASSERT_GE(s.captions.size(), 2u);
    ASSERT_LE(s.captions.size(), 6u);
    std::set<Caption> distinct(s.captions.begin(), s.captions.end());
    EXPECT_EQ(distinct.size(), s.captions.size()) << "scene " << i << " repeats a caption";
    for (const auto& c : s.captions) {
      for (const auto& w : c) {
        for (char ch : w) EXPECT_FALSE(ch >= 'A' && ch <= 'Z') << w;
        EXPECT_TRUE(w == "," || std::all_of(w.begin(), w.end(), [](char ch) { return ch >= 'a' && ch <= 'z'; }))
            << w;
      }
      const auto named = named_shapes(s, c);
      ASSERT_EQ(named.size(), s.shapes.size()) << shapes_caption_sentence(c);
      std::set<const ShapeSpec*> once(named.begin(), named.end());
      EXPECT_EQ(once.size(), s.shapes.size()) << shapes_caption_sentence(c);
      for (const auto& shape : s.shapes) {
        EXPECT_TRUE(contains(c, shape.colour)) << shapes_caption_sentence(c);
        EXPECT_TRUE(contains(c, shape.kind)) << shapes_caption_sentence(c);
      }
    }
  }
}

TEST(ShapesCaptions, RelationsAgreeWithGeometry) {
  size_t vertical = 0, horizontal = 0, lists = 0;
  for (size_t i = 0; i < 2000; ++i) {
    const ShapesScene s = scene_of(i);
    for (const auto& c : s.captions) {
      const auto named = named_shapes(s, c);
      const std::string text = shapes_caption_sentence(c);
      if (s.shapes.size() == 2) {
        ASSERT_EQ(named.size(), 2u) << text;
        const double dx = named[1]->cx - named[0]->cx, dy = named[1]->cy - named[0]->cy;
        if (contains(c, "above")) {
          EXPECT_GT(std::abs(dy), std::abs(dx)) << text;
          EXPECT_GT(dy, 0.0) << text;  // the first one is higher (smaller y)
          ++vertical;
        } else if (contains(c, "below")) {
          EXPECT_GT(std::abs(dy), std::abs(dx)) << text;
          EXPECT_LT(dy, 0.0) << text;
          ++vertical;
        } else if (contains(c, "left")) {
          EXPECT_GE(std::abs(dx), std::abs(dy)) << text;
          EXPECT_GT(dx, 0.0) << text;
          ++horizontal;
        } else if (contains(c, "right")) {
          EXPECT_GE(std::abs(dx), std::abs(dy)) << text;
          EXPECT_LT(dx, 0.0) << text;
          ++horizontal;
        } else {
          EXPECT_TRUE(contains(c, "and")) << text;
        }
      } else if (s.shapes.size() == 3) {
        ASSERT_EQ(named.size(), 3u) << text;
        const Caption expected = {"a", named[0]->size, named[0]->colour, named[0]->kind, ",",
                                  "a", named[1]->size, named[1]->colour, named[1]->kind, "and",
                                  "a", named[2]->size, named[2]->colour, named[2]->kind};
        EXPECT_EQ(c, expected);
        auto monotone = [&](double ShapeSpec::*axis) {
          const double a = named[0]->*axis, b = named[1]->*axis, z = named[2]->*axis;
          return (a < b && b < z) || (a > b && b > z);
        };
        EXPECT_TRUE(monotone(&ShapeSpec::cx) || monotone(&ShapeSpec::cy)) << "scene " << i << ": " << text;
        ++lists;
      } else {
        ASSERT_EQ(named.size(), 1u) << text;
        EXPECT_TRUE(c.size() == 4 || c.size() == 8) << text;
        for (const char* w : {"above", "below", "left", "right", "and", ","}) EXPECT_FALSE(contains(c, w)) << text;
      }
    }
    // The left-to-right and top-to-bottom orders of three shapes are both among the captions.
    if (s.shapes.size() == 3) {
      for (double ShapeSpec::*axis : {&ShapeSpec::cx, &ShapeSpec::cy}) {
        std::vector<const ShapeSpec*> order;
        for (const auto& shape : s.shapes) order.push_back(&shape);
        std::sort(order.begin(), order.end(),
                  [&](const ShapeSpec* a, const ShapeSpec* b) { return a->*axis < b->*axis; });
        bool found = false;
        for (const auto& c : s.captions) found = found || named_shapes(s, c) == order;
        EXPECT_TRUE(found) << "scene " << i;
      }
    }
  }
  EXPECT_GT(vertical, 100u);
  EXPECT_GT(horizontal, 100u);
  EXPECT_GT(lists, 100u);
}

TEST(ShapesCaptions, SmallVocabulary) {
  std::set<std::string> words;
  for (size_t i = 0; i < 1000; ++i) {
    for (const auto& c : scene_of(i).captions) words.insert(c.begin(), c.end());
  }
  EXPECT_LE(words.size(), 30u);
  const auto vocabulary = shapes_captions_vocabulary();
  EXPECT_EQ(std::vector<std::string>(words.begin(), words.end()), vocabulary);
}

TEST(ShapesCaptions, ShapeCountsFollowTheDistribution) {
  std::map<size_t, size_t> counts;
  size_t large = 0, total = 0;
  const size_t n = 4000;
  for (size_t i = 0; i < n; ++i) {
    const ShapesScene s = scene_of(i);
    ++counts[s.shapes.size()];
    for (const auto& shape : s.shapes) large += shape.size == "large";
    total += s.shapes.size();
  }
  EXPECT_NEAR(double(counts[1]) / n, 0.2, 0.03);
  EXPECT_NEAR(double(counts[2]) / n, 0.5, 0.03);
  EXPECT_NEAR(double(counts[3]) / n, 0.3, 0.03);
  EXPECT_NEAR(double(large) / total, 0.5, 0.04);
}

TEST(ShapesCaptions, RenderingMatchesTheLayout) {
  const std::map<std::string, cv::Vec3b> palette = {{"red", {225, 35, 35}},   {"green", {35, 205, 60}},
                                                    {"blue", {45, 85, 235}},  {"yellow", {235, 215, 35}},
                                                    {"white", {235, 235, 235}}};
  for (size_t i = 0; i < 200; ++i) {
    const uint64_t seed = shapes_captions_seed(0, i);
    const ShapesScene s = make_shapes_scene(seed, 64);
    const cv::Mat img = render_shapes_scene(s, seed, 64);
    // Each centre has its shape's colour (RGB order); the corners, outside every shape, are dark.
    for (const auto& shape : s.shapes) {
      const cv::Vec3b px = img.at<cv::Vec3b>(int(shape.cy), int(shape.cx));
      const cv::Vec3b want = palette.at(shape.colour);
      for (int ch = 0; ch < 3; ++ch) EXPECT_NEAR(px[ch], want[ch], 20) << "scene " << i << " " << shape.colour;
    }
    for (const cv::Point p : {cv::Point(0, 0), cv::Point(63, 0), cv::Point(0, 63), cv::Point(63, 63)}) {
      const cv::Vec3b px = img.at<cv::Vec3b>(p);
      for (int ch = 0; ch < 3; ++ch) EXPECT_LT(px[ch], 32) << "scene " << i;
    }
  }
}

TEST(ShapesCaptions, SentencesAreCocoStyle) {
  EXPECT_EQ(shapes_caption_sentence({"a", "small", "red", "circle"}), "A small red circle.");
  EXPECT_EQ(shapes_caption_sentence({"a", "red", "circle", ",", "a", "blue", "square", "and", "a", "white", "diamond"}),
            "A red circle , a blue square and a white diamond.");
}

TEST(ShapesCaptions, RejectsBadArguments) {
  EXPECT_EQ(test::kind_of([] { make_shapes_scene(1, 8); }), ErrorKind::kUsage);
  EXPECT_EQ(test::kind_of([] { shapes_captions_seed(2, 0); }), ErrorKind::kInternal);
  EXPECT_EQ(test::kind_of([] { shapes_captions_seed(0, size_t(1) << 40); }), ErrorKind::kInternal);
  // Other image sizes lay out within their own bounds.
  for (int size : {16, 32, 224}) {
    for (size_t i = 0; i < 200; ++i) {
      const ShapesScene s = make_shapes_scene(shapes_captions_seed(0, i), size);
      for (const auto& a : s.shapes) {
        EXPECT_GE(a.cx - a.radius, 1.0);
        EXPECT_LE(a.cx + a.radius, size - 1.0);
      }
      const cv::Mat img = render_shapes_scene(s, 1, size);
      EXPECT_EQ(img.rows, size);
      EXPECT_EQ(img.cols, size);
    }
  }
}

TEST(ShapesCaptions, WritesCocoCaptions) {
  TempDir tmp;
  const fs::path root = tmp.path() / "shapes-captions";
  const size_t train = 12, val = 5;
  write_shapes_captions_coco(root.string(), train, val, 64);
  size_t annotation_ids_seen = 0;
  std::set<int64_t> annotation_ids, image_ids;
  for (const auto& [split, folder, count] :
       {std::tuple<int, std::string, size_t>{0, "train2017", train}, {1, "val2017", val}}) {
    const fs::path json_path = root / "annotations" / ("captions_" + folder + ".json");
    std::ifstream in(json_path);
    ASSERT_TRUE(in) << json_path;
    const nlohmann::json doc = nlohmann::json::parse(in);
    ASSERT_TRUE(doc.contains("info"));
    ASSERT_TRUE(doc.at("licenses").is_array());
    EXPECT_TRUE(doc.at("licenses").empty());
    const auto& images = doc.at("images");
    ASSERT_EQ(images.size(), count);
    std::map<int64_t, std::vector<std::string>> captions_of_image;
    for (size_t i = 0; i < count; ++i) {
      const auto& im = images[i];
      const int64_t id = im.at("id").get<int64_t>();
      EXPECT_TRUE(image_ids.insert(id).second) << "image id " << id << " repeats";
      char name[32];
      std::snprintf(name, sizeof(name), "%012lld.jpg", static_cast<long long>(id));
      EXPECT_EQ(im.at("file_name").get<std::string>(), name);
      EXPECT_EQ(im.at("height").get<int>(), 64);
      EXPECT_EQ(im.at("width").get<int>(), 64);
      const fs::path file = root / folder / name;
      const cv::Mat bgr = cv::imread(file.string(), cv::IMREAD_COLOR);
      ASSERT_FALSE(bgr.empty()) << file;
      EXPECT_EQ(bgr.rows, 64);
      EXPECT_EQ(bgr.cols, 64);
      // The JPEG holds scene i of the split, written as BGR.
      const uint64_t seed = shapes_captions_seed(split, i);
      const ShapesScene scene = make_shapes_scene(seed, 64);
      const cv::Mat rgb = render_shapes_scene(scene, seed, 64);
      cv::Mat decoded;
      cv::cvtColor(bgr, decoded, cv::COLOR_BGR2RGB);
      EXPECT_LT(cv::norm(rgb, decoded, cv::NORM_L1) / (64.0 * 64 * 3), 6.0) << file;
      captions_of_image[id];
      for (const auto& c : scene.captions) captions_of_image[id].push_back(shapes_caption_sentence(c));
    }
    std::map<int64_t, std::vector<std::string>> written;
    for (const auto& a : doc.at("annotations")) {
      const int64_t id = a.at("id").get<int64_t>();
      EXPECT_TRUE(annotation_ids.insert(id).second) << "annotation id " << id << " repeats";
      const int64_t image_id = a.at("image_id").get<int64_t>();
      ASSERT_TRUE(captions_of_image.count(image_id)) << "annotation " << id << " names image " << image_id;
      const std::string caption = a.at("caption").get<std::string>();
      ASSERT_FALSE(caption.empty());
      EXPECT_TRUE(caption[0] >= 'A' && caption[0] <= 'Z') << caption;
      EXPECT_EQ(caption.back(), '.') << caption;
      written[image_id].push_back(caption);
      ++annotation_ids_seen;
    }
    EXPECT_EQ(written, captions_of_image);
  }
  EXPECT_EQ(image_ids.size(), train + val);
  EXPECT_EQ(*image_ids.begin(), 1);
  EXPECT_EQ(*image_ids.rbegin(), int64_t(train + val));
  EXPECT_EQ(annotation_ids.size(), annotation_ids_seen);
  EXPECT_EQ(*annotation_ids.begin(), 1);
  EXPECT_EQ(*annotation_ids.rbegin(), int64_t(annotation_ids_seen));
  // A seed offset shifts which scenes are written.
  const fs::path shifted = tmp.path() / "shifted";
  write_shapes_captions_coco(shifted.string(), 1, 0, 64, train - 1);
  const cv::Mat last = cv::imread((root / "train2017" / "000000000012.jpg").string());
  const cv::Mat first = cv::imread((shifted / "train2017" / "000000000001.jpg").string());
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(cv::norm(last, first, cv::NORM_L1), 0.0);
}

TEST(ShapesCaptions, WriteFailureNamesThePath) {
  TempDir tmp;
  // A file where the dataset directory should be.
  const fs::path blocker = tmp.path() / "blocker";
  std::ofstream(blocker) << "x";
  try {
    write_shapes_captions_coco((blocker / "data").string(), 1, 1, 64);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kIO);
    EXPECT_NE(std::string(e.what()).find(blocker.string()), std::string::npos) << e.what();
  }
  // An image folder that cannot be created.
  const fs::path root = tmp.path() / "root";
  fs::create_directories(root);
  std::ofstream(root / "train2017") << "x";
  try {
    write_shapes_captions_coco(root.string(), 1, 1, 64);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kIO);
    EXPECT_NE(std::string(e.what()).find((root / "train2017").string()), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace zoo
