// zoo's BatchNorm2d: torch::nn::BatchNorm2d inside (same parameters, buffers, state-dict keys
// and arithmetic: its forward runs torch's) that can also take its training statistics over
// the batches of every rank of a data-parallel run, as torch.nn.SyncBatchNorm does. The models
// use it for every batch norm so that `--sync-bn` can switch it on without rebuilding them.
// It wraps rather than derives because LibTorch's shared library does not export all of the
// batch-norm base class's virtual functions a derived class's vtable needs. What sums over the
// ranks is given from outside (models/ knows nothing of process groups): a BatchStatisticsSum.
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/pimpl.h>

#include <memory>
#include <ostream>

namespace zoo {

// Sums a tensor over the ranks, differentiably: its backward sums the gradients over the
// ranks too (the gradient of every rank's loss with respect to this rank's input).
class BatchStatisticsSum {
 public:
  virtual ~BatchStatisticsSum() = default;
  virtual torch::Tensor sum(const torch::Tensor& t) = 0;
};

class BatchNorm2dImpl : public torch::nn::Cloneable<BatchNorm2dImpl> {
 public:
  explicit BatchNorm2dImpl(int64_t num_features) : BatchNorm2dImpl(torch::nn::BatchNorm2dOptions(num_features)) {}
  explicit BatchNorm2dImpl(const torch::nn::BatchNorm2dOptions& options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  // torch::nn::BatchNorm2d's forward, or in training with synchronisation on: the mean and
  // (biased) variance of every rank's batch, combined exactly from each rank's count, mean and
  // variance; running statistics updated with the unbiased variance of the whole batch.
  torch::Tensor forward(const torch::Tensor& input);
  // Synchronised statistics through `sum` from now on; null: this process's batch only.
  void set_statistics_sum(std::shared_ptr<BatchStatisticsSum> sum) { sum_ = std::move(sum); }
  bool synchronised() const { return sum_ != nullptr; }

  torch::nn::BatchNorm2dOptions options;
  torch::Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 private:
  torch::Tensor synchronised_forward(const torch::Tensor& input);
  torch::nn::BatchNorm2d norm_{nullptr};  // holds the tensors above; not a registered child
  std::shared_ptr<BatchStatisticsSum> sum_;
};
TORCH_MODULE(BatchNorm2d);

// Gives every zoo BatchNorm2d in `module` `sum` (null: back to per-process statistics);
// returns how many there are.
int set_batch_norm_statistics_sum(torch::nn::Module& module, const std::shared_ptr<BatchStatisticsSum>& sum);

}  // namespace zoo
