// Learning-rate schedules, evaluated per optimizer step: constant, step and multistep (decay by
// gamma at epoch boundaries), cosine (to --min-lr), plateau (decay by gamma when the validation
// metric stalls, PyTorch's ReduceLROnPlateau with a relative threshold of 1e-4), and onecycle
// (PyTorch's OneCycleLR with cosine annealing: lr/25 up to lr, then down to lr/25e4). Linear
// warmup from lr * warmup_factor; as in torchvision's reference scripts (SequentialLR), the main
// schedule starts when warmup ends. Momentum is not cycled by onecycle.
#pragma once

#include "app/engine/metrics.h"
#include "app/engine/train_config.h"

#include <nlohmann/json.hpp>

#include <cstdint>

namespace zoo {

class LrSchedule {
 public:
  // steps_per_epoch: optimizer steps in one epoch. The plan spans epochs * steps_per_epoch
  // steps, or max_steps when that is set and shorter.
  LrSchedule(const TrainConfig& config, int64_t steps_per_epoch);

  // The learning rate of optimizer step `step` (0-based).
  double lr(int64_t step) const;
  // Feeds one epoch's validation metric, better when larger (kMax) or smaller (kMin); plateau
  // only, a no-op otherwise. Returns true when the learning rate was reduced.
  bool observe(double metric, Goal goal);

  int64_t total_steps() const { return total_; }
  int64_t warmup_steps() const { return warmup_; }

  // The plateau state, for checkpoints (exact resume).
  nlohmann::json state() const;
  void load_state(const nlohmann::json& j);

 private:
  TrainConfig c_;
  int64_t steps_per_epoch_;
  int64_t total_;
  int64_t warmup_;
  // plateau
  double scale_ = 1.0;
  bool has_best_ = false;
  double best_ = 0.0;
  int64_t bad_epochs_ = 0;
};

}  // namespace zoo
