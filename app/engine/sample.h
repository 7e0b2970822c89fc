// Text generation from a character-level language model: the prime is fed through the model,
// then one character at a time is drawn from the softmax of the logits at --temperature,
// restricted to the --top-k most likely and to the smallest set whose probability reaches
// --top-p (nucleus sampling), or taken greedily (the most likely; temperature 0 means the
// same). Each character is handed to a callback as soon as it is drawn, so the command can
// stream it. The draw uses its own generator seeded by --seed (a 64-bit Mersenne twister,
// uniform numbers from its top 53 bits), so a seed gives the same text on every machine.
#pragma once

#include "data/text.h"
#include "models/charlm.h"

#include <cstdint>
#include <functional>
#include <string>

namespace zoo {

struct SampleOptions {
  std::u32string prime;      // empty: start after a newline (or the vocabulary's first character)
  int64_t length = 500;      // characters to generate after the prime
  double temperature = 1.0;  // 0: greedy
  int64_t top_k = 0;         // 0: all
  double top_p = 1.0;        // 1: all
  uint64_t seed = 0;
  bool greedy = false;
};

// Throws usage_error for a negative length or temperature, a top-p outside (0, 1], a negative
// top-k, and data_error naming the prime's characters the vocabulary lacks.
void validate(const SampleOptions& o, const Vocabulary& vocab);

// Generates o.length characters (not counting the prime), calling emit with each one's UTF-8;
// returns them.
std::u32string sample_text(CharLmImpl& model, const Vocabulary& vocab, const SampleOptions& o,
                           const std::function<void(const std::string&)>& emit = {});

// The id drawn from one row of logits (for tests): greedy, or temperature / top-k / top-p
// sampling with the uniform number u in [0, 1).
int64_t choose_next(const std::vector<double>& logits, const SampleOptions& o, double u);

}  // namespace zoo
