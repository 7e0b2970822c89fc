// Caption metrics over tokenized captions: corpus BLEU-1..4 as NLTK computes it, sentence BLEU-4
// for per-image reports, and CIDEr-D as the coco-caption evaluation code computes it. Each image
// has one hypothesis and one or more references; tokens are compared as exact strings, so the
// caller lower-cases and splits punctuation before scoring. No torch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace zoo {

using Tokens = std::vector<std::string>;

struct BleuScores {
  double bleu[4] = {0.0, 0.0, 0.0, 0.0};  // BLEU-1..4
  double brevity_penalty = 0.0;
  int64_t hyp_length = 0;  // total hypothesis tokens (c)
  int64_t ref_length = 0;  // sum over images of the closest reference length (r)
};

// Corpus BLEU (Papineni et al. 2002) as nltk.translate.bleu_score.corpus_bleu computes it with
// weights (1/n, ..., 1/n) for BLEU-n and no smoothing. The modified precision p_n sums, over the
// corpus, each hypothesis's n-gram counts clipped by the largest count of that n-gram in any one
// of its references (numerator) and max(1, its n-gram count) (denominator; a hypothesis shorter
// than n adds 1, as in NLTK). r sums each image's reference length closest to its hypothesis
// length (ties go to the shorter). BP = 1 if c > r, 0 if c = 0, else exp(1 - r/c); BLEU-n =
// BP * exp(sum_k log(p_k) / n), and 0 when any of p_1..p_n is 0 (NLTK then returns 0 or a value
// below 1e-70), so an empty corpus or one of empty hypotheses scores 0. Throws usage_error when
// the counts differ or an image has no reference.
BleuScores corpus_bleu(const std::vector<std::vector<Tokens>>& references,
                       const std::vector<Tokens>& hypotheses);

// BLEU-4 of one hypothesis against its references (NLTK sentence_bleu, no smoothing): the
// corpus BLEU-4 of a one-image corpus, so 0 for a hypothesis shorter than 4 tokens. Throws
// usage_error when there is no reference.
double sentence_bleu4(const std::vector<Tokens>& references, const Tokens& hypothesis);

struct CiderScores {
  double mean = 0.0;              // mean of per_image; 0 for an empty corpus
  std::vector<double> per_image;  // in the order of the hypotheses
};

// CIDEr-D (Vedantam et al. 2015) as coco-caption's pycocoevalcap/cider/cider_scorer.py computes
// it. N-grams of orders 1..4 are weighted by tf * (log(N) - log(max(1, df))), with N the number of
// images scored and df the number of images whose references contain the n-gram; so the scores
// depend on the whole corpus, and a one-image corpus scores 0. For each order, the similarity of
// the hypothesis to a reference is sum_g min(h_g, r_g) * r_g / (|h| |r|) (0 when either vector is
// empty) times exp(-delta^2 / (2 * 6^2)), where delta is the difference of their lengths counted,
// as in the reference code, in bigrams (tokens - 1 for a non-empty caption). An image scores
// 10 x the mean over orders, averaged over its references. Throws usage_error when the counts
// differ or an image has no reference.
CiderScores cider_d(const std::vector<std::vector<Tokens>>& references,
                    const std::vector<Tokens>& hypotheses);

}  // namespace zoo
