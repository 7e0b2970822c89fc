// Tests for app/engine/caption_metrics: corpus BLEU worked by hand (brevity penalty below 1,
// perfect match, short hypotheses, clipping over several references) and against NLTK's
// corpus_bleu and sentence_bleu on 300 random corpora (skipped when /usr/bin/python3 lacks nltk);
// CIDEr-D worked by hand on two-image corpora (identity, length penalty, clipping, averaging over
// references) and ranked on a small realistic corpus.
#include "app/engine/caption_metrics.h"

#include "common/error.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>

#include <unistd.h>

namespace zoo {
namespace {

Tokens split(const std::string& s) {
  std::istringstream in(s);
  Tokens out;
  for (std::string t; in >> t;) out.push_back(t);
  return out;
}

std::vector<Tokens> splits(const std::vector<std::string>& lines) {
  std::vector<Tokens> out;
  for (const auto& l : lines) out.push_back(split(l));
  return out;
}

// Corpus (one reference for image 1, two for image 2):
//   1  ref  "the cat sat on the mat"                         hyp "the cat sat on mat"
//   2  refs "a dog runs in the park", "the dog is running"   hyp "the dog runs"
// c = 5 + 3 = 8; closest reference lengths 6 and 4 (|4-3| < |6-3|), so r = 10 and
// BP = exp(1 - 10/8) = exp(-0.25).
// 1-grams: hyp 1 all 5 in the reference ("the" twice there); hyp 2 all 3 ("runs" in the first
//          reference)                                       -> p1 = 8/8
// 2-grams: hyp 1 "the cat", "cat sat", "sat on" match, "on mat" does not; hyp 2 "the dog" (second
//          reference), "dog runs" (first)                   -> p2 = (3+2)/(4+2) = 5/6
// 3-grams: hyp 1 "the cat sat", "cat sat on" match, "sat on mat" does not; hyp 2 "the dog runs"
//          is in neither reference                           -> p3 = (2+0)/(3+1) = 1/2
// 4-grams: hyp 1 "the cat sat on" matches, "cat sat on mat" does not; hyp 2 has no 4-gram and
//          adds 1 to the denominator (NLTK's max(1, count))  -> p4 = (1+0)/(2+1) = 1/3
// BLEU-1 = BP, BLEU-2 = BP (5/6)^(1/2), BLEU-3 = BP (5/12)^(1/3), BLEU-4 = BP (5/36)^(1/4)
// (0.778801, 0.710945, 0.581687, 0.475437; NLTK 3.8 gives the same).
TEST(CorpusBleu, HandComputedWithBrevityPenalty) {
  const std::vector<std::vector<Tokens>> refs = {
      splits({"the cat sat on the mat"}),
      splits({"a dog runs in the park", "the dog is running"})};
  const std::vector<Tokens> hyps = splits({"the cat sat on mat", "the dog runs"});
  const BleuScores s = corpus_bleu(refs, hyps);
  const double bp = std::exp(-0.25);
  EXPECT_EQ(s.hyp_length, 8);
  EXPECT_EQ(s.ref_length, 10);
  EXPECT_NEAR(s.brevity_penalty, bp, 1e-12);
  EXPECT_NEAR(s.bleu[0], bp, 1e-12);
  EXPECT_NEAR(s.bleu[1], bp * std::sqrt(5.0 / 6.0), 1e-12);
  EXPECT_NEAR(s.bleu[2], bp * std::cbrt(5.0 / 12.0), 1e-12);
  EXPECT_NEAR(s.bleu[3], bp * std::pow(5.0 / 36.0, 0.25), 1e-12);
  EXPECT_NEAR(s.bleu[3], 0.4754373049371216, 1e-12);
}

TEST(CorpusBleu, PerfectMatchScoresOne) {
  const std::vector<std::vector<Tokens>> refs = {
      splits({"a man rides a horse on the beach", "someone on a horse"}),
      splits({"two dogs play in the snow"})};
  const std::vector<Tokens> hyps = splits({"a man rides a horse on the beach", "two dogs play in the snow"});
  const BleuScores s = corpus_bleu(refs, hyps);
  for (int n = 0; n < 4; ++n) EXPECT_DOUBLE_EQ(s.bleu[n], 1.0) << "BLEU-" << n + 1;
  EXPECT_DOUBLE_EQ(s.brevity_penalty, 1.0);
  EXPECT_EQ(s.hyp_length, 14);
  EXPECT_EQ(s.ref_length, 14);
  EXPECT_DOUBLE_EQ(sentence_bleu4(refs[0], hyps[0]), 1.0);
}

// "a dog runs" matches its reference exactly for orders 1..3 but has no 4-gram: p4 = 0/1.
TEST(CorpusBleu, HypothesisShorterThanFourHasNoBleu4) {
  const std::vector<Tokens> refs = splits({"a dog runs"});
  const Tokens hyp = split("a dog runs");
  EXPECT_EQ(sentence_bleu4(refs, hyp), 0.0);
  const BleuScores s = corpus_bleu({refs}, {hyp});
  EXPECT_DOUBLE_EQ(s.bleu[0], 1.0);
  EXPECT_DOUBLE_EQ(s.bleu[1], 1.0);
  EXPECT_DOUBLE_EQ(s.bleu[2], 1.0);
  EXPECT_EQ(s.bleu[3], 0.0);
}

// A hypothesis n-gram counts at most as often as it occurs in any single reference: the largest
// count over references, not their sum.
TEST(CorpusBleu, ClipsByLargestCountInOneReference) {
  // "the" occurs twice in each reference: 2 of the 7 count. c = 7, closest r = 7, BP = 1.
  const std::vector<Tokens> refs = splits({"the cat is on the mat", "there is a cat on the mat"});
  const BleuScores s = corpus_bleu({refs}, {split("the the the the the the the")});
  EXPECT_NEAR(s.bleu[0], 2.0 / 7.0, 1e-12);
  EXPECT_EQ(s.bleu[1], 0.0);  // "the the" is in no reference
  // "a" occurs once and twice: 2 of 3 count (the sum over references would allow 3).
  const BleuScores t = corpus_bleu({splits({"a b c", "a a d"})}, {split("a a a")});
  EXPECT_NEAR(t.bleu[0], 2.0 / 3.0, 1e-12);
  EXPECT_DOUBLE_EQ(t.brevity_penalty, 1.0);
  // "a a" occurs once in the second reference: 1 of 2 count.
  EXPECT_NEAR(t.bleu[1], std::sqrt(2.0 / 3.0 * 1.0 / 2.0), 1e-12);
}

// Closest reference length: |5-4| = |3-4| picks the shorter (3), so c = 4 > r = 3 and BP = 1;
// with references of 5 and 6 tokens r = 5 and BP = exp(1 - 5/4).
TEST(CorpusBleu, ClosestReferenceLengthTiesGoToTheShorter) {
  const Tokens hyp = split("a b c d");
  const BleuScores tie = corpus_bleu({splits({"a b c d e", "a b c"})}, {hyp});
  EXPECT_EQ(tie.ref_length, 3);
  EXPECT_DOUBLE_EQ(tie.brevity_penalty, 1.0);
  const BleuScores longer = corpus_bleu({splits({"a b c d e f", "a b c d e"})}, {hyp});
  EXPECT_EQ(longer.ref_length, 5);
  EXPECT_NEAR(longer.brevity_penalty, std::exp(1.0 - 5.0 / 4.0), 1e-12);
  EXPECT_NEAR(longer.bleu[3], std::exp(1.0 - 5.0 / 4.0), 1e-12);
}

TEST(CorpusBleu, EmptyCorpusAndEmptyHypothesesScoreZero) {
  const BleuScores empty = corpus_bleu({}, {});
  for (double b : empty.bleu) EXPECT_EQ(b, 0.0);
  EXPECT_EQ(empty.hyp_length, 0);
  const BleuScores blank = corpus_bleu({splits({"a b c d"}), splits({"e f"})}, {Tokens{}, Tokens{}});
  for (double b : blank.bleu) EXPECT_EQ(b, 0.0);
  EXPECT_EQ(blank.brevity_penalty, 0.0);
  EXPECT_EQ(blank.ref_length, 6);
}

TEST(CaptionMetrics, RejectsMismatchedCountsAndMissingReferences) {
  const std::vector<std::vector<Tokens>> refs = {splits({"a b"}), splits({"c d"})};
  const std::vector<Tokens> one = splits({"a b"});
  EXPECT_EQ(test::kind_of([&] { corpus_bleu(refs, one); }), ErrorKind::kUsage);
  EXPECT_EQ(test::kind_of([&] { cider_d(refs, one); }), ErrorKind::kUsage);
  const std::vector<std::vector<Tokens>> missing = {splits({"a b"}), {}};
  const std::vector<Tokens> two = splits({"a b", "c d"});
  EXPECT_EQ(test::kind_of([&] { corpus_bleu(missing, two); }), ErrorKind::kUsage);
  EXPECT_EQ(test::kind_of([&] { cider_d(missing, two); }), ErrorKind::kUsage);
  EXPECT_EQ(test::kind_of([&] { sentence_bleu4({}, split("a b")); }), ErrorKind::kUsage);
}

// A fresh directory under /tmp, removed when the object goes away.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "zoo-caption-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Reads the cases from argv[1], writes NLTK's scores for each to argv[2]. No single quotes: the
// script travels inside a single-quoted shell argument.
const char* const kNltkScript = R"(
import json, sys, warnings
warnings.simplefilter("ignore")
from nltk.translate.bleu_score import corpus_bleu, sentence_bleu, brevity_penalty, closest_ref_length
W = [(1, 0, 0, 0), (0.5, 0.5, 0, 0), (1 / 3, 1 / 3, 1 / 3, 0), (0.25, 0.25, 0.25, 0.25)]
out = []
for case in json.load(open(sys.argv[1])):
    refs, hyps = case["refs"], case["hyps"]
    c = sum(len(h) for h in hyps)
    r = sum(closest_ref_length(rs, len(h)) for rs, h in zip(refs, hyps))
    out.append({
        "bleu": [float(corpus_bleu(refs, hyps, weights=w)) for w in W],
        "bp": float(brevity_penalty(r, c)), "c": c, "r": r,
        "sentence": [float(sentence_bleu(rs, h)) for rs, h in zip(refs, hyps)],
    })
json.dump(out, open(sys.argv[2], "w"))
)";

// 300 corpora of 1..6 images with 1..4 references of 0..12 tokens from a 5-word vocabulary. Most
// hypotheses are a reference with some tokens replaced, dropped or added, so 3- and 4-gram matches
// are common; the rest are random (some empty).
TEST(CorpusBleu, MatchesNltkOnRandomCorpora) {
  if (std::system("/usr/bin/python3 -c 'import nltk' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "/usr/bin/python3 lacks nltk (apt-get install python3-nltk)";
  }
  const std::vector<std::string> vocab = {"a", "dog", "on", "the", "grass"};
  std::mt19937_64 rng(20240611);
  auto uniform = [&](int lo, int hi) { return lo + static_cast<int>(rng() % static_cast<uint64_t>(hi - lo + 1)); };
  auto random_word = [&] { return vocab[static_cast<size_t>(uniform(0, 4))]; };
  auto random_tokens = [&](int len) {
    Tokens t;
    for (int i = 0; i < len; ++i) t.push_back(random_word());
    return t;
  };
  struct Case {
    std::vector<std::vector<Tokens>> refs;
    std::vector<Tokens> hyps;
  };
  std::vector<Case> cases(300);
  nlohmann::json input = nlohmann::json::array();
  for (auto& c : cases) {
    const int images = uniform(1, 6);
    for (int i = 0; i < images; ++i) {
      std::vector<Tokens> refs;
      const int n_refs = uniform(1, 4);
      for (int k = 0; k < n_refs; ++k) refs.push_back(random_tokens(uniform(1, 12)));
      Tokens hyp;
      if (uniform(0, 3) == 0) {
        hyp = random_tokens(uniform(0, 12));
      } else {
        for (const auto& tok : refs[static_cast<size_t>(uniform(0, n_refs - 1))]) {
          const int op = uniform(0, 9);
          if (op == 0) continue;                           // drop
          hyp.push_back(op == 1 ? random_word() : tok);  // replace or keep
          if (op == 2) hyp.push_back(random_word());       // add after
        }
      }
      c.refs.push_back(refs);
      c.hyps.push_back(hyp);
    }
    input.push_back({{"refs", c.refs}, {"hyps", c.hyps}});
  }
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string in_path = (dir.path() / "cases.json").string();
  const std::string out_path = (dir.path() / "nltk.json").string();
  std::ofstream(in_path) << input.dump();
  const std::string cmd = std::string("/usr/bin/python3 -c '") + kNltkScript + "' '" + in_path +
                          "' '" + out_path + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream in(out_path);
  ASSERT_TRUE(in) << out_path;
  const nlohmann::json expected = nlohmann::json::parse(in);
  ASSERT_EQ(expected.size(), cases.size());

  int bleu4_positive = 0;
  for (size_t k = 0; k < cases.size(); ++k) {
    const auto& c = cases[k];
    const auto& e = expected[k];
    const BleuScores s = corpus_bleu(c.refs, c.hyps);
    for (int n = 0; n < 4; ++n) {
      EXPECT_NEAR(s.bleu[n], e["bleu"][n].get<double>(), 1e-6) << "case " << k << " BLEU-" << n + 1;
    }
    EXPECT_NEAR(s.brevity_penalty, e["bp"].get<double>(), 1e-12) << "case " << k;
    EXPECT_EQ(s.hyp_length, e["c"].get<int64_t>()) << "case " << k;
    EXPECT_EQ(s.ref_length, e["r"].get<int64_t>()) << "case " << k;
    if (s.bleu[3] > 0.0) ++bleu4_positive;
    for (size_t i = 0; i < c.hyps.size(); ++i) {
      EXPECT_NEAR(sentence_bleu4(c.refs[i], c.hyps[i]), e["sentence"][i].get<double>(), 1e-6)
          << "case " << k << " image " << i;
    }
  }
  // The generator is meant to exercise the 4-gram path, not just the zero case.
  EXPECT_GT(bleu4_positive, 150);
}

// Two images, each hypothesis equal to its only reference, the images sharing no word: every
// n-gram has df = 1, so each weight is tf * (log 2 - log 1) and each order's cosine is 1 where the
// caption has n-grams of that order, 0 where it has none; lengths agree, so no penalty.
//   4+ tokens: orders 1..4 all 1 -> 10 * (4/4) = 10
//   2 tokens:  orders 1, 2 -> 1; orders 3, 4 -> 0 -> 10 * (2/4) = 5
TEST(CiderD, IdenticalCaptionsOnTwoImages) {
  const std::vector<std::vector<Tokens>> refs = {splits({"a dog on grass"}), splits({"two red birds sing loudly"})};
  const CiderScores s = cider_d(refs, splits({"a dog on grass", "two red birds sing loudly"}));
  ASSERT_EQ(s.per_image.size(), 2u);
  EXPECT_NEAR(s.per_image[0], 10.0, 1e-12);
  EXPECT_NEAR(s.per_image[1], 10.0, 1e-12);
  EXPECT_NEAR(s.mean, 10.0, 1e-12);
  const CiderScores two = cider_d({splits({"a dog"}), splits({"red bird"})}, splits({"a dog", "red bird"}));
  EXPECT_NEAR(two.per_image[0], 5.0, 1e-12);
  EXPECT_NEAR(two.mean, 5.0, 1e-12);
  // A word in every image's references has df = N, weight 0: "a" adds nothing, and "a dog" /
  // "a bird" still match through "dog", "bird" and the bigrams, so the score is unchanged.
  const CiderScores shared = cider_d({splits({"a dog"}), splits({"a bird"})}, splits({"a dog", "a bird"}));
  EXPECT_NEAR(shared.per_image[0], 5.0, 1e-12);
  EXPECT_NEAR(shared.per_image[1], 5.0, 1e-12);
}

// Image 1: ref "a b c d", hyp "a b c"; image 2: ref = hyp = "e f g h" (10, as above). All of
// image 1's n-grams have df = 1, weight L = log 2 each, so with all weights equal:
//   order 1: hyp {a,b,c}, ref {a,b,c,d}:       3 L^2 / (sqrt(3) L * 2 L)       = sqrt(3)/2
//   order 2: hyp {ab,bc}, ref {ab,bc,cd}:      2 L^2 / (sqrt(2) L * sqrt(3) L) = 2/sqrt(6)
//   order 3: hyp {abc}, ref {abc,bcd}:         L^2 / (L * sqrt(2) L)           = 1/sqrt(2)
//   order 4: hyp has none                                                      = 0
// Lengths in bigrams 2 and 3: delta = -1, penalty exp(-1/72). Image 1 scores
// 10 * exp(-1/72) * (sqrt(3)/2 + 2/sqrt(6) + 1/sqrt(2)) / 4 = 5.891672...
TEST(CiderD, HandComputedWithLengthPenalty) {
  const std::vector<std::vector<Tokens>> refs = {splits({"a b c d"}), splits({"e f g h"})};
  const CiderScores s = cider_d(refs, splits({"a b c", "e f g h"}));
  const double expected =
      10.0 * std::exp(-1.0 / 72.0) * (std::sqrt(3.0) / 2.0 + 2.0 / std::sqrt(6.0) + 1.0 / std::sqrt(2.0)) / 4.0;
  EXPECT_NEAR(s.per_image[0], expected, 1e-12);
  EXPECT_NEAR(s.per_image[0], 5.891672, 1e-6);
  EXPECT_NEAR(s.per_image[1], 10.0, 1e-12);
  EXPECT_NEAR(s.mean, (expected + 10.0) / 2.0, 1e-12);
}

// Image 1: ref "x y", hyp "x x"; image 2 identical "z w". Weights L = log 2 (df 0 or 1 alike).
//   order 1: hyp {x: 2L}, ref {x: L, y: L}: min(2L, L) * L / (2L * sqrt(2) L) = 1/(2 sqrt(2))
//            (unclipped, 2L * L would give 1/sqrt(2))
//   order 2: hyp {xx: L} is not in the reference: 0; orders 3, 4 empty: 0
// Both have one bigram: no penalty. Image 1 scores 10 * (1/(2 sqrt(2))) / 4 = 0.883883...
TEST(CiderD, ClipsHypothesisWeightsByTheReference) {
  const CiderScores s = cider_d({splits({"x y"}), splits({"z w"})}, splits({"x x", "z w"}));
  EXPECT_NEAR(s.per_image[0], 10.0 / (2.0 * std::sqrt(2.0)) / 4.0, 1e-12);
  EXPECT_NEAR(s.per_image[0], 0.883883, 1e-6);
}

// Image 1 refs "p q", "r s", hyp "p q": similarity 2 (orders 1, 2) to the first reference, 0 to
// the second; averaged over the 2 references: 10 * (2/4) / 2 = 2.5.
TEST(CiderD, AveragesOverReferences) {
  const CiderScores s = cider_d({splits({"p q", "r s"}), splits({"t u"})}, splits({"p q", "t u"}));
  EXPECT_NEAR(s.per_image[0], 2.5, 1e-12);
  EXPECT_NEAR(s.per_image[1], 5.0, 1e-12);
}

// A longer hypothesis that holds the whole reference still loses to the exact one: the extra
// words dilute the cosine and the Gaussian penalty grows with the length difference.
TEST(CiderD, LongerHypothesisScoresLower) {
  const std::vector<std::vector<Tokens>> refs = {splits({"a dog runs on the grass"}), splits({"a cat sleeps"})};
  const double exact = cider_d(refs, splits({"a dog runs on the grass", "a cat sleeps"})).per_image[0];
  const double longer =
      cider_d(refs, splits({"a dog runs on the grass near a big old tree", "a cat sleeps"})).per_image[0];
  const double longest = cider_d(
      refs, splits({"a dog runs on the grass near a big old tree by a river in the park at noon",
                    "a cat sleeps"})).per_image[0];
  EXPECT_GT(exact, longer);
  EXPECT_GT(longer, longest);
  EXPECT_GT(longest, 0.0);
}

TEST(CiderD, PerfectCaptionsBeatWrongOnes) {
  const std::vector<std::vector<Tokens>> refs = {
      splits({"a man riding a wave on a surfboard", "a surfer rides a large wave",
              "a person surfing in the ocean"}),
      splits({"a plate of food with broccoli and rice", "a dish of rice and broccoli"}),
      splits({"two giraffes standing in a field", "giraffes grazing near some trees",
              "a pair of giraffes in the grass"}),
      splits({"a red bus parked on the street", "a double decker bus on a city road"})};
  const std::vector<Tokens> perfect = splits({"a surfer rides a large wave", "a plate of food with broccoli and rice",
                                              "two giraffes standing in a field", "a red bus parked on the street"});
  const std::vector<Tokens> wrong = splits({"a red bus parked on the street", "two giraffes standing in a field",
                                            "a plate of food with broccoli and rice", "a surfer rides a large wave"});
  const CiderScores good = cider_d(refs, perfect);
  const CiderScores bad = cider_d(refs, wrong);
  EXPECT_GT(good.mean, 0.0);
  EXPECT_GT(good.mean, bad.mean + 1.0);
  for (size_t i = 0; i < refs.size(); ++i) EXPECT_GT(good.per_image[i], bad.per_image[i]) << "image " << i;
  double sum = 0.0;
  for (double x : good.per_image) sum += x;
  EXPECT_NEAR(good.mean, sum / 4.0, 1e-12);
}

// With one image every weight is tf * (log 1 - log 1) = 0, so CIDEr-D is 0 whatever the caption;
// an empty corpus has no scores and mean 0.
TEST(CiderD, OneImageOrEmptyCorpusScoresZero) {
  const CiderScores one = cider_d({splits({"a dog on grass"})}, splits({"a dog on grass"}));
  ASSERT_EQ(one.per_image.size(), 1u);
  EXPECT_EQ(one.per_image[0], 0.0);
  EXPECT_EQ(one.mean, 0.0);
  const CiderScores none = cider_d({}, {});
  EXPECT_TRUE(none.per_image.empty());
  EXPECT_EQ(none.mean, 0.0);
}

}  // namespace
}  // namespace zoo
