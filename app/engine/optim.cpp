// Optimizer construction; see optim.h.
#include "app/engine/optim.h"

#include "common/error.h"

#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/rmsprop.h>
#include <torch/optim/sgd.h>

namespace zoo {

namespace {

// Options of the configured optimizer type with weight decay `wd`.
std::unique_ptr<torch::optim::OptimizerOptions> options_for(const TrainConfig& c, double wd) {
  using namespace torch::optim;
  if (c.optimizer == "sgd") {
    return std::make_unique<SGDOptions>(
        SGDOptions(c.lr).momentum(c.momentum).nesterov(c.nesterov).weight_decay(wd));
  }
  if (c.optimizer == "adam") {
    return std::make_unique<AdamOptions>(
        AdamOptions(c.lr).betas({c.beta1, c.beta2}).eps(c.eps).weight_decay(wd));
  }
  if (c.optimizer == "adamw") {
    return std::make_unique<AdamWOptions>(
        AdamWOptions(c.lr).betas({c.beta1, c.beta2}).eps(c.eps).weight_decay(wd));
  }
  if (c.optimizer == "rmsprop") {
    return std::make_unique<RMSpropOptions>(
        RMSpropOptions(c.lr).alpha(c.alpha).eps(c.eps).momentum(c.momentum).weight_decay(wd));
  }
  throw usage_error("--optimizer must be sgd, adam, adamw or rmsprop, got '" + c.optimizer + "'");
}

template <typename Opt, typename Options>
std::unique_ptr<torch::optim::Optimizer> build(std::vector<torch::optim::OptimizerParamGroup> groups,
                                               const torch::optim::OptimizerOptions& defaults) {
  return std::make_unique<Opt>(std::move(groups), static_cast<const Options&>(defaults));
}

// The groups of one parameter set: decayed, and (with --wd-skip-norm-bias) not decayed.
std::vector<torch::optim::OptimizerParamGroup> groups_of(const TrainConfig& c, const ParamSet& set,
                                                         std::vector<double>* lr_scales) {
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& p : set.params) (c.wd_skip_norm_bias && p.dim() <= 1 ? no_decay : decay).push_back(p);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  for (auto* params : {&decay, &no_decay}) {
    if (params->empty()) continue;
    groups.emplace_back(*params, options_for(c, params == &decay ? c.weight_decay : 0.0));
    groups.back().options().set_lr(c.lr * set.lr_scale);
    lr_scales->push_back(set.lr_scale);
  }
  return groups;
}

}  // namespace

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainConfig& c, torch::nn::Module& model) {
  ParamSet all;
  for (const auto& p : model.parameters()) {
    if (p.requires_grad()) all.params.push_back(p);
  }
  std::vector<double> scales;
  return make_optimizer(c, {all}, &scales);
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainConfig& c,
                                                        const std::vector<ParamSet>& sets,
                                                        std::vector<double>* lr_scales) {
  using namespace torch::optim;
  std::vector<OptimizerParamGroup> groups;
  for (const auto& set : sets) {
    for (auto& g : groups_of(c, set, lr_scales)) groups.push_back(std::move(g));
  }
  if (groups.empty()) {
    throw usage_error("nothing to train: every parameter is frozen; HINT: freeze less, or "
                      "re-enable some with --train PATTERN");
  }
  const auto defaults = options_for(c, c.weight_decay);
  if (c.optimizer == "sgd") return build<SGD, SGDOptions>(std::move(groups), *defaults);
  if (c.optimizer == "adam") return build<Adam, AdamOptions>(std::move(groups), *defaults);
  if (c.optimizer == "adamw") return build<AdamW, AdamWOptions>(std::move(groups), *defaults);
  return build<RMSprop, RMSpropOptions>(std::move(groups), *defaults);
}

void add_param_set(torch::optim::Optimizer& optimizer, const TrainConfig& c, const ParamSet& set,
                   std::vector<double>* lr_scales) {
  for (auto& group : groups_of(c, set, lr_scales)) optimizer.add_param_group(group);
}

void set_lr(torch::optim::Optimizer& optimizer, double lr, const std::vector<double>& lr_scales) {
  auto& groups = optimizer.param_groups();
  for (size_t i = 0; i < groups.size(); ++i) {
    groups[i].options().set_lr(lr * (i < lr_scales.size() ? lr_scales[i] : 1.0));
  }
}

std::vector<double> group_weight_decays(const torch::optim::Optimizer& optimizer) {
  using namespace torch::optim;
  std::vector<double> out;
  for (const auto& group : optimizer.param_groups()) {
    const OptimizerOptions& o = group.options();
    if (auto* s = dynamic_cast<const SGDOptions*>(&o)) out.push_back(s->weight_decay());
    else if (auto* a = dynamic_cast<const AdamOptions*>(&o)) out.push_back(a->weight_decay());
    else if (auto* w = dynamic_cast<const AdamWOptions*>(&o)) out.push_back(w->weight_decay());
    else if (auto* r = dynamic_cast<const RMSpropOptions*>(&o)) out.push_back(r->weight_decay());
  }
  return out;
}

}  // namespace zoo
