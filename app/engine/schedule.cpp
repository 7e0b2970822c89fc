// Learning-rate schedules; see schedule.h.
#include "app/engine/schedule.h"

#include <algorithm>
#include <cmath>

namespace zoo {

LrSchedule::LrSchedule(const TrainConfig& config, int64_t steps_per_epoch)
    : c_(config), steps_per_epoch_(std::max<int64_t>(1, steps_per_epoch)) {
  total_ = c_.epochs * steps_per_epoch_;
  if (c_.max_steps > 0) total_ = std::min(total_, c_.max_steps);
  warmup_ = std::min<int64_t>(total_, std::llround(c_.warmup_epochs * double(steps_per_epoch_)));
}

double LrSchedule::lr(int64_t step) const {
  if (c_.schedule == "onecycle") {
    // PyTorch's OneCycleLR (two phases, cosine annealing, div_factor 25, final_div_factor 1e4).
    const double initial = c_.lr / 25.0, final_lr = initial / 1e4;
    const double rise_end = c_.onecycle_pct * double(total_) - 1.0;
    const double fall_end = double(total_) - 1.0;
    const double s = double(step);
    auto anneal = [](double start, double end, double pct) {
      return end + (start - end) / 2.0 * (std::cos(M_PI * pct) + 1.0);
    };
    if (s <= rise_end) return anneal(initial, c_.lr, rise_end > 0 ? s / rise_end : 1.0);
    const double pct = fall_end > rise_end ? (s - rise_end) / (fall_end - rise_end) : 1.0;
    return anneal(c_.lr, final_lr, std::min(1.0, pct));
  }
  const double base = c_.lr * scale_;
  if (step < warmup_) {
    // torchvision's LinearLR: factor goes from warmup_factor to 1 over the warmup steps.
    const double f = c_.warmup_factor + (1.0 - c_.warmup_factor) * double(step) / double(warmup_);
    return base * f;
  }
  const int64_t s = step - warmup_;
  const int64_t epoch = s / steps_per_epoch_;  // whole epochs since warmup ended
  if (c_.schedule == "cosine") {
    const int64_t span = total_ - warmup_;
    const double progress = span > 0 ? std::min(1.0, double(s) / double(span)) : 1.0;
    return c_.min_lr + (base - c_.min_lr) * 0.5 * (1.0 + std::cos(M_PI * progress));
  }
  if (c_.schedule == "step") return base * std::pow(c_.gamma, double(epoch / c_.step_size));
  if (c_.schedule == "multistep") {
    const auto passed = std::upper_bound(c_.milestones.begin(), c_.milestones.end(), epoch) -
                        c_.milestones.begin();
    return base * std::pow(c_.gamma, double(passed));
  }
  return base;  // constant, plateau (scale_ holds its decays)
}

bool LrSchedule::observe(double metric, Goal goal) {
  if (c_.schedule != "plateau") return false;
  constexpr double kThreshold = 1e-4;  // PyTorch's default, relative mode
  const bool higher = goal == Goal::kMax;
  const bool better = !has_best_ || (higher ? metric > best_ * (1.0 + kThreshold)
                                            : metric < best_ * (1.0 - kThreshold));
  if (better) {
    has_best_ = true;
    best_ = metric;
    bad_epochs_ = 0;
    return false;
  }
  if (++bad_epochs_ <= c_.plateau_patience) return false;
  bad_epochs_ = 0;
  const double old_lr = c_.lr * scale_;
  const double new_lr = std::max(old_lr * c_.gamma, c_.min_lr);
  if (old_lr - new_lr <= 1e-8) return false;  // PyTorch's eps: already at the floor
  scale_ = new_lr / c_.lr;
  return true;
}

nlohmann::json LrSchedule::state() const {
  return {{"scale", scale_}, {"has_best", has_best_}, {"best", best_}, {"bad_epochs", bad_epochs_}};
}

void LrSchedule::load_state(const nlohmann::json& j) {
  scale_ = j.value("scale", 1.0);
  has_best_ = j.value("has_best", false);
  best_ = j.value("best", 0.0);
  bad_epochs_ = j.value("bad_epochs", int64_t{0});
}

}  // namespace zoo
