// Training progress on stderr: a live bar redrawn in place when stderr is a terminal
// (step/total, it/s, ETA, the task's running figures, lr), plain log lines every few seconds otherwise.
// NO_COLOR turns colour off; quiet turns the display off (the log file still gets lines).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace zoo {

class Progress {
 public:
  Progress(std::string label, int64_t total, bool quiet);
  // `done` steps of `total` finished; `figures` gives the running averages over the epoch as
  // text ("loss 0.2345 top-1 91.23%"), called only when a line is drawn.
  void update(int64_t done, const std::function<std::string()>& figures, double lr);
  // Clears the live bar so the next log line starts on a clean line.
  void finish();

 private:
  std::string label_;
  int64_t total_;
  bool quiet_;
  bool tty_;
  bool color_;
  int64_t first_ = -1;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  bool drawn_ = false;
};

// "1m23s", "4.2s".
std::string format_duration(double seconds);

}  // namespace zoo
