// The character-level language model end to end: UTF-8 decoding and the vocabulary, corpus
// reading, the model's sizes against the registry, the lectures' "hello" example (greedy
// sampling from "h" gives "hello"), truncated BPTT that carries state across batches (a
// periodic sequence is predicted better with the carried state than with a reset one), exact
// resume of a run stopped mid-epoch, and sampling (deterministic for a seed, greedy and
// temperature 0 agree, top-k / top-p restrict the draw).
#include "app/engine/checkpoint.h"
#include "app/engine/sample.h"
#include "app/engine/tasks/language_model.h"
#include "app/engine/tasks/token_loss.h"
#include "app/engine/trainer.h"
#include "common/error.h"
#include "data/stream_batcher.h"
#include "data/text.h"
#include "models/charlm.h"
#include "models/registry.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>

namespace zoo {
namespace {

using test::TempDir;
namespace fs = std::filesystem;

std::string error_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no zoo::Error thrown";
  return "";
}

TEST(Utf8, MultiByteTextRoundTripsAsOneCharacterEach) {
  const std::string text = "Ağaç, Straße, über: 日本 😀\n";
  const std::u32string chars = decode_utf8(text, Utf8Errors::kStrict, "t");
  EXPECT_EQ(chars.size(), 25u);  // ğ ç ß ü 日 本 😀 are one code point each
  EXPECT_EQ(chars[1], U'ğ');
  EXPECT_EQ(chars[23], U'\U0001F600');
  EXPECT_EQ(encode_utf8(chars), text);
  // Every code point of every length survives.
  std::u32string all;
  for (char32_t c : {U'\x01', U'\x7F', U'\x80', U'\x7FF', U'\x800', U'\xFFFD', U'\xFFFF', U'\U00010000', U'\U0010FFFF'}) all += c;
  EXPECT_EQ(decode_utf8(encode_utf8(all), Utf8Errors::kStrict, "t"), all);
  // A byte order mark is not text.
  EXPECT_EQ(decode_utf8("\xEF\xBB\xBFhi", Utf8Errors::kStrict, "t"), U"hi");
}

TEST(Utf8, InvalidBytesAreAnErrorNamingTheOffsetOrReplaced) {
  const std::string m = error_message([] { decode_utf8("abc\xC3(def", Utf8Errors::kStrict, "f.txt"); });
  EXPECT_NE(m.find("f.txt at byte 3"), std::string::npos) << m;
  EXPECT_NE(m.find("--utf8-errors replace"), std::string::npos) << m;
  EXPECT_EQ(test::kind_of([] { decode_utf8("\xFF", Utf8Errors::kStrict, "f"); }), ErrorKind::kBadData);
  // Overlong, surrogate, above U+10FFFF, lone continuation, cut short: all invalid.
  for (const char* bad : {"\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\x80", "ok\xE2\x82"}) {
    EXPECT_THROW(decode_utf8(bad, Utf8Errors::kStrict, "f"), Error) << bad;
  }
  int64_t replaced = 0;
  // One U+FFFD per maximal invalid subpart: "\xE2\x82" is one (a cut-short sequence), "\xFF" one.
  EXPECT_EQ(decode_utf8("a\xE2\x82" "b\xFF" "c", Utf8Errors::kReplace, "f", &replaced), U"a\uFFFDb\uFFFDc");
  EXPECT_EQ(replaced, 2);
}

TEST(Vocabulary, SortedEncodesDecodesAndNamesUnknownCharacters) {
  const std::u32string text = decode_utf8("schön über", Utf8Errors::kStrict, "t");
  const Vocabulary v = Vocabulary::of_text(text);
  EXPECT_EQ(v.size(), 10);  // ' ' b c e h n r s ö ü
  EXPECT_TRUE(std::is_sorted(v.chars().begin(), v.chars().end()));
  EXPECT_EQ(v.decode(v.encode(text, "t")), "schön über");
  const std::string m = error_message([&] { v.encode(decode_utf8("şşx", Utf8Errors::kStrict, "t"), "--prime"); });
  EXPECT_NE(m.find("--prime"), std::string::npos) << m;
  EXPECT_NE(m.find("'ş' (U+015F) x2"), std::string::npos) << m;
  EXPECT_NE(m.find("'x'"), std::string::npos) << m;
  const Vocabulary back = Vocabulary::from_json(v.to_json());
  EXPECT_EQ(back.chars(), v.chars());
  EXPECT_THROW(Vocabulary::from_json(nlohmann::json::array({"ab"})), Error);
  EXPECT_THROW(Vocabulary::from_json(nlohmann::json::array({"a", "a"})), Error);
}

TEST(TextCorpus, FoldersByExtensionInPathOrderEachFileOnce) {
  TempDir dir;
  fs::create_directories(dir.path() / "sub");
  test::write_file(dir / "b.txt", "bee\n");
  test::write_file(dir / "sub/a.txt", "ay\n");
  test::write_file(dir / "notes.md", "md\n");
  test::write_file(dir / "index.dat", "\xFF\xFE");  // binary, not read
  fs::create_symlink(dir.path() / "b.txt", dir.path() / "sub/link.txt");
  TextCorpus c = read_text_corpus(dir.path().string(), {});
  EXPECT_EQ(encode_utf8(c.text), "bee\nay\n");  // b.txt, sub/a.txt; the link to b.txt once
  EXPECT_EQ(c.files.size(), 2u);
  TextOptions md;
  md.extensions = {"md", ".txt"};
  EXPECT_EQ(encode_utf8(read_text_corpus(dir.path().string(), md).text), "bee\nmd\nay\n");
  TextOptions all;
  all.extensions = {"*"};
  EXPECT_EQ(test::kind_of([&] { read_text_corpus(dir.path().string(), all); }), ErrorKind::kBadData);
  all.errors = Utf8Errors::kReplace;
  EXPECT_EQ(read_text_corpus(dir.path().string(), all).replaced, 2);
  EXPECT_EQ(test::kind_of([&] { read_text_corpus((dir.path() / "missing.txt").string(), {}); }),
            ErrorKind::kMissingInput);
  // A name resolves under $ZOO_DATA as NAME.txt.
  ::setenv("ZOO_DATA", dir.path().c_str(), 1);
  EXPECT_EQ(encode_utf8(read_text_corpus("b", {}).text), "bee\n");
  ::unsetenv("ZOO_DATA");
}

TEST(TextCorpus, DefaultCorpusIsOnEveryDebianSystem) {
  const TextCorpus c = read_text_corpus(kDefaultTextCorpus, {});
  EXPECT_GT(c.text.size(), 100000u);
  EXPECT_GE(c.files.size(), 10u);
}

TEST(CharLm, SizesMatchTheRegistryAndPyTorchNames) {
  CharLmOptions o;
  o.vocab_size = kCharLmReferenceVocab;
  CharLm m(o);
  const ModelInfo& info = find_model("charlm");
  EXPECT_FALSE(info.is_classifier());
  EXPECT_EQ(count_parameters(*m), info.parameters);
  EXPECT_EQ(char_lm_parameters(o), info.parameters);
  // Multiply-adds per character: every weight matrix but the embedding's, once.
  int64_t macs = 0;
  for (const auto& p : m->named_parameters()) {
    if (p.key().find("weight") != std::string::npos && p.key() != "embed.weight") macs += p.value().numel();
  }
  EXPECT_EQ(macs, info.macs);
  std::vector<std::string> names;
  for (const auto& p : m->named_parameters()) names.push_back(p.key());
  EXPECT_EQ(names, (std::vector<std::string>{"embed.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0",
                                             "rnn.bias_ih_l0", "rnn.bias_hh_l0", "rnn.weight_ih_l1",
                                             "rnn.weight_hh_l1", "rnn.bias_ih_l1", "rnn.bias_hh_l1",
                                             "head.weight", "head.bias"}));
  for (const char* cell : {"gru", "rnn"}) {
    o.cell = cell;
    EXPECT_EQ(count_parameters(*CharLm(o)), char_lm_parameters(o)) << cell;
    auto [logits, state] = CharLm(o)->forward(torch::zeros({3, 5}, torch::kInt64));
    EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{3, 5, kCharLmReferenceVocab}));
    EXPECT_FALSE(state.c.defined());
  }
  EXPECT_THROW(build_classifier("charlm", {}), Error);
}

