// Dataset inspection; see inspect.h.
#include "data/inspect.h"

#include "common/error.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <thread>

namespace zoo {

SplitReport inspect_split(const Dataset& dataset, const std::string& split, size_t num_classes,
                          int workers) {
  SplitReport r;
  r.split = split;
  r.samples = int64_t(dataset.size());
  r.per_class.assign(num_classes, 0);
  std::vector<std::array<int64_t, 2>> sizes(dataset.size(), {-1, -1});
  std::vector<std::string> errors(dataset.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < dataset.size(); i = next++) {
      try {
        sizes[i] = dataset.source_size(i);
      } catch (const Error& e) {
        errors[i] = dataset.describe(i) + ": " + e.what();
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < std::max(1, workers); ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  int64_t readable = 0;
  double sum_h = 0, sum_w = 0;
  for (size_t i = 0; i < dataset.size(); ++i) {
    const int64_t label = dataset.label(i);
    if (label >= 0 && size_t(label) < num_classes) ++r.per_class[size_t(label)];
    if (!errors[i].empty()) {
      r.unreadable.push_back(errors[i]);
      continue;
    }
    const auto [h, w] = sizes[i];
    r.min_height = readable ? std::min(r.min_height, h) : h;
    r.max_height = std::max(r.max_height, h);
    r.min_width = readable ? std::min(r.min_width, w) : w;
    r.max_width = std::max(r.max_width, w);
    sum_h += double(h);
    sum_w += double(w);
    ++readable;
  }
  if (readable) {
    r.mean_height = sum_h / double(readable);
    r.mean_width = sum_w / double(readable);
  }
  return r;
}

void write_sample_grid(const Dataset& dataset, const std::vector<std::string>& class_names,
                       int64_t count, uint64_t seed, const std::string& path) {
  const SampleSpec& spec = dataset.spec();
  const int h = int(spec.height), w = int(spec.width), c = int(spec.channels);
  const int scale = std::max(1, int(std::ceil(96.0 / std::max(h, w))));  // tiles at least 96 px
  const int tile_w = w * scale, tile_h = h * scale, caption = 16, cols = 8;
  std::vector<cv::Mat> tiles;
  std::vector<std::string> captions;
  std::vector<float> buf(size_t(spec.numel()));
  for (size_t i = 0; i < dataset.size() && int64_t(tiles.size()) < count; ++i) {
    try {
      dataset.load(i, buf.data(), seed + i);
    } catch (const Error&) {
      continue;
    }
    cv::Mat tile(h, w, CV_8UC3);
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        for (int k = 0; k < 3; ++k) {
          const int ch = c == 1 ? 0 : k;
          const double v = buf[size_t(ch) * h * w + size_t(y) * w + x] * spec.std[ch] + spec.mean[ch];
          tile.at<cv::Vec3b>(y, x)[2 - k] = cv::saturate_cast<uint8_t>(std::lround(v * 255.0));
        }
      }
    }
    cv::resize(tile, tile, cv::Size(tile_w, tile_h), 0, 0, cv::INTER_NEAREST);
    tiles.push_back(tile);
    const int64_t label = dataset.label(i);
    captions.push_back(label >= 0 && size_t(label) < class_names.size() ? class_names[size_t(label)]
                                                                       : std::to_string(label));
  }
  if (tiles.empty()) throw data_error("no readable sample to draw; HINT: run `zoo data inspect` without --grid");
  const int n = int(tiles.size()), rows = (n + cols - 1) / cols, ncols = std::min(n, cols);
  cv::Mat grid(rows * (tile_h + caption), ncols * tile_w, CV_8UC3, cv::Scalar(255, 255, 255));
  for (int i = 0; i < n; ++i) {
    const int x = (i % cols) * tile_w, y = (i / cols) * (tile_h + caption);
    tiles[size_t(i)].copyTo(grid(cv::Rect(x, y, tile_w, tile_h)));
    cv::putText(grid, captions[size_t(i)].substr(0, size_t(tile_w / 7)), cv::Point(x + 2, y + tile_h + 12),
                cv::FONT_HERSHEY_PLAIN, 0.9, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  }
  bool ok = false;
  try {
    ok = cv::imwrite(path, grid);
  } catch (const cv::Exception& e) {
    throw usage_error("cannot write grid " + path + " (" + e.msg + "); HINT: use a .png or .jpg name");
  }
  if (!ok) throw io_error("cannot write grid " + path + "; HINT: check the folder exists and is writable");
}

}  // namespace zoo
