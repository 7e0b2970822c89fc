// Classifier evaluation; see evaluate.h.
#include "app/engine/evaluate.h"

#include "common/error.h"

#include <torch/nn/functional/loss.h>
#include <torch/utils.h>

#include <chrono>

namespace zoo {

int64_t EvalResult::class_count(size_t c) const {
  int64_t total = 0;
  for (int64_t v : confusion.at(c)) total += v;
  return total;
}

std::vector<double> EvalResult::per_class_accuracy() const {
  std::vector<double> acc;
  for (size_t c = 0; c < confusion.size(); ++c) {
    const int64_t total = class_count(c);
    acc.push_back(total ? double(confusion[c][c]) / double(total) : 0.0);
  }
  return acc;
}

int64_t EvalResult::predicted_count(size_t c) const {
  int64_t total = 0;
  for (const auto& row : confusion) total += row.at(c);
  return total;
}

std::vector<double> EvalResult::per_class_precision() const {
  std::vector<double> out;
  for (size_t c = 0; c < confusion.size(); ++c) {
    const int64_t predicted = predicted_count(c);
    out.push_back(predicted ? double(confusion[c][c]) / double(predicted) : 0.0);
  }
  return out;
}

std::vector<double> EvalResult::per_class_recall() const { return per_class_accuracy(); }

std::vector<double> EvalResult::per_class_f1() const {
  const auto precision = per_class_precision(), recall = per_class_recall();
  std::vector<double> out;
  for (size_t c = 0; c < precision.size(); ++c) {
    const double sum = precision[c] + recall[c];
    out.push_back(sum > 0 ? 2.0 * precision[c] * recall[c] / sum : 0.0);
  }
  return out;
}

namespace {

// The mean of `values` over the classes with a sample or a prediction; 0 when there is none.
double macro_mean(const EvalResult& r, const std::vector<double>& values) {
  double sum = 0.0;
  int64_t classes = 0;
  for (size_t c = 0; c < values.size(); ++c) {
    if (r.class_count(c) == 0 && r.predicted_count(c) == 0) continue;
    sum += values[c];
    ++classes;
  }
  return classes ? sum / double(classes) : 0.0;
}

}  // namespace

double EvalResult::macro_precision() const { return macro_mean(*this, per_class_precision()); }
double EvalResult::macro_recall() const { return macro_mean(*this, per_class_recall()); }
double EvalResult::macro_f1() const { return macro_mean(*this, per_class_f1()); }

EvalResult evaluate(ClassifierImpl& model, BatchSource& loader, int64_t num_classes,
                    const EvalSettings& settings, bool features_input) {
  const auto start = std::chrono::steady_clock::now();
  EvalResult r;
  r.confusion.assign(num_classes, std::vector<int64_t>(num_classes, 0));
  const bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  double loss_sum = 0.0;
  int64_t correct1 = 0, correct5 = 0;
  loader.start_epoch(0);
  for (int64_t b = 0; settings.limit_batches <= 0 || b < settings.limit_batches; ++b) {
    auto batch = loader.next();
    if (!batch) break;
    if (batch->size() == 0) continue;
    auto input = batch->inputs().to(settings.device);
    if (settings.channels_last && input.dim() == 4) input = input.contiguous(at::MemoryFormat::ChannelsLast);
    torch::Tensor logits;
    {
      AutocastGuard autocast(settings.precision, settings.device);
      logits = features_input ? model.classify(input) : model.forward(input);
    }
    logits = logits.to(torch::kCPU, torch::kFloat);
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, batch->targets(),
                    torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    const int64_t k = std::min<int64_t>(5, logits.size(1));
    auto topk = std::get<1>(logits.topk(k, 1));  // N x k
    auto hits = topk.eq(batch->targets().unsqueeze(1));
    correct1 += hits.select(1, 0).sum().item<int64_t>();
    correct5 += hits.any(1).sum().item<int64_t>();
    auto pred = topk.select(1, 0).contiguous();
    const int64_t* p = pred.data_ptr<int64_t>();
    const int64_t* t = batch->targets().data_ptr<int64_t>();
    for (int64_t i = 0; i < pred.numel(); ++i) r.confusion[t[i]][p[i]] += 1;
    r.count += pred.numel();
  }
  r.skipped = loader.skipped();
  if (r.count == 0) {
    throw data_error("no readable sample to evaluate on; HINT: check the dataset's files");
  }
  r.loss = loss_sum / double(r.count);
  r.top1 = double(correct1) / double(r.count);
  r.top5 = double(correct5) / double(r.count);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (was_training) model.train();
  return r;
}

}  // namespace zoo
