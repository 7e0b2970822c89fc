// libFuzzer harness for text corpora (data/text.h): decode_utf8 in strict and replace mode on
// the input, and read_text_corpus on it as a file. Properties: strict succeeds exactly when
// replace replaces nothing, and then both agree and re-encode to the input (less a leading
// byte order mark); replace output is valid UTF-8 again; the character vocabulary of the text
// encodes and decodes it and survives to_json -> from_json.
#include "common/error.h"
#include "data/text.h"
#include "fuzz/fuzz_util.h"

#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const bool bom = bytes.substr(0, 3) == "\xEF\xBB\xBF";

  int64_t replaced = 0;
  const std::u32string lenient = zoo::decode_utf8(bytes, zoo::Utf8Errors::kReplace, "fuzz", &replaced);
  ZOO_FUZZ_CHECK(replaced >= 0 && static_cast<size_t>(replaced) <= size, "replacements are counted");
  const std::string reencoded = zoo::encode_utf8(lenient);
  // Decoding it again gives it back (a U+FEFF in front reads as a byte order mark then).
  const bool feff = !lenient.empty() && lenient[0] == U'\uFEFF';
  ZOO_FUZZ_CHECK(zoo::decode_utf8(reencoded, zoo::Utf8Errors::kStrict, "fuzz") == lenient.substr(feff ? 1 : 0),
                 "replace mode's output is well-formed UTF-8");
  bool strict_ok = true;
  std::u32string strict;
  try {
    strict = zoo::decode_utf8(bytes, zoo::Utf8Errors::kStrict, "fuzz");
  } catch (const zoo::Error& e) {
    ZOO_FUZZ_CHECK(e.kind() == zoo::ErrorKind::kBadData, "invalid UTF-8 is a data error");
    strict_ok = false;
  }
  ZOO_FUZZ_CHECK(strict_ok == (replaced == 0), "strict fails exactly when replace replaces");
  if (strict_ok) {
    ZOO_FUZZ_CHECK(strict == lenient, "strict and replace agree on valid input");
    ZOO_FUZZ_CHECK(reencoded == bytes.substr(bom ? 3 : 0), "valid UTF-8 round-trips");
    for (char32_t c : strict) {
      ZOO_FUZZ_CHECK(c <= 0x10FFFF && (c < 0xD800 || c > 0xDFFF), "decoded code points are scalar values");
    }
  }

  const auto& dir = zoo::fuzz::scratch_dir("text");
  const std::string file = (dir / "corpus.txt").string();
  zoo::fuzz::write_bytes(file, data, size);
  for (const auto mode : {zoo::Utf8Errors::kStrict, zoo::Utf8Errors::kReplace}) {
    zoo::TextOptions options;
    options.errors = mode;
    try {
      const zoo::TextCorpus corpus = zoo::read_text_corpus(file, options);
      ZOO_FUZZ_CHECK(corpus.text == lenient && corpus.bytes == int64_t(size),
                     "read_text_corpus decodes the file like decode_utf8");
      const zoo::Vocabulary vocab = zoo::Vocabulary::of_text(corpus.text);
      const std::string back = vocab.decode(vocab.encode(corpus.text, "fuzz"));
      ZOO_FUZZ_CHECK(back == zoo::encode_utf8(corpus.text), "the vocabulary encodes and decodes");
      ZOO_FUZZ_CHECK(zoo::Vocabulary::from_json(vocab.to_json()).chars() == vocab.chars(),
                     "the vocabulary survives to_json and back");
    } catch (const zoo::Error&) {
    }
  }
  return 0;
}
