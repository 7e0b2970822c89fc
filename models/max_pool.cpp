// 2x2 / stride-2 max pooling; see max_pool.h.
#include "models/max_pool.h"

#include <ATen/Parallel.h>
#include <torch/autograd.h>
#include <torch/nn/functional/pooling.h>

#include <algorithm>

namespace zoo {

namespace {

// The input the kernel takes: contiguous float32 N x C x H x W on the CPU, H and W >= 2.
bool kernel_takes(const torch::Tensor& x) {
  return x.dim() == 4 && x.device().is_cpu() && x.scalar_type() == torch::kFloat && x.is_contiguous() &&
         x.size(2) >= 2 && x.size(3) >= 2;
}

// Planes per parallel chunk: about 4096 outputs.
int64_t planes_per_chunk(int64_t outputs_per_plane) {
  return std::max<int64_t>(1, 4096 / std::max<int64_t>(1, outputs_per_plane));
}

// Max pooling of 2x2 windows at stride 2. `which` records which of a window's four elements
// (0: top left, 1: top right, 2: bottom left, 3: bottom right) is its maximum, chosen as
// LibTorch's CPU kernel chooses: scanning rows then columns from -inf, an element replaces the
// maximum when it is greater or NaN.
class MaxPool2x2 : public torch::autograd::Function<MaxPool2x2> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& input) {
    const int64_t planes = input.size(0) * input.size(1), h = input.size(2), w = input.size(3);
    const int64_t oh = h / 2, ow = w / 2;
    auto output = torch::empty({input.size(0), input.size(1), oh, ow}, input.options());
    auto which = torch::empty({input.size(0), input.size(1), oh, ow}, input.options().dtype(torch::kUInt8));
    const float* in = input.data_ptr<float>();
    float* out = output.data_ptr<float>();
    uint8_t* arg = which.data_ptr<uint8_t>();
    at::parallel_for(0, planes, planes_per_chunk(oh * ow), [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        const float* plane = in + p * h * w;
        float* o = out + p * oh * ow;
        uint8_t* a = arg + p * oh * ow;
        for (int64_t y = 0; y < oh; ++y) {
          const float* r0 = plane + 2 * y * w;
          const float* r1 = r0 + w;
          for (int64_t x = 0; x < ow; ++x) {
            // Without short-circuits (ReLU zeros make ties common, and branches on them
            // mispredict). Starting from the first element is starting from -inf: it is taken
            // unless it is -inf, and then the maximum is -inf at index 0 all the same.
            float best = r0[2 * x];
            uint8_t k = 0;
            const float v1 = r0[2 * x + 1], v2 = r1[2 * x], v3 = r1[2 * x + 1];
            bool take = (v1 > best) | (v1 != v1);
            best = take ? v1 : best;
            k = take ? 1 : k;
            take = (v2 > best) | (v2 != v2);
            best = take ? v2 : best;
            k = take ? 2 : k;
            take = (v3 > best) | (v3 != v3);
            best = take ? v3 : best;
            k = take ? 3 : k;
            o[y * ow + x] = best;
            a[y * ow + x] = k;
          }
        }
      }
    });
    ctx->save_for_backward({which});
    ctx->saved_data["h"] = h;
    ctx->saved_data["w"] = w;
    ctx->mark_non_differentiable({which});
    return output;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const torch::Tensor which = ctx->get_saved_variables()[0];
    const int64_t h = ctx->saved_data["h"].toInt(), w = ctx->saved_data["w"].toInt();
    const torch::Tensor grad_out = grads[0].contiguous();
    const int64_t n = which.size(0), c = which.size(1), oh = which.size(2), ow = which.size(3);
    // Zeros plus each gradient, as LibTorch's backward adds into a zeroed tensor (so -0.0
    // becomes 0.0 there too).
    auto grad_in = torch::zeros({n, c, h, w}, grad_out.options());
    const float* g = grad_out.data_ptr<float>();
    const uint8_t* arg = which.data_ptr<uint8_t>();
    float* gi = grad_in.data_ptr<float>();
    at::parallel_for(0, n * c, planes_per_chunk(oh * ow), [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        float* plane = gi + p * h * w;
        for (int64_t y = 0; y < oh; ++y) {
          for (int64_t x = 0; x < ow; ++x) {
            const int64_t i = p * oh * ow + y * ow + x;
            const int64_t k = arg[i];
            plane[(2 * y + (k >> 1)) * w + 2 * x + (k & 1)] += g[i];
          }
        }
      }
    });
    return {grad_in};
  }
};

bool takes_2x2(const torch::nn::MaxPool2dOptions& o, const torch::Tensor& x) {
  const auto& k = o.kernel_size();
  const auto& s = o.stride();
  const auto& p = o.padding();
  const auto& d = o.dilation();
  return k->at(0) == 2 && k->at(1) == 2 && s->at(0) == 2 && s->at(1) == 2 && p->at(0) == 0 && p->at(1) == 0 &&
         d->at(0) == 1 && d->at(1) == 1 && !o.ceil_mode() && kernel_takes(x);
}

}  // namespace

torch::Tensor max_pool_2x2(const torch::Tensor& input) {
  TORCH_CHECK(kernel_takes(input), "max_pool_2x2 takes a contiguous float32 CPU N x C x H x W tensor with H, W >= 2");
  return MaxPool2x2::apply(input);
}

void MaxPool2dImpl::pretty_print(std::ostream& stream) const {
  // As torch::nn::MaxPool2d prints itself.
  stream << std::boolalpha << "torch::nn::MaxPool2d(kernel_size=" << options.kernel_size()
         << ", stride=" << options.stride() << ", padding=" << options.padding() << ", dilation=" << options.dilation()
         << ", ceil_mode=" << options.ceil_mode() << ")";
}

torch::Tensor MaxPool2dImpl::forward(const torch::Tensor& input) {
  if (takes_2x2(options, input)) return max_pool_2x2(input);
  return torch::nn::functional::detail::max_pool2d(input, options.kernel_size(), options.stride(),
                                                   options.padding(), options.dilation(), options.ceil_mode());
}

}  // namespace zoo
