// Text generation from a character-level language model (sample.h).
#include "app/engine/sample.h"

#include "common/error.h"

#include <torch/autograd.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace zoo {

void validate(const SampleOptions& o, const Vocabulary& vocab) {
  if (o.length < 0) throw usage_error("--length must be 0 or more, got " + std::to_string(o.length));
  if (!(o.temperature >= 0) || !std::isfinite(o.temperature)) {
    throw usage_error("--temperature must be 0 (greedy) or more, got " + std::to_string(o.temperature));
  }
  if (o.top_k < 0) throw usage_error("--top-k must be 0 (all) or more, got " + std::to_string(o.top_k));
  if (!(o.top_p > 0 && o.top_p <= 1)) throw usage_error("--top-p must be in (0, 1], got " + std::to_string(o.top_p));
  vocab.encode(o.prime, "--prime");  // names the characters it lacks
}

int64_t choose_next(const std::vector<double>& logits, const SampleOptions& o, double u) {
  const int64_t v = static_cast<int64_t>(logits.size());
  if (o.greedy || o.temperature == 0.0) {
    return std::max_element(logits.begin(), logits.end()) - logits.begin();  // the first of ties
  }
  // Candidates, most likely first (ties by id, so the order is total).
  std::vector<int64_t> order(v);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return logits[a] > logits[b]; });
  const int64_t k = o.top_k > 0 ? std::min(o.top_k, v) : v;
  std::vector<double> p(k);
  const double top = logits[order[0]] / o.temperature;
  double total = 0.0;
  for (int64_t i = 0; i < k; ++i) total += p[i] = std::exp(logits[order[i]] / o.temperature - top);
  int64_t keep = k;
  if (o.top_p < 1.0) {
    double mass = 0.0;
    for (int64_t i = 0; i < k; ++i) {
      mass += p[i] / total;
      if (mass >= o.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  const double kept = std::accumulate(p.begin(), p.begin() + keep, 0.0);
  double acc = 0.0;
  for (int64_t i = 0; i < keep; ++i) {
    acc += p[i] / kept;
    if (u < acc) return order[i];
  }
  return order[keep - 1];  // u within rounding of 1
}

std::u32string sample_text(CharLmImpl& model, const Vocabulary& vocab, const SampleOptions& o,
                           const std::function<void(const std::string&)>& emit) {
  validate(o, vocab);
  torch::NoGradGuard no_grad;
  model.eval();
  std::u32string prime = o.prime;
  if (prime.empty()) prime = vocab.contains(U'\n') ? U"\n" : std::u32string(1, vocab.at(0));
  const auto device = model.parameters().front().device();
  auto [logits, state] = model.forward(vocab.encode(prime, "--prime").unsqueeze(0).to(device));
  std::mt19937_64 rng(o.seed);
  std::u32string out;
  std::vector<double> row(static_cast<size_t>(vocab.size()));
  for (int64_t i = 0; i < o.length; ++i) {
    const torch::Tensor last = logits.select(1, logits.size(1) - 1).squeeze(0).to(torch::kCPU, torch::kDouble).contiguous();
    std::copy(last.data_ptr<double>(), last.data_ptr<double>() + last.numel(), row.begin());
    const double u = double(rng() >> 11) * 0x1.0p-53;
    const int64_t next = choose_next(row, o, u);
    const char32_t c = vocab.at(next);
    out += c;
    if (emit) emit(encode_utf8(c));
    if (i + 1 == o.length) break;
    std::tie(logits, state) = model.forward(torch::full({1, 1}, next, torch::kInt64).to(device), state);
  }
  return out;
}

}  // namespace zoo
