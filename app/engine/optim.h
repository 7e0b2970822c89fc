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

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainConfig& config,
                                                        torch::nn::Module& model);

// Sets the learning rate of every parameter group.
void set_lr(torch::optim::Optimizer& optimizer, double lr);

// The weight decay of each parameter group, in order (for tests and the run log).
std::vector<double> group_weight_decays(const torch::optim::Optimizer& optimizer);

}  // namespace zoo
