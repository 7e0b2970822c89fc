// Corpus BLEU and CIDEr-D over tokenized captions; see caption_metrics.h. Tokens are mapped to
// integer ids and an n-gram is keyed by the bytes of its ids (4 per token), so keys of different
// orders never collide and no token text can forge a separator.
#include "app/engine/caption_metrics.h"

#include "common/error.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

namespace zoo {
namespace {

constexpr int kMaxOrder = 4;
constexpr double kCiderSigma = 6.0;

using Ids = std::vector<int32_t>;
using NgramCounts = std::unordered_map<std::string, int64_t>;

class Vocabulary {
 public:
  Ids encode(const Tokens& tokens) {
    Ids ids;
    ids.reserve(tokens.size());
    for (const auto& t : tokens) {
      const auto it = ids_.emplace(t, static_cast<int32_t>(ids_.size())).first;
      ids.push_back(it->second);
    }
    return ids;
  }

 private:
  std::unordered_map<std::string, int32_t> ids_;
};

std::string ngram_key(const Ids& ids, size_t start, int order) {
  std::string key(static_cast<size_t>(order) * sizeof(int32_t), '\0');
  std::memcpy(key.data(), ids.data() + start, key.size());
  return key;
}

int key_order(const std::string& key) { return static_cast<int>(key.size() / sizeof(int32_t)); }

// Counts of the n-grams of orders lo..hi.
NgramCounts count_ngrams(const Ids& ids, int lo, int hi) {
  NgramCounts counts;
  for (int n = lo; n <= hi; ++n) {
    for (size_t i = 0; i + static_cast<size_t>(n) <= ids.size(); ++i) ++counts[ngram_key(ids, i, n)];
  }
  return counts;
}

void check_corpus(const std::vector<std::vector<Tokens>>& references,
                  const std::vector<Tokens>& hypotheses) {
  if (references.size() != hypotheses.size()) {
    throw usage_error("caption metrics: " + std::to_string(references.size()) +
                      " reference sets for " + std::to_string(hypotheses.size()) +
                      " hypotheses; give each image its references and one hypothesis");
  }
  for (size_t i = 0; i < references.size(); ++i) {
    if (references[i].empty()) {
      throw usage_error("caption metrics: image " + std::to_string(i) +
                        " has no reference caption; every scored image needs at least one");
    }
  }
}

// The reference length closest to hyp_len; of two equally close, the shorter.
int64_t closest_ref_length(const std::vector<Tokens>& refs, int64_t hyp_len) {
  int64_t best = static_cast<int64_t>(refs.front().size());
  for (const auto& ref : refs) {
    const int64_t len = static_cast<int64_t>(ref.size());
    const int64_t d = std::llabs(len - hyp_len), best_d = std::llabs(best - hyp_len);
    if (d < best_d || (d == best_d && len < best)) best = len;
  }
  return best;
}

// A caption's CIDEr-D vector: tf-idf weights by order, their norms, and its length in bigrams.
struct TfIdf {
  std::unordered_map<std::string, double> weights[kMaxOrder];
  double norm[kMaxOrder] = {0.0, 0.0, 0.0, 0.0};
  int64_t length = 0;
};

TfIdf tf_idf(const NgramCounts& counts, const std::unordered_map<std::string, int64_t>& df,
             double log_images) {
  TfIdf v;
  for (const auto& [key, tf] : counts) {
    const auto it = df.find(key);
    const double d = it == df.end() ? 0.0 : static_cast<double>(it->second);
    const double w = static_cast<double>(tf) * (log_images - std::log(std::max(1.0, d)));
    const int n = key_order(key) - 1;
    v.weights[n][key] = w;
    v.norm[n] += w * w;
    if (n == 1) v.length += tf;  // bigrams, as in the reference code
  }
  for (double& x : v.norm) x = std::sqrt(x);
  return v;
}

// Sum over orders of the clipped, length-penalised cosine similarity of hyp to ref.
double cider_similarity(const TfIdf& hyp, const TfIdf& ref) {
  const double delta = static_cast<double>(hyp.length - ref.length);
  const double penalty = std::exp(-(delta * delta) / (2.0 * kCiderSigma * kCiderSigma));
  double sum = 0.0;
  for (int n = 0; n < kMaxOrder; ++n) {
    double val = 0.0;
    for (const auto& [key, h] : hyp.weights[n]) {
      const auto it = ref.weights[n].find(key);
      if (it != ref.weights[n].end()) val += std::min(h, it->second) * it->second;
    }
    if (hyp.norm[n] != 0.0 && ref.norm[n] != 0.0) val /= hyp.norm[n] * ref.norm[n];
    sum += val * penalty;
  }
  return sum;
}

}  // namespace

BleuScores corpus_bleu(const std::vector<std::vector<Tokens>>& references,
                       const std::vector<Tokens>& hypotheses) {
  check_corpus(references, hypotheses);
  Vocabulary vocab;
  int64_t numerator[kMaxOrder] = {0, 0, 0, 0};
  int64_t denominator[kMaxOrder] = {0, 0, 0, 0};
  BleuScores out;
  for (size_t i = 0; i < hypotheses.size(); ++i) {
    const Ids hyp = vocab.encode(hypotheses[i]);
    std::vector<Ids> refs;
    refs.reserve(references[i].size());
    for (const auto& r : references[i]) refs.push_back(vocab.encode(r));
    for (int n = 1; n <= kMaxOrder; ++n) {
      const NgramCounts counts = count_ngrams(hyp, n, n);
      NgramCounts max_ref;
      for (const auto& ref : refs) {
        for (const auto& [key, c] : count_ngrams(ref, n, n)) {
          if (counts.count(key)) max_ref[key] = std::max(max_ref[key], c);
        }
      }
      int64_t clipped = 0, total = 0;
      for (const auto& [key, c] : counts) {
        const auto it = max_ref.find(key);
        clipped += it == max_ref.end() ? 0 : std::min(c, it->second);
        total += c;
      }
      numerator[n - 1] += clipped;
      denominator[n - 1] += std::max<int64_t>(1, total);
    }
    out.hyp_length += static_cast<int64_t>(hyp.size());
    out.ref_length += closest_ref_length(references[i], static_cast<int64_t>(hyp.size()));
  }
  const double c = static_cast<double>(out.hyp_length), r = static_cast<double>(out.ref_length);
  out.brevity_penalty = out.hyp_length > out.ref_length ? 1.0
                        : out.hyp_length == 0        ? 0.0
                                                     : std::exp(1.0 - r / c);
  double log_sum = 0.0;
  for (int n = 1; n <= kMaxOrder; ++n) {
    if (numerator[n - 1] == 0) break;  // this order and all higher ones score 0
    log_sum += std::log(static_cast<double>(numerator[n - 1]) /
                        static_cast<double>(denominator[n - 1]));
    out.bleu[n - 1] = out.brevity_penalty * std::exp(log_sum / n);
  }
  return out;
}

double sentence_bleu4(const std::vector<Tokens>& references, const Tokens& hypothesis) {
  return corpus_bleu({references}, {hypothesis}).bleu[3];
}

CiderScores cider_d(const std::vector<std::vector<Tokens>>& references,
                    const std::vector<Tokens>& hypotheses) {
  check_corpus(references, hypotheses);
  Vocabulary vocab;
  std::vector<std::vector<NgramCounts>> ref_counts(references.size());
  std::unordered_map<std::string, int64_t> df;
  for (size_t i = 0; i < references.size(); ++i) {
    std::unordered_set<std::string> seen;
    for (const auto& r : references[i]) {
      ref_counts[i].push_back(count_ngrams(vocab.encode(r), 1, kMaxOrder));
      for (const auto& entry : ref_counts[i].back()) seen.insert(entry.first);
    }
    for (const auto& key : seen) ++df[key];
  }
  const double log_images = std::log(static_cast<double>(references.size()));
  CiderScores out;
  out.per_image.reserve(hypotheses.size());
  double total = 0.0;
  for (size_t i = 0; i < hypotheses.size(); ++i) {
    const TfIdf hyp = tf_idf(count_ngrams(vocab.encode(hypotheses[i]), 1, kMaxOrder), df, log_images);
    double sum = 0.0;
    for (const auto& counts : ref_counts[i]) sum += cider_similarity(hyp, tf_idf(counts, df, log_images));
    const double score = 10.0 * sum / kMaxOrder / static_cast<double>(ref_counts[i].size());
    out.per_image.push_back(score);
    total += score;
  }
  if (!hypotheses.empty()) out.mean = total / static_cast<double>(hypotheses.size());
  return out;
}

}  // namespace zoo