TrainConfig lm_config(const TempDir& dir, const std::string& data, const std::string& name) {
  TrainConfig c;
  c.model = "charlm";
  c.data = data;
  c.cell = "lstm";
  c.embed = 8;
  c.hidden = 32;
  c.layers = 1;
  c.seq_len = 16;
  c.batch_size = 8;
  c.epochs = 12;
  c.optimizer = "adam";
  c.lr = 0.01;
  c.weight_decay = 0.0;
  c.clip_grad_norm = 5.0;
  c.schedule = "constant";
  c.seed = 3;
  c.threads = 1;
  c.deterministic = true;
  c.name = name;
  c.runs_dir = (dir.path() / "runs").string();
  c.quiet = true;
  return c;
}

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// The lectures' example: trained on "hello" over and over, the model predicts h -> e -> l ->
// l -> o; the second "l" needs the state (after "l" comes "l" once, then "o").
TEST(CharLm, LearnsHelloAndGreedySamplingFromHGivesHello) {
  TempDir dir;
  test::write_file(dir / "hello.txt", repeat("hello", 300));
  TrainConfig c = lm_config(dir, dir / "hello.txt", "hello");
  c.seq_len = 5;
  c.batch_size = 4;
  c.epochs = 4;
  const TrainSummary s = train(c);
  LoadedLanguageModel lm = load_language_model(s.run_dir + "/checkpoints/best.pt");
  EXPECT_EQ(lm.vocab.size(), 4);
  SampleOptions o;
  o.prime = U"h";
  o.length = 9;
  o.greedy = true;
  EXPECT_EQ(encode_utf8(sample_text(*lm.model, lm.vocab, o)), "ellohello");
  EXPECT_LT(s.final_metrics["val_bpc"].get<double>(), 0.2);
}

