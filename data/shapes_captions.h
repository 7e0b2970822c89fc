// `shapes-captions`: generated scenes for the image captioner, the embedded default dataset.
// A scene holds one to three coloured shapes on a dark background and several correct
// captions of it. Everything is drawn from a 64-bit seed, so a scene is reproducible from
// (split, index) alone and nothing needs to be stored. Torch-free: OpenCV only.
//
// Layout: 1, 2 or 3 shapes (20% / 50% / 30%); kind in {circle, square, triangle, diamond},
// colour in {red, green, blue, yellow, white}, size in {small, large} (radius 0.09 and 0.17 of
// the image side); no two shapes share both colour and kind. `radius` is the radius of the
// circle the shape is inscribed in, so shapes whose centres lie at least r1 + r2 apart do not
// touch; the layout keeps a further gap of 0.05 of the side between them. Positions come from
// rejection sampling with a fixed number of tries; when a layout does not fit, the large shapes
// are made small one at a time until it does. The layout also keeps relations readable: with two
// shapes | |dx| - |dy| | >= 0.05 of the side, with three every pair is at least 0.05 of the side
// apart in x and in y, so left-to-right and top-to-bottom orders are unambiguous.
//
// Caption grammar (tokens, all lower case; "," is a token):
//   NP = "a" SIZE COLOUR KIND
//   1 shape:  NP ;  NP "on a black background"
//   2 shapes: with d = centre(B) - centre(A), if |dy| > |dx| and A is the upper one:
//               A "above" B ;  B "below" A
//             otherwise, A the left one:  A "to the left of" B ;  B "to the right of" A
//             and always  A "and" B ;  B "and" A
//   3 shapes: X "," Y "and" Z for the orders left to right, right to left, top to bottom and
//             bottom to top, duplicates dropped (2 to 4 captions).
// Vocabulary: 24 words, see shapes_captions_vocabulary().
#pragma once

#include <opencv2/core.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace zoo {

struct ShapeSpec {
  std::string kind, colour, size;  // e.g. "circle", "red", "small"
  double cx, cy, radius;           // centre and circumradius in pixels
};

struct ShapesScene {
  std::vector<ShapeSpec> shapes;
  std::vector<std::vector<std::string>> captions;  // 2 to 4 token sequences
};

// The layout and captions of the scene for `seed` in an image of size x size pixels. Throws
// zoo::usage_error when size < 16.
ShapesScene make_shapes_scene(uint64_t seed, int size);

// Draws `scene` (made for the same `size`) as a CV_8UC3 image in RGB order. The background
// level and the pixel noise come from `seed`.
cv::Mat render_shapes_scene(const ShapesScene& scene, uint64_t seed, int size);

// The dataset's fixed image side, split sizes and base seed.
inline constexpr int kShapesCaptionsSize = 64;
inline constexpr size_t kShapesCaptionsTrain = 10000, kShapesCaptionsVal = 1000;
inline constexpr uint64_t kShapesCaptionsSeed = 0x5ca9710e5ULL;

// The seed of scene `index` of a split (0 train, 1 val): a splitmix64 finaliser of
// kShapesCaptionsSeed ^ (split << 40 | index). The finaliser is a bijection, so no two
// (split, index) pairs share a seed. Throws zoo::internal_error for another split or an
// index >= 2^40.
uint64_t shapes_captions_seed(int split, size_t index);

// Every word the captions use, sorted.
std::vector<std::string> shapes_captions_vocabulary();

// A caption's tokens as a COCO-style sentence: joined by spaces, the first letter upper case and
// a final "." ({"a", "red", "circle"} -> "A red circle.").
std::string shapes_caption_sentence(const std::vector<std::string>& words);

// Writes a COCO-captions layout of generated scenes:
//   dir/train2017/%012d.jpg, dir/val2017/%012d.jpg  (JPEG quality 95)
//   dir/annotations/captions_train2017.json, dir/annotations/captions_val2017.json
// Scene i of split s is the one of shapes_captions_seed(s, seed_offset + i) at size x size, so
// seed_offset 0 with the default sizes gives the embedded dataset's scenes. Image ids are
// 1..train for train and train+1..train+val for val; annotation ids run from 1 across both
// splits, one annotation per caption. The JSON holds "info", "licenses": [], "images"
// [{"id", "file_name", "height", "width"}] and "annotations" [{"id", "image_id", "caption"}]
// with captions as shapes_caption_sentence() writes them. The annotation files are written last
// and atomically, so their presence means the images are complete. Throws zoo::io_error naming
// the path when a directory or file cannot be written; zoo::usage_error when size < 16 or
// seed_offset + max(train, val) exceeds 2^40.
void write_shapes_captions_coco(const std::string& dir, size_t train, size_t val, int size,
                                uint64_t seed_offset = 0);

}  // namespace zoo
