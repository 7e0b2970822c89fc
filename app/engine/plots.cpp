// Curves and confusion-matrix PNGs with OpenCV imgproc; see plots.h. A small plotting kit:
// "nice" tick steps (1, 2, 5 x 10^k), a panel with axes, grid, ticks, labels and a legend, and
// a heat map. Images are encoded in memory and written through AtomicFile.
#include "app/engine/plots.h"

#include "common/error.h"
#include "common/atomic_file.h"

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <limits>
#include <optional>

namespace zoo {

namespace {

// Colours are BGR. The series palette is matplotlib's tab10, so the curves look familiar.
const cv::Scalar kWhite(255, 255, 255);
const cv::Scalar kText(40, 40, 40);
const cv::Scalar kAxis(90, 90, 90);
const cv::Scalar kGrid(232, 232, 232);
const cv::Scalar kBlue(180, 119, 31);
const cv::Scalar kOrange(14, 127, 255);
const cv::Scalar kGreen(44, 160, 44);
const cv::Scalar kRed(40, 39, 214);
const cv::Scalar kPaleBlue(226, 199, 174);
const cv::Scalar kPurple(189, 103, 148);
const cv::Scalar kBrown(75, 86, 140);
const cv::Scalar kPink(194, 119, 227);
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;
constexpr double kTickScale = 0.42;
constexpr double kLabelScale = 0.5;
constexpr double kTitleScale = 0.6;

void write_png(const std::string& path, const cv::Mat& image) {
  std::vector<uchar> bytes;
  if (!cv::imencode(".png", image, bytes)) {
    throw internal_error("cannot encode " + path + " as PNG");
  }
  AtomicFile file(path);
  file.write(bytes.data(), bytes.size());
  file.commit();
}

cv::Size text_size(const std::string& text, double scale, int thickness = 1) {
  int baseline = 0;
  return cv::getTextSize(text, kFont, scale, thickness, &baseline);
}

// Text anchored by (ax, ay): ax 0 = left, 0.5 = centre, 1 = right edge at p.x; ay likewise
// with 0 = top, 1 = baseline at p.y.
void put_text(cv::Mat& img, const std::string& text, cv::Point p, double scale, double ax,
              double ay, const cv::Scalar& color = kText, int thickness = 1) {
  const cv::Size s = text_size(text, scale, thickness);
  const cv::Point origin(p.x - static_cast<int>(ax * s.width),
                         p.y + static_cast<int>((1.0 - ay) * s.height));
  cv::putText(img, text, origin, kFont, scale, color, thickness, cv::LINE_AA);
}

// Text turned 90 degrees counter-clockwise (reading bottom to top), centred on p.
void put_text_vertical(cv::Mat& img, const std::string& text, cv::Point p, double scale,
                       const cv::Scalar& color = kText) {
  const cv::Size s = text_size(text, scale);
  cv::Mat patch(s.height + 8, s.width + 4, img.type(), kWhite);
  cv::putText(patch, text, cv::Point(2, s.height + 3), kFont, scale, color, 1, cv::LINE_AA);
  cv::Mat turned;
  cv::rotate(patch, turned, cv::ROTATE_90_COUNTERCLOCKWISE);
  const cv::Rect target(p.x - turned.cols / 2, p.y - turned.rows / 2, turned.cols, turned.rows);
  const cv::Rect clipped = target & cv::Rect(0, 0, img.cols, img.rows);
  if (clipped.area() == 0) return;
  // Copy only the inked pixels so grid lines under the label survive.
  cv::Mat src = turned(cv::Rect(clipped.x - target.x, clipped.y - target.y, clipped.width, clipped.height));
  cv::Mat gray, mask;
  cv::cvtColor(src, gray, cv::COLOR_BGR2GRAY);
  cv::threshold(gray, mask, 250, 255, cv::THRESH_BINARY_INV);
  src.copyTo(img(clipped), mask);
}

// 1, 2 or 5 times a power of ten, so that `range` spans about `target` steps.
double nice_step(double range, int target) {
  const double raw = range / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  return (f < 1.5 ? 1.0 : f < 3.0 ? 2.0 : f < 7.0 ? 5.0 : 10.0) * mag;
}

struct Axis {
  double lo = 0.0, hi = 1.0, step = 0.2;
};

Axis make_axis(double lo, double hi, int target, bool integer) {
  if (!(lo <= hi)) lo = 0.0, hi = 1.0;
  if (hi - lo < 1e-12) {
    const double pad = std::abs(hi) > 0 ? std::abs(hi) * 0.1 : 1.0;
    lo -= pad;
    hi += pad;
  }
  Axis a;
  a.step = nice_step(hi - lo, target);
  if (integer) a.step = std::max(1.0, std::round(a.step));
  a.lo = std::floor(lo / a.step + 1e-9) * a.step;
  a.hi = std::ceil(hi / a.step - 1e-9) * a.step;
  return a;
}

std::string tick_text(double v, const Axis& axis) {
  char buf[32];
  const double big = std::max(std::abs(axis.lo), std::abs(axis.hi));
  if (std::abs(v) < axis.step * 1e-6) v = 0.0;
  if (big > 0 && (big < 1e-2 || big >= 1e6)) {
    std::snprintf(buf, sizeof buf, "%.1e", v);
  } else {
    const int decimals = std::clamp(static_cast<int>(-std::floor(std::log10(axis.step) + 1e-9)), 0, 6);
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  }
  return buf;
}

struct Series {
  std::string label;
  std::vector<cv::Point2d> points;
  cv::Scalar color;
  int thickness = 2;
  bool markers = true;
};

enum class LegendAt { kTopRight, kBottomRight };

struct Panel {
  std::string title, xlabel, ylabel;
  std::vector<Series> series;
  bool integer_x = false;
  std::optional<double> y_floor;  // include this value (0 for lr, accuracy)
  std::optional<double> y_ceil;   // never go past this value (100 for accuracy)
  LegendAt legend = LegendAt::kTopRight;
  std::string empty_note = "no data yet";
};

void draw_panel(cv::Mat& img, const cv::Rect& area, const Panel& panel) {
  const cv::Rect plot(area.x + 78, area.y + 44, area.width - 78 - 24, area.height - 44 - 62);
  put_text(img, panel.title, cv::Point(plot.x + plot.width / 2, area.y + 14), kTitleScale, 0.5, 0.0, kText, 1);
  put_text(img, panel.xlabel, cv::Point(plot.x + plot.width / 2, plot.br().y + 34), kLabelScale, 0.5, 0.0);
  put_text_vertical(img, panel.ylabel, cv::Point(area.x + 16, plot.y + plot.height / 2), kLabelScale);

  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  size_t points = 0;
  for (const auto& s : panel.series) {
    for (const auto& p : s.points) {
      x0 = std::min(x0, p.x), x1 = std::max(x1, p.x);
      y0 = std::min(y0, p.y), y1 = std::max(y1, p.y);
      ++points;
    }
  }
  if (points == 0) {
    x0 = panel.integer_x ? 1.0 : 0.0, x1 = x0 + 1.0, y0 = 0.0, y1 = 1.0;
  }
  if (panel.y_floor) y0 = std::min(y0, *panel.y_floor);
  if (panel.y_ceil) y1 = std::min(y1, *panel.y_ceil);
  y1 += (y1 - y0) * 0.04;  // headroom so the top curve does not sit on the frame
  const Axis xa = make_axis(x0, x1, 6, panel.integer_x);
  Axis ya = make_axis(y0, y1, 5, false);
  if (panel.y_floor && *panel.y_floor >= 0 && ya.lo < 0) ya.lo = 0;
  if (panel.y_ceil && ya.hi > *panel.y_ceil && y1 <= *panel.y_ceil * 1.04) ya.hi = *panel.y_ceil;

  const auto px = [&](double x) { return plot.x + (x - xa.lo) / (xa.hi - xa.lo) * plot.width; };
  const auto py = [&](double y) { return plot.br().y - (y - ya.lo) / (ya.hi - ya.lo) * plot.height; };
  const auto pt = [&](cv::Point2d p) {
    return cv::Point(static_cast<int>(std::lround(px(p.x))), static_cast<int>(std::lround(py(p.y))));
  };

  // Grid and ticks.
  for (double x = xa.lo; x <= xa.hi + xa.step * 1e-6; x += xa.step) {
    const int X = static_cast<int>(std::lround(px(x)));
    cv::line(img, {X, plot.y}, {X, plot.br().y}, kGrid, 1);
    cv::line(img, {X, plot.br().y}, {X, plot.br().y + 5}, kAxis, 1);
    put_text(img, tick_text(x, xa), {X, plot.br().y + 9}, kTickScale, 0.5, 0.0);
  }
  for (double y = ya.lo; y <= ya.hi + ya.step * 1e-6; y += ya.step) {
    const int Y = static_cast<int>(std::lround(py(y)));
    cv::line(img, {plot.x, Y}, {plot.br().x, Y}, kGrid, 1);
    cv::line(img, {plot.x - 5, Y}, {plot.x, Y}, kAxis, 1);
    put_text(img, tick_text(y, ya), {plot.x - 9, Y}, kTickScale, 1.0, 0.5);
  }
  cv::rectangle(img, plot, kAxis, 1);

  // Curves, clipped to the plot.
  cv::Mat clip = img(plot);
  const cv::Point offset(-plot.x, -plot.y);
  for (const auto& s : panel.series) {
    std::vector<cv::Point> poly;
    for (const auto& p : s.points) poly.push_back(pt(p) + offset);
    if (poly.size() > 1) {
      cv::polylines(clip, std::vector<std::vector<cv::Point>>{poly}, false, s.color, s.thickness, cv::LINE_AA);
    }
    if (s.markers || poly.size() == 1) {
      for (const auto& q : poly) cv::circle(clip, q, s.thickness + 2, s.color, cv::FILLED, cv::LINE_AA);
    }
  }
  if (points == 0) {
    put_text(img, panel.empty_note, {plot.x + plot.width / 2, plot.y + plot.height / 2}, kLabelScale,
             0.5, 0.5, kAxis);
    return;
  }

  // Legend: the series that have points, in a framed box in a corner of the plot.
  std::vector<const Series*> shown;
  int text_w = 0;
  for (const auto& s : panel.series) {
    if (s.points.empty() || s.label.empty()) continue;
    shown.push_back(&s);
    text_w = std::max(text_w, text_size(s.label, kTickScale).width);
  }
  if (shown.empty()) return;
  const int row_h = 20, w = 36 + text_w + 12, h = row_h * static_cast<int>(shown.size()) + 8;
  const int lx = plot.br().x - w - 8;
  const int ly = panel.legend == LegendAt::kTopRight ? plot.y + 8 : plot.br().y - h - 8;
  cv::rectangle(img, cv::Rect(lx, ly, w, h), kWhite, cv::FILLED);
  cv::rectangle(img, cv::Rect(lx, ly, w, h), cv::Scalar(200, 200, 200), 1);
  for (size_t i = 0; i < shown.size(); ++i) {
    const int cy = ly + 4 + row_h * static_cast<int>(i) + row_h / 2;
    cv::line(img, {lx + 8, cy}, {lx + 30, cy}, shown[i]->color, shown[i]->thickness, cv::LINE_AA);
    if (shown[i]->markers) cv::circle(img, {lx + 19, cy}, shown[i]->thickness + 2, shown[i]->color, cv::FILLED, cv::LINE_AA);
    put_text(img, shown[i]->label, {lx + 36, cy}, kTickScale, 0.0, 0.5);
  }
}

std::optional<double> number(const nlohmann::json& row, const std::string& key) {
  if (!row.is_object()) return std::nullopt;
  const auto it = row.find(key);
  if (it == row.end() || !it->is_number()) return std::nullopt;
  const double v = it->get<double>();
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

bool is_step_row(const nlohmann::json& row) {
  return row.is_object() && row.value("kind", std::string()) == "step";
}

// Accuracies are fractions in metrics.jsonl; a series already in percent is kept as it is.
void to_percent(Series& s) {
  bool fraction = true;
  for (const auto& p : s.points) fraction &= p.y <= 1.0 + 1e-9;
  if (fraction) {
    for (auto& p : s.points) p.y *= 100.0;
  }
}

// Epoch (fractional) of a global step, from the (step, epoch) pairs of epoch rows, by linear
// interpolation from (0, 0); past the last epoch row it continues at the last epoch's pace.
std::optional<double> step_to_epoch(double step, const std::vector<cv::Point2d>& knots) {
  if (knots.empty()) return std::nullopt;
  cv::Point2d prev(0.0, 0.0);
  for (const auto& k : knots) {
    if (step <= k.x) {
      return k.x > prev.x ? prev.y + (step - prev.x) / (k.x - prev.x) * (k.y - prev.y) : k.y;
    }
    prev = k;
  }
  const cv::Point2d before = knots.size() > 1 ? knots[knots.size() - 2] : cv::Point2d(0.0, 0.0);
  const double pace = prev.x > before.x ? (prev.y - before.y) / (prev.x - before.x) : 0.0;
  return prev.y + (step - prev.x) * pace;
}

}  // namespace

void write_curves_png(const std::string& path, const std::vector<nlohmann::json>& rows,
                      const std::vector<MetricSpec>& metrics) {
  Series train_loss{"train", {}, kBlue}, val_loss{"val", {}, kOrange};
  Series step_loss{"train (per step)", {}, kPaleBlue, 1, false};
  // The other metrics share one panel: training then validation series of each, in the
  // declared order, coloured from the palette in turn.
  const cv::Scalar palette[] = {kBlue, kOrange, kGreen, kPurple, kBrown, kPink};
  std::vector<std::pair<std::string, Series>> others;  // row key, series
  std::string others_title;
  bool percent = true;
  for (const auto& m : metrics) {
    if (m.name == "loss") continue;
    others_title += (others_title.empty() ? "" : ", ") + m.label;
    percent &= m.format == MetricFormat::kPercent;
    for (const char* split : {"train", "val"}) {
      if (std::string(split) == "train" && !m.in_training) continue;
      const cv::Scalar color = palette[others.size() % std::size(palette)];
      others.emplace_back(std::string(split) + "_" + m.name, Series{std::string(split) + " " + m.label, {}, color});
    }
  }
  Series lr{"", {}, kRed, 2, true};
  std::vector<cv::Point2d> epoch_lr, knots;
  std::vector<std::pair<double, double>> step_losses;
  for (const auto& row : rows) {
    if (is_step_row(row)) {
      const auto step = number(row, "step");
      if (!step) continue;
      if (const auto v = number(row, "lr")) lr.points.emplace_back(*step, *v);
      if (const auto v = number(row, "loss")) step_losses.emplace_back(*step, *v);
      continue;
    }
    const auto epoch = number(row, "epoch");
    const auto step = number(row, "step");
    if (step) {
      if (const auto v = number(row, "lr")) epoch_lr.emplace_back(*step, *v);
      if (epoch) knots.emplace_back(*step, *epoch);
    }
    if (!epoch) continue;
    const auto add = [&](Series& s, const std::string& key) {
      if (const auto v = number(row, key)) s.points.emplace_back(*epoch, *v);
    };
    add(train_loss, "train_loss");
    add(val_loss, "val_loss");
    for (auto& [key, series] : others) add(series, key);
  }
  std::sort(knots.begin(), knots.end(), [](auto& a, auto& b) { return a.x < b.x; });
  for (const auto& [step, loss] : step_losses) {
    if (const auto e = step_to_epoch(step, knots)) step_loss.points.emplace_back(*e, loss);
  }
  if (lr.points.empty()) lr.points = epoch_lr;  // no step rows: the lr at each epoch's end
  lr.markers = lr.points.size() <= 60;

  std::vector<Panel> panels(1);
  Panel& loss = panels[0];
  loss.title = "Loss", loss.xlabel = "epoch", loss.ylabel = "loss";
  loss.series = {step_loss, train_loss, val_loss};
  loss.integer_x = true;
  loss.y_floor = 0.0;
  if (!others.empty()) {
    Panel m;
    m.title = others_title, m.xlabel = "epoch", m.ylabel = percent ? "%" : "value";
    for (auto& [key, series] : others) {
      if (percent) to_percent(series);
      m.series.push_back(series);
    }
    m.integer_x = true;
    if (percent) m.y_ceil = 100.0;
    m.legend = LegendAt::kBottomRight;
    panels.push_back(m);
  }
  Panel rate;
  rate.title = "Learning rate", rate.xlabel = "step", rate.ylabel = "learning rate";
  rate.series = {lr};
  rate.y_floor = 0.0;
  panels.push_back(rate);

  constexpr int kPanelW = 520, kPanelH = 420;
  cv::Mat img(kPanelH, static_cast<int>(panels.size()) * kPanelW, CV_8UC3, kWhite);
  for (size_t i = 0; i < panels.size(); ++i) {
    draw_panel(img, cv::Rect(static_cast<int>(i) * kPanelW, 0, kPanelW, kPanelH), panels[i]);
  }
  write_png(path, img);
}

namespace {

// White to dark blue (matplotlib's "Blues" end points), v in [0, 1].
cv::Scalar heat(double v) {
  v = std::clamp(v, 0.0, 1.0);
  const double g = std::pow(v, 0.7);  // lift small shares off white
  const cv::Scalar lo(251, 251, 247), hi(107, 48, 8);
  return lo + (hi - lo) * g;
}

std::string short_name(const std::string& name, size_t max_len) {
  return name.size() <= max_len ? name : name.substr(0, max_len - 2) + "..";
}

}  // namespace

void write_confusion_png(const std::string& path, const std::vector<std::vector<int64_t>>& confusion,
                         const std::vector<std::string>& class_names) {
  const int n = static_cast<int>(confusion.size());
  if (n == 0) throw usage_error("cannot draw " + path + ": the confusion matrix is empty");
  for (const auto& row : confusion) {
    if (static_cast<int>(row.size()) != n) {
      throw usage_error("cannot draw " + path + ": the confusion matrix is not square");
    }
  }
  if (!class_names.empty() && static_cast<int>(class_names.size()) != n) {
    throw usage_error("cannot draw " + path + ": " + std::to_string(class_names.size()) +
                      " class names for a " + std::to_string(n) + "-class confusion matrix");
  }
  const auto name = [&](int i) { return class_names.empty() ? std::to_string(i) : class_names[i]; };
  const bool cell_text = n <= 20, names = n <= 30;
  // Cells shrink with the class count; past ~700 classes they are one pixel each.
  const int cell = std::max(1, std::min(64, 720 / n));
  const int grid = cell * n;
  int label_w = 0;
  if (names) {
    for (int i = 0; i < n; ++i) label_w = std::max(label_w, text_size(short_name(name(i), 16), kTickScale).width);
  } else {
    label_w = text_size(std::to_string(n - 1), kTickScale).width;
  }
  const int left = 40 + label_w + 12, top = 70, bar_w = 18;
  const int bottom = (names ? label_w : 14) + 56;
  const int width = left + grid + 30 + bar_w + 60, height = top + grid + bottom;
  cv::Mat img(height, width, CV_8UC3, kWhite);

  int64_t total = 0, correct = 0;
  for (int t = 0; t < n; ++t) {
    int64_t row_total = 0;
    for (int p = 0; p < n; ++p) row_total += confusion[t][p];
    total += row_total;
    correct += confusion[t][t];
    for (int p = 0; p < n; ++p) {
      const double share = row_total ? double(confusion[t][p]) / double(row_total) : 0.0;
      const cv::Rect r(left + p * cell, top + t * cell, cell, cell);
      cv::rectangle(img, r, heat(share), cv::FILLED);
      if (cell_text && row_total > 0) {
        char buf[16];
        std::snprintf(buf, sizeof buf, share >= 0.995 || share == 0.0 ? "%.0f" : "%.1f", 100.0 * share);
        const double scale = std::min(0.45, cell / 80.0);
        put_text(img, buf, {r.x + cell / 2, r.y + cell / 2}, scale, 0.5, 0.5,
                 share > 0.5 ? kWhite : share == 0.0 ? cv::Scalar(170, 170, 170) : kText);
      }
    }
  }
  if (cell >= 12) {  // cell borders only where they do not swamp the colours
    for (int i = 0; i <= n; ++i) {
      cv::line(img, {left, top + i * cell}, {left + grid, top + i * cell}, kWhite, 1);
      cv::line(img, {left + i * cell, top}, {left + i * cell, top + grid}, kWhite, 1);
    }
  }
  cv::rectangle(img, cv::Rect(left - 1, top - 1, grid + 2, grid + 2), kAxis, 1);

  // Labels: names beside each row and under each column (turned), or index ticks.
  if (names) {
    for (int i = 0; i < n; ++i) {
      const std::string label = short_name(name(i), 16);
      put_text(img, label, {left - 8, top + i * cell + cell / 2}, kTickScale, 1.0, 0.5);
      const cv::Size s = text_size(label, kTickScale);
      put_text_vertical(img, label, {left + i * cell + cell / 2, top + grid + 8 + s.width / 2}, kTickScale);
    }
  } else {
    const int every = static_cast<int>(nice_step(n, 8));
    for (int i = 0; i < n; i += std::max(1, every)) {
      const int c = i * cell + cell / 2;
      cv::line(img, {left - 5, top + c}, {left - 1, top + c}, kAxis, 1);
      put_text(img, std::to_string(i), {left - 8, top + c}, kTickScale, 1.0, 0.5);
      cv::line(img, {left + c, top + grid + 1}, {left + c, top + grid + 5}, kAxis, 1);
      put_text(img, std::to_string(i), {left + c, top + grid + 8}, kTickScale, 0.5, 0.0);
    }
  }
  put_text(img, names ? "predicted" : "predicted class index", {left + grid / 2, height - 22}, kLabelScale, 0.5, 0.5);
  put_text_vertical(img, names ? "true" : "true class index", {16, top + grid / 2}, kLabelScale);

  char title[160];
  std::snprintf(title, sizeof title, "Confusion matrix: %d classes, %lld samples, accuracy %.2f%%", n,
                static_cast<long long>(total), total ? 100.0 * double(correct) / double(total) : 0.0);
  put_text(img, title, {left + grid / 2, 16}, kTitleScale, 0.5, 0.0);
  put_text(img, "each row as % of its true class", {left + grid / 2, 44}, kTickScale, 0.5, 0.0, kAxis);

  // Colour bar, 0..100 %.
  const int bx = left + grid + 30;
  for (int y = 0; y < grid; ++y) {
    cv::line(img, {bx, top + y}, {bx + bar_w - 1, top + y}, heat(1.0 - double(y) / std::max(1, grid - 1)), 1);
  }
  cv::rectangle(img, cv::Rect(bx - 1, top - 1, bar_w + 2, grid + 2), kAxis, 1);
  for (int v = 0; v <= 100; v += grid >= 200 ? 25 : 50) {
    const int y = top + grid - 1 - static_cast<int>(std::lround(v / 100.0 * (grid - 1)));
    cv::line(img, {bx + bar_w, y}, {bx + bar_w + 4, y}, kAxis, 1);
    put_text(img, std::to_string(v) + "%", {bx + bar_w + 7, y}, kTickScale, 0.0, 0.5);
  }
  write_png(path, img);
}

}  // namespace zoo