// A random binary block of 24 characters repeated: within a batch row of 16 characters the
// first ones cannot be placed in the cycle without the state carried from the batch before.
TEST(CharLm, TruncatedBpttCarriesStateAcrossBatches) {
  TempDir dir;
  std::mt19937 rng(7);
  std::string block;
  for (int i = 0; i < 24; ++i) block += (rng() & 1) ? 'a' : 'b';
  test::write_file(dir / "periodic.txt", repeat(block, 250));
  const TrainSummary s = train(lm_config(dir, dir / "periodic.txt", "periodic"));
  LoadedLanguageModel lm = load_language_model(s.run_dir + "/checkpoints/best.pt");
  const torch::Tensor tokens = lm.vocab.encode(decode_utf8(repeat(block, 40), Utf8Errors::kStrict, "t"), "t");
  StreamBatcher batches(tokens, {4, 16, false, 0});
  const double carried = evaluate_text(*lm.model, batches, torch::kCPU, Precision::kFp32).loss;
  // The same batches, each from a zero state.
  torch::NoGradGuard no_grad;
  double sum = 0.0;
  int64_t n = 0;
  batches.start_epoch(0);
  while (auto b = batches.next()) {
    auto [logits, state] = lm.model->forward(b->inputs());
    const TokenLoss loss = token_cross_entropy(logits, b->targets());
    sum += loss.sum;
    n += loss.tokens;
  }
  const double reset = sum / double(n);
  EXPECT_LT(carried, 0.05) << "carried " << carried << ", reset " << reset;
  EXPECT_LT(carried, 0.5 * reset) << "carried " << carried << ", reset " << reset;
}

