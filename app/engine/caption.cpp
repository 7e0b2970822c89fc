// Beam search and greedy decoding; see caption.h.
#include "app/engine/caption.h"

#include "data/captions.h"

#include <torch/utils.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace zoo {

double caption_score(double logprob, size_t tokens, double alpha) {
  return alpha == 0.0 ? logprob : logprob / std::pow(static_cast<double>(std::max<size_t>(tokens, 1)), alpha);
}

ImageFeatures select_features(const ImageFeatures& f, const torch::Tensor& index) {
  ImageFeatures out = f;
  out.map = f.map.index_select(0, index);
  out.pooled = f.pooled.index_select(0, index);
  if (f.projected.defined()) out.projected = f.projected.index_select(0, index);
  return out;
}

namespace {

// Tokens a caption never writes: <pad> and <start>.
void forbid_specials(torch::Tensor& logp) {
  logp.select(1, CaptionVocabulary::kPad).fill_(-std::numeric_limits<float>::infinity());
  logp.select(1, CaptionVocabulary::kStart).fill_(-std::numeric_limits<float>::infinity());
}

struct Live {
  std::vector<int64_t> words;
  double logprob = 0.0;
  std::vector<torch::Tensor> attention;
};

}  // namespace

std::vector<CaptionHypothesis> beam_search(CaptionerImpl& model, const ImageFeatures& features,
                                           const BeamOptions& options) {
  torch::NoGradGuard no_grad;
  const int64_t beam = std::max<int64_t>(1, options.beam);
  std::vector<Live> live(1);
  DecoderState state = model.start(features);
  torch::Tensor last = torch::full({1}, CaptionVocabulary::kStart, torch::kInt64);
  std::vector<CaptionHypothesis> finished;
  auto finish = [&](const Live& l, double logprob, bool ended) {
    CaptionHypothesis h;
    h.words = l.words;
    h.logprob = logprob;
    h.ended = ended;
    h.attention = l.attention;
    h.score = caption_score(logprob, l.words.size() + (ended ? 1 : 0), options.length_norm);
    finished.push_back(std::move(h));
  };
  for (int64_t t = 0; t < options.max_len && !live.empty(); ++t) {
    const auto B = static_cast<int64_t>(live.size());
    const ImageFeatures f = select_features(features, torch::zeros({B}, torch::kInt64));
    auto [logp, next, alpha] = model.step(f, last, state);
    logp = logp.to(torch::kDouble);
    forbid_specials(logp);
    torch::Tensor totals = logp.clone();
    for (int64_t b = 0; b < B; ++b) totals[b] += live[b].logprob;
    const int64_t V = totals.size(1);
    const int64_t k = std::min<int64_t>(beam, B * V);
    auto [best, where] = totals.flatten().topk(k);
    std::vector<Live> kept;
    std::vector<int64_t> parents, tokens;
    for (int64_t i = 0; i < k; ++i) {
      const double total = best[i].item<double>();
      if (!std::isfinite(total)) break;
      const int64_t flat = where[i].item<int64_t>();
      const int64_t parent = flat / V, token = flat % V;
      Live l = live[parent];
      l.logprob = total;
      if (alpha.defined()) l.attention.push_back(alpha[parent].detach().clone());
      if (token == CaptionVocabulary::kEnd) {
        finish(l, total, true);
        continue;
      }
      l.words.push_back(token);
      kept.push_back(std::move(l));
      parents.push_back(parent);
      tokens.push_back(token);
    }
    live = std::move(kept);
    if (live.empty()) break;
    const torch::Tensor index = torch::tensor(parents, torch::kInt64);
    state = {next.h.index_select(1, index), next.c.index_select(1, index)};
    last = torch::tensor(tokens, torch::kInt64);
  }
  for (const auto& l : live) finish(l, l.logprob, false);
  std::stable_sort(finished.begin(), finished.end(),
                   [](const CaptionHypothesis& a, const CaptionHypothesis& b) { return a.score > b.score; });
  return finished;
}

std::vector<std::vector<int64_t>> greedy_decode(CaptionerImpl& model, const ImageFeatures& features, int64_t max_len) {
  torch::NoGradGuard no_grad;
  const int64_t N = features.pooled.size(0);
  std::vector<std::vector<int64_t>> out(static_cast<size_t>(N));
  std::vector<bool> done(static_cast<size_t>(N), false);
  DecoderState state = model.start(features);
  torch::Tensor last = torch::full({N}, CaptionVocabulary::kStart, torch::kInt64);
  int64_t open = N;
  for (int64_t t = 0; t < max_len && open > 0; ++t) {
    auto [logp, next, alpha] = model.step(features, last, state);
    forbid_specials(logp);
    last = logp.argmax(1);
    state = next;
    const int64_t* ids = last.data_ptr<int64_t>();
    for (int64_t i = 0; i < N; ++i) {
      if (done[i]) continue;
      if (ids[i] == CaptionVocabulary::kEnd) {
        done[i] = true;
        --open;
      } else {
        out[i].push_back(ids[i]);
      }
    }
  }
  return out;
}

}  // namespace zoo
