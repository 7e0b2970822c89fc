// Writing captions with a trained captioner: beam search for one image (zoo caption, zoo eval)
// and batched greedy decoding (validation during training).
//
// Beam search: from <start>, every live hypothesis is extended by every word (and <end>); the
// `beam` best extensions by summed log-probability are kept, those ending in <end> move to the
// finished list, the rest stay live, until none is live or `max_len` words were written (live
// ones then finish as they are). Finished hypotheses are ranked by score = log-probability /
// length^alpha (Wu et al. 2016's length normalisation without the +5 offset; length counts the
// words and <end>; alpha 0 ranks by log-probability alone). beam 1 is greedy decoding.
#pragma once

#include "models/captioner.h"

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace zoo {

struct BeamOptions {
  int64_t beam = 3;
  int64_t max_len = 20;      // words, not counting <end>
  double length_norm = 0.7;  // alpha
};

struct CaptionHypothesis {
  std::vector<int64_t> words;           // word ids, without <start> and <end>
  double logprob = 0.0;                 // summed over the words and <end>
  double score = 0.0;                   // ranking score (see above)
  bool ended = false;                   // false: cut at max_len
  std::vector<torch::Tensor> attention; // one L-vector per written token (attention models)
};

double caption_score(double logprob, size_t tokens, double alpha);

// Every finished hypothesis of one image (features of N = 1), best first. The model must be in
// eval mode; runs without gradients.
std::vector<CaptionHypothesis> beam_search(CaptionerImpl& model, const ImageFeatures& features,
                                           const BeamOptions& options);

// Greedy captions of a batch (N images): for each, the word ids before <end> (at most max_len).
std::vector<std::vector<int64_t>> greedy_decode(CaptionerImpl& model, const ImageFeatures& features,
                                                int64_t max_len);

// The rows `index` of features (for a beam, an image repeated).
ImageFeatures select_features(const ImageFeatures& features, const torch::Tensor& index);

}  // namespace zoo
