// libFuzzer harness for the readers that turn a checkpoint's metadata back into objects when a
// checkpoint is given to `zoo sample`, `zoo caption`, `zoo eval` or `zoo predict`: the input is
// the metadata's JSON text (the "meta" string of a .pt file; invalid JSON is load_checkpoint's
// "corrupt metadata" error). Each reader is called on the whole document and on the members
// the program hands it (meta["vocab"], meta["char_lm"], meta["captioner"]):
//   Vocabulary::from_json (data/text.h)              load_language_model, outside any catch;
//   char_lm_options_from_json (models/charlm.h)      load_language_model;
//   CaptionVocabulary::from_json (data/captions.h)   load_captioner;
//   captioner_options_from_json (models/captioner.h) load_captioner;
//   sample_spec_from_json (data/sample_spec_json.h) load_captioner, load_classifier.
// A zoo::Error is an answer. The callers of all but the first turn a nlohmann::json exception
// (a missing key, a value of the wrong type) into a data error naming the checkpoint, so for
// those the harness lets it pass too; any other exception, or a sanitizer report, is a finding.
// (The checkpoint harness reaches these readers only through g++-built code, without coverage
// feedback; this one has it.) What reads survives to_json -> from_json unchanged.
#include "common/error.h"
#include "data/captions.h"
#include "data/sample_spec_json.h"
#include "data/text.h"
#include "fuzz/fuzz_util.h"
#include "models/captioner.h"
#include "models/charlm.h"

#include <nlohmann/json.hpp>

#include <vector>

namespace {

// A reader whose caller catches zoo::Error only.
template <typename Read>
void read_strict(Read read) {
  try {
    read();
  } catch (const zoo::Error&) {
  }
}

// A reader whose caller also turns a nlohmann::json exception into "CHECKPOINT has malformed
// ... metadata" (load_language_model, load_captioner, load_classifier).
template <typename Read>
void read_wrapped(Read read) {
  try {
    read();
  } catch (const zoo::Error&) {
  } catch (const nlohmann::json::exception&) {
  }
}

void read_all(const nlohmann::json& j) {
  read_strict([&] {
    const zoo::Vocabulary vocab = zoo::Vocabulary::from_json(j);
    ZOO_FUZZ_CHECK(j.is_array() && vocab.size() == static_cast<int64_t>(j.size()),
                   "one character per entry");
    for (int64_t i = 0; i < vocab.size(); ++i) {
      ZOO_FUZZ_CHECK(vocab.id(vocab.at(i)) == i, "every character has its own id");
    }
    const zoo::Vocabulary back = zoo::Vocabulary::from_json(vocab.to_json());
    ZOO_FUZZ_CHECK(back.chars() == vocab.chars(), "the vocabulary survives to_json and back");
  });
  read_wrapped([&] {
    const zoo::CharLmOptions options = zoo::char_lm_options_from_json(j);
    const nlohmann::json once = zoo::to_json(options);
    ZOO_FUZZ_CHECK(zoo::to_json(zoo::char_lm_options_from_json(once)) == once,
                   "charlm options survive to_json and back");
  });
  read_wrapped([&] {
    const zoo::CaptionVocabulary vocab = zoo::CaptionVocabulary::from_json(j);
    ZOO_FUZZ_CHECK(vocab.size() >= zoo::CaptionVocabulary::kSpecials, "the special tokens are there");
    for (int64_t i = zoo::CaptionVocabulary::kSpecials; i < vocab.size(); ++i) {
      ZOO_FUZZ_CHECK(vocab.id(vocab.word(i)) == i, "every word has its own id");
    }
    const zoo::CaptionVocabulary back = zoo::CaptionVocabulary::from_json(vocab.to_json());
    ZOO_FUZZ_CHECK(back.words() == vocab.words(), "the caption vocabulary survives to_json and back");
  });
  read_wrapped([&] {
    const zoo::CaptionerOptions options = zoo::captioner_options_from_json(j);
    const nlohmann::json once = zoo::to_json(options);
    ZOO_FUZZ_CHECK(zoo::to_json(zoo::captioner_options_from_json(once)) == once,
                   "captioner options survive to_json and back");
  });
  read_wrapped([&] {
    const zoo::SampleSpec spec = zoo::sample_spec_from_json(j);
    const zoo::SampleSpec back = zoo::sample_spec_from_json(zoo::sample_spec_to_json(spec));
    ZOO_FUZZ_CHECK(back.channels == spec.channels && back.height == spec.height && back.width == spec.width &&
                       back.mean == spec.mean && back.std == spec.std && back.resize == spec.resize,
                   "the sample spec survives to_json and back");
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json meta;
  try {
    meta = nlohmann::json::parse(data, data + size);
  } catch (const nlohmann::json::exception&) {
    return 0;  // load_checkpoint: "has corrupt metadata"
  }
  read_all(meta);
  if (meta.is_object()) {
    for (const char* key : {"vocab", "char_lm", "captioner"}) {
      if (meta.contains(key)) read_all(meta.at(key));
    }
  }
  return 0;
}
