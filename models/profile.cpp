// MAC counting from RecordFunction callbacks, see profile.h. The callbacks are plain function
// pointers, so the state lives in thread_locals: the innermost live counter and the depth of
// counted ops on the current call chain.
#include "models/profile.h"

#include <ATen/record_function.h>
#include <ATen/core/ivalue.h>
#include <torch/utils.h>

#include <cstring>
#include <memory>

namespace zoo {

struct MacCounterAccess {
  static MacCount& count(MacCounter* c) { return c->count_; }
  static MacCounter* outer(MacCounter* c) { return c->outer_; }
};

namespace {

thread_local MacCounter* tls_counter = nullptr;
thread_local int tls_depth = 0;  // counted ops currently open on this thread

enum class OpKind { kNone, kConv, kMatmul };

OpKind op_kind(const char* name) {
  static constexpr const char* kConvOps[] = {"aten::conv1d", "aten::conv2d", "aten::conv3d",
                                             "aten::convolution", "aten::_convolution"};
  static constexpr const char* kMatmulOps[] = {"aten::linear", "aten::addmm", "aten::mm",
                                               "aten::matmul", "aten::bmm", "aten::baddbmm"};
  for (const char* op : kConvOps) {
    if (std::strcmp(name, op) == 0) return OpKind::kConv;
  }
  for (const char* op : kMatmulOps) {
    if (std::strcmp(name, op) == 0) return OpKind::kMatmul;
  }
  return OpKind::kNone;
}

// Marks the one op of a chain that is counted at its end.
struct Outermost : at::ObserverContext {};

const at::Tensor* tensor_arg(const at::RecordFunction& fn, size_t i) {
  const auto inputs = fn.inputs();
  if (i >= inputs.size() || !inputs[i].isTensor()) return nullptr;
  return &inputs[i].toTensor();
}

const at::Tensor* first_output(const at::RecordFunction& fn) {
  const auto& outputs = fn.outputs();
  if (outputs.empty() || !outputs[0].isTensor()) return nullptr;
  return &outputs[0].toTensor();
}

// Convolution: each output element costs Cin/groups*kh*kw MACs = weight.numel()/weight[0]. For
// a transposed convolution (aten::convolution's 7th argument) each input element costs
// Cout/groups*kh*kw = weight.numel()/weight[0] instead.
int64_t conv_macs(const at::RecordFunction& fn) {
  const at::Tensor* input = tensor_arg(fn, 0);
  const at::Tensor* weight = tensor_arg(fn, 1);
  const at::Tensor* out = first_output(fn);
  if (input == nullptr || weight == nullptr || out == nullptr || weight->dim() < 2) return 0;
  const int64_t per_element = weight->numel() / weight->size(0);
  const auto inputs = fn.inputs();
  const bool transposed = std::strcmp(fn.name(), "aten::conv2d") != 0 && inputs.size() > 6 &&
                          inputs[6].isBool() && inputs[6].toBool();
  return (transposed ? input->numel() : out->numel()) * per_element;
}

// The activation input of a counted op: conv(x, W, ...); linear(x, W[N,K]);
// addmm(bias, a[M,K], b); baddbmm(bias, a[B,M,K], b); mm/matmul/bmm(a, b).
const at::Tensor* activation(const at::RecordFunction& fn, OpKind kind) {
  const char* name = fn.name();
  const bool bias_first = kind == OpKind::kMatmul && (std::strcmp(name, "aten::addmm") == 0 ||
                                                      std::strcmp(name, "aten::baddbmm") == 0);
  return tensor_arg(fn, bias_first ? 1 : 0);
}

// Matrix products: output elements times the contracted size K.
int64_t matmul_macs(const at::RecordFunction& fn) {
  const at::Tensor* out = first_output(fn);
  const at::Tensor* a = activation(fn, OpKind::kMatmul);
  if (out == nullptr || a == nullptr || a->dim() == 0) return 0;
  return out->numel() * a->size(-1);
}

std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction& fn) {
  if (tls_counter == nullptr || op_kind(fn.name()) == OpKind::kNone) return nullptr;
  return tls_depth++ == 0 ? std::make_unique<Outermost>() : nullptr;
}

void on_end(const at::RecordFunction& fn, at::ObserverContext* ctx) {
  if (tls_counter == nullptr) return;
  const OpKind kind = op_kind(fn.name());
  if (kind == OpKind::kNone) return;
  if (tls_depth > 0) --tls_depth;
  if (ctx == nullptr) return;
  const int64_t macs = kind == OpKind::kConv ? conv_macs(fn) : matmul_macs(fn);
  const at::Tensor* input = activation(fn, kind);
  const bool no_input_grad = input != nullptr && !input->requires_grad();
  for (MacCounter* c = tls_counter; c != nullptr; c = MacCounterAccess::outer(c)) {
    MacCount& count = MacCounterAccess::count(c);
    (kind == OpKind::kConv ? count.conv : count.linear) += macs;
    if (no_input_grad) count.without_input_grad += macs;
  }
}

}  // namespace

MacCounter::MacCounter() : outer_(tls_counter) {
  tls_counter = this;
  if (outer_ == nullptr) {
    tls_depth = 0;
    handle_ = at::addThreadLocalCallback(at::RecordFunctionCallback(on_start, on_end)
                                             .needsInputs(true)
                                             .needsOutputs(true)
                                             .scopes({at::RecordScope::FUNCTION}));
  }
}

MacCounter::~MacCounter() {
  tls_counter = outer_;
  if (outer_ == nullptr) at::removeCallback(handle_);
}

MacCount count_macs(const std::function<void()>& fn) {
  MacCounter counter;
  fn();
  return counter.count();
}

MacCount count_macs(ClassifierImpl& model, const std::array<int64_t, 3>& input_shape) {
  torch::NoGradGuard no_grad;
  model.eval();
  const auto x = torch::zeros({1, input_shape[0], input_shape[1], input_shape[2]});
  return count_macs([&] { model.forward(x); });
}

MacCount count_training_macs(ClassifierImpl& model, const std::array<int64_t, 3>& input_shape) {
  torch::AutoGradMode grad(true);
  model.eval();
  const auto x = torch::zeros({1, input_shape[0], input_shape[1], input_shape[2]});
  return count_macs([&] { model.forward(x); });
}

std::string module_type(const torch::nn::Module& module) {
  std::string name = module.name();
  const auto colon = name.rfind("::");
  if (colon != std::string::npos) name = name.substr(colon + 2);
  if (name.size() > 4 && name.compare(name.size() - 4, 4, "Impl") == 0) name.resize(name.size() - 4);
  return name;
}

std::vector<LayerProfile> profile_layers(ClassifierImpl& model, const torch::Tensor& input) {
  torch::NoGradGuard no_grad;
  model.eval();
  std::vector<LayerProfile> rows;
  torch::Tensor x = input;
  for (const Stage& stage : model.stages()) {
    LayerProfile row;
    row.name = stage.name;
    row.type = !stage.type.empty() ? stage.type : stage.module ? module_type(*stage.module) : "?";
    if (stage.module) {
      for (const auto& p : stage.module->parameters()) row.parameters += p.numel();
    }
    row.macs = count_macs([&] { x = stage.run(x); });
    row.output_shape.assign(x.sizes().begin() + 1, x.sizes().end());
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace zoo