// Stopped mid-epoch (--max-steps) and resumed, a run ends with the same weights as one that
// ran through: the carried state is restored from last.pt.
TEST(CharLm, ResumeMidEpochIsExact) {
  TempDir dir;
  test::write_file(dir / "text.txt", repeat("the quick brown fox jumps over the lazy dog. ", 60));
  TrainConfig c = lm_config(dir, dir / "text.txt", "whole");
  c.epochs = 2;
  const TrainSummary whole = train(c);
  c.name = "parts";
  c.max_steps = 7;  // inside the first epoch
  const TrainSummary part = train(c);
  ASSERT_EQ(part.stop_reason, "max_steps");
  const TrainSummary rest = resume(part.run_dir, {{"max_steps", 0}});
  EXPECT_EQ(rest.steps_done, whole.steps_done);
  const Checkpoint a = load_checkpoint(whole.run_dir + "/checkpoints/last.pt");
  const Checkpoint b = load_checkpoint(rest.run_dir + "/checkpoints/last.pt");
  ASSERT_EQ(a.model.size(), b.model.size());
  for (size_t i = 0; i < a.model.size(); ++i) EXPECT_TRUE(torch::equal(a.model[i].second, b.model[i].second)) << a.model[i].first;
  EXPECT_FALSE(b.task_state.empty());  // h and c of the LSTM
}

TEST(Sampling, DeterministicForASeedAndGreedyIsTemperatureZero) {
  torch::manual_seed(1);
  CharLmOptions mo;
  mo.vocab_size = 5;
  mo.hidden = 16;
  mo.embed = 4;
  CharLm m(mo);
  const Vocabulary v(std::vector<char32_t>{U'a', U'b', U'c', U'ş', U'\n'});
  SampleOptions o;
  o.prime = U"abş";
  o.length = 60;
  o.seed = 11;
  const std::u32string first = sample_text(*m, v, o);
  EXPECT_EQ(first.size(), 60u);
  EXPECT_EQ(sample_text(*m, v, o), first);
  o.seed = 12;
  EXPECT_NE(sample_text(*m, v, o), first);
  std::string streamed;
  sample_text(*m, v, o, [&](const std::string& c) { streamed += c; });
  EXPECT_EQ(streamed, encode_utf8(sample_text(*m, v, o)));
  SampleOptions greedy = o, cold = o;
  greedy.greedy = true;
  cold.temperature = 0.0;
  cold.seed = 99;
  EXPECT_EQ(sample_text(*m, v, greedy), sample_text(*m, v, cold));
  o.prime = U"xa";
  EXPECT_EQ(test::kind_of([&] { sample_text(*m, v, o); }), ErrorKind::kBadData);
}

TEST(Sampling, TemperatureTopKAndTopPShapeTheDraw) {
  const std::vector<double> logits{std::log(0.1), std::log(0.6), std::log(0.3)};
  SampleOptions o;
  // Draws follow the probabilities in order of likelihood: 0.6, 0.3, 0.1.
  EXPECT_EQ(choose_next(logits, o, 0.59), 1);
  EXPECT_EQ(choose_next(logits, o, 0.61), 2);
  EXPECT_EQ(choose_next(logits, o, 0.95), 0);
  o.top_k = 1;
  EXPECT_EQ(choose_next(logits, o, 0.95), 1);
  o.top_k = 0;
  o.top_p = 0.8;  // {0.6, 0.3} reach it: renormalised to 2/3, 1/3
  EXPECT_EQ(choose_next(logits, o, 0.65), 1);
  EXPECT_EQ(choose_next(logits, o, 0.7), 2);
  EXPECT_EQ(choose_next(logits, o, 0.999), 2);
  o.top_p = 1.0;
  o.temperature = 1e-3;  // nearly greedy
  EXPECT_EQ(choose_next(logits, o, 0.999), 1);
  o.temperature = 100.0;  // nearly uniform: thirds
  EXPECT_EQ(choose_next(logits, o, 0.5), 2);
  EXPECT_EQ(choose_next(logits, o, 0.9), 0);
}

}  // namespace
}  // namespace zoo
