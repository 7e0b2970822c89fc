// Progress display; see progress.h.
#include "app/engine/progress.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>

#include <unistd.h>

namespace zoo {

namespace {

constexpr double kTtyRedrawSeconds = 0.1;
constexpr double kLogEverySeconds = 10.0;
constexpr int kBarWidth = 24;

}  // namespace

std::string format_duration(double seconds) {
  char buf[32];
  if (seconds < 60) {
    std::snprintf(buf, sizeof buf, "%.1fs", seconds);
  } else if (seconds < 3600) {
    std::snprintf(buf, sizeof buf, "%dm%02ds", int(seconds) / 60, int(seconds) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%dh%02dm", int(seconds) / 3600, (int(seconds) % 3600) / 60);
  }
  return buf;
}

Progress::Progress(std::string label, int64_t total, bool quiet)
    : label_(std::move(label)),
      total_(total),
      quiet_(quiet),
      tty_(::isatty(STDERR_FILENO) == 1),
      color_(tty_ && std::getenv("NO_COLOR") == nullptr),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void Progress::update(int64_t done, const std::function<std::string()>& figures, double lr) {
  const auto now = std::chrono::steady_clock::now();
  if (first_ < 0) {  // measure rates from the first step: resumed epochs start mid-way
    first_ = done - 1;
    start_ = now;
  }
  const double since_draw = std::chrono::duration<double>(now - last_draw_).count();
  const bool last = done == total_;
  if (quiet_ || (!last && since_draw < (tty_ ? kTtyRedrawSeconds : kLogEverySeconds))) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? double(done - first_) / elapsed : 0.0;
  const double eta = rate > 0 ? double(total_ - done) / rate : 0.0;
  if (tty_) {
    const int filled = total_ > 0 ? int(kBarWidth * done / total_) : kBarWidth;
    std::string bar(filled, '#');
    bar.resize(kBarWidth, '.');
    std::fprintf(stderr, "\r\033[K%s %s%s%s %lld/%lld %.1f it/s ETA %s %s lr %.3g",
                 label_.c_str(), color_ ? "\033[32m" : "", bar.c_str(), color_ ? "\033[0m" : "",
                 (long long)done, (long long)total_, rate, format_duration(eta).c_str(),
                 figures().c_str(), lr);
    std::fflush(stderr);
    drawn_ = true;
  } else {
    spdlog::info("{} {}/{} {:.1f} it/s ETA {} {} lr {:.3g}", label_, done, total_, rate,
                 format_duration(eta), figures(), lr);
  }
}

void Progress::finish() {
  if (drawn_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    drawn_ = false;
  }
}

}  // namespace zoo
