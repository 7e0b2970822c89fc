// Batch norm with optionally synchronised statistics; see batch_norm.h.
#include "models/batch_norm.h"

#include <torch/nn/functional/batchnorm.h>

namespace zoo {

BatchNorm2dImpl::BatchNorm2dImpl(const torch::nn::BatchNorm2dOptions& options) : options(options) { reset(); }

void BatchNorm2dImpl::reset() {
  norm_ = torch::nn::BatchNorm2d(options);
  // The same tensors under the same names as torch's module registers them.
  if (options.affine()) {
    weight = register_parameter("weight", norm_->weight);
    bias = register_parameter("bias", norm_->bias);
  }
  if (options.track_running_stats()) {
    running_mean = register_buffer("running_mean", norm_->running_mean);
    running_var = register_buffer("running_var", norm_->running_var);
    num_batches_tracked = register_buffer("num_batches_tracked", norm_->num_batches_tracked);
  }
}

void BatchNorm2dImpl::pretty_print(std::ostream& stream) const {
  stream << std::boolalpha << "torch::nn::BatchNorm2d(" << options.num_features() << ", eps=" << options.eps()
         << ", momentum=";
  if (options.momentum()) stream << *options.momentum(); else stream << "None";
  stream << ", affine=" << options.affine() << ", track_running_stats=" << options.track_running_stats() << ")";
}

torch::Tensor BatchNorm2dImpl::forward(const torch::Tensor& input) {
  if (sum_ && is_training()) return synchronised_forward(input);
  if (norm_->is_training() != is_training()) norm_->train(is_training());
  return norm_->forward(input);
}

torch::Tensor BatchNorm2dImpl::synchronised_forward(const torch::Tensor& input) {
  TORCH_CHECK(input.dim() == 4, "BatchNorm2d expects a 4-D input, got ", input.dim(), "-D");
  const auto& o = options;
  // Statistics in fp32 whatever the autocast precision, as ATen's batch norm keeps them.
  const torch::Tensor x = input.to(torch::kFloat);
  const double n_local = double(x.numel() / x.size(1));
  const torch::Tensor local_mean = x.mean({0, 2, 3});
  const torch::Tensor local_var = x.var({0, 2, 3}, /*unbiased=*/false);
  // count, then count x mean: the global mean; then sum of n x (var + (mean_r - mean)^2): the
  // global biased variance (the parallel-variance formula, stable for large means).
  const torch::Tensor count = sum_->sum(torch::full({1}, n_local, x.options())).detach();
  const torch::Tensor mean = sum_->sum(local_mean * n_local) / count;
  const torch::Tensor var = sum_->sum((local_var + (local_mean - mean).pow(2)) * n_local) / count;
  if (o.track_running_stats()) {
    torch::NoGradGuard no_grad;
    num_batches_tracked.add_(1);
    const double factor = o.momentum() ? *o.momentum() : 1.0 / num_batches_tracked.item<double>();
    const double total = count.item<double>();
    running_mean.mul_(1 - factor).add_(mean.detach().to(running_mean.dtype()), factor);
    running_var.mul_(1 - factor).add_((var.detach() * (total / std::max(total - 1, 1.0))).to(running_var.dtype()), factor);
  }
  const auto shape = std::vector<int64_t>{1, x.size(1), 1, 1};
  torch::Tensor y = (x - mean.view(shape)) * torch::rsqrt(var.view(shape) + o.eps());
  if (o.affine()) y = y * weight.view(shape) + bias.view(shape);
  return y.to(input.scalar_type());
}

int set_batch_norm_statistics_sum(torch::nn::Module& module, const std::shared_ptr<BatchStatisticsSum>& sum) {
  int count = 0;
  for (const auto& m : module.modules()) {
    if (auto* bn = dynamic_cast<BatchNorm2dImpl*>(m.get())) {
      bn->set_statistics_sum(sum);
      ++count;
    }
  }
  return count;
}

}  // namespace zoo
