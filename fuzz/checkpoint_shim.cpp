// See checkpoint_shim.h: compiled by g++, with app/engine/checkpoint.cpp.
#include "fuzz/checkpoint_shim.h"

#include "app/engine/checkpoint.h"

#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>

namespace zoo::fuzz {

namespace {

void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz property failed: %s\n", what);
    std::abort();
  }
}

nlohmann::json meta_for(const std::string& model, const nlohmann::json& config) {
  return {{"model", model},
          {"data", "shapes"},
          {"config", config},
          {"position", {{"epoch", 1}, {"next_batch", 3}, {"step", 7}, {"best_metric", 0.5},
                        {"best_epoch", 1}, {"elapsed_s", 1.25},
                        {"epoch_sums", {{"loss", 2.5}, {"count", 12}}}}},
          {"class_names", {"circle", "square"}},
          {"metrics", {{"val_loss", 0.7}, {"val_top1", 0.5}}}};
}

}  // namespace

void load_checkpoint_and_walk(const std::string& path) {
  const Checkpoint ckpt = load_checkpoint(path);
  require(ckpt.meta.is_object(), "a checkpoint's metadata is a JSON object");
  for (const auto* sd : {&ckpt.model, &ckpt.task_state}) {
    for (const auto& kv : *sd) {
      require(kv.second.defined(), "every checkpoint tensor is defined");
      (void)kv.second.sum();
    }
  }
}

void write_checkpoint_seeds(const std::string& dir, const std::string& config_json) {
  const nlohmann::json config = nlohmann::json::parse(config_json);
  torch::manual_seed(1);
  StateDict model = {{"fc.weight", torch::randn({2, 3})}, {"fc.bias", torch::zeros({2})}};
  std::vector<torch::Tensor> params;
  for (auto& kv : model) params.push_back(kv.second.set_requires_grad(true));
  torch::optim::SGD sgd(params, torch::optim::SGDOptions(0.1).momentum(0.9));
  (params[0].sum() + params[1].sum()).backward();
  sgd.step();
  save_checkpoint(dir + "/last.pt", meta_for("lenet5", config), model, &sgd);
  save_checkpoint(dir + "/best.pt", meta_for("lenet5", config), model, nullptr, /*with_rng=*/false);
  const StateDict state = {{"h", torch::zeros({2, 1, 4})}, {"c", torch::ones({2, 1, 4})}};
  save_checkpoint(dir + "/charlm.pt", meta_for("charlm", config), {{"embed.weight", torch::randn({3, 2})}},
                  nullptr, /*with_rng=*/false, state);
}

}  // namespace zoo::fuzz
