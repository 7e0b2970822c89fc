// Optimizers for the trainer: SGD (momentum, Nesterov), Adam, AdamW and RMSprop from LibTorch,
// built over one or two parameter groups (with --wd-skip-norm-bias, biases and normalization
// parameters, i.e. every parameter of one dimension or less, get no weight decay, as timm's
// filter_bias_and_bn does). Plus the learning-rate setter and gradient clipping used per step.
#pragma once

#include "app/engine/train_config.h"

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <memory>

namespace zoo {

// Parameters trained at --lr x lr_scale (the head at --head-lr, layers unfrozen mid-run at
// --unfrozen-lr-mult).
struct ParamSet {
  std::vector<torch::Tensor> params;
  double lr_scale = 1.0;
};

// One optimizer over `sets` in order, each split in two groups with --wd-skip-norm-bias; empty
// sets add no group. `lr_scales` receives each group's scale, in group order. Throws
// usage_error when there is nothing to train.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainConfig& config,
                                                        const std::vector<ParamSet>& sets,
                                                        std::vector<double>* lr_scales);
// Every trainable parameter of `model` at scale 1.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainConfig& config,
                                                        torch::nn::Module& model);
// Appends `set` as new groups (unfreezing during a run); its groups' scales go to lr_scales.
// The group layout equals make_optimizer's with `set` last, so a resumed run rebuilds it.
void add_param_set(torch::optim::Optimizer& optimizer, const TrainConfig& config,
                   const ParamSet& set, std::vector<double>* lr_scales);

// Sets the learning rate of every parameter group: lr, times the group's scale when
// lr_scales is given.
void set_lr(torch::optim::Optimizer& optimizer, double lr, const std::vector<double>& lr_scales = {});

// The weight decay of each parameter group, in order (for tests and the run log).
std::vector<double> group_weight_decays(const torch::optim::Optimizer& optimizer);

}  // namespace zoo
