// Text corpora for character-level models: UTF-8 decoding to Unicode code points (so that
// "ş" and "ü" are one character each), reading a file, a folder of files or a named corpus,
// and the character vocabulary that maps code points to token ids and back.
//
// Decoding follows the Unicode standard's definition of well-formed UTF-8: overlong forms,
// surrogates (U+D800..U+DFFF), code points above U+10FFFF and truncated sequences are
// invalid. Strict mode names the file and byte offset of the first invalid byte; replace mode
// substitutes U+FFFD for each maximal invalid subpart (the W3C/Unicode practice). A UTF-8 byte
// order mark at the start of a file is dropped. Leaves out: normalisation (NFC), other
// encodings.
#pragma once

#include <torch/types.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace zoo {

enum class Utf8Errors { kStrict, kReplace };

// "strict" | "replace"; anything else is a usage error.
Utf8Errors parse_utf8_errors(const std::string& name);

// Decodes `bytes`; `where` names the source in errors (a file path). Strict mode throws
// data_error "invalid UTF-8 in WHERE at byte N (...)"; replace mode counts the replacements
// in *replaced when given.
std::u32string decode_utf8(std::string_view bytes, Utf8Errors errors, const std::string& where,
                           int64_t* replaced = nullptr);
// Encodes one code point / a string of them.
std::string encode_utf8(char32_t c);
std::string encode_utf8(const std::u32string& text);

// A character in messages: printable ones as themselves in quotes, others as U+XXXX.
std::string describe_char(char32_t c);

struct TextOptions {
  // File-name extensions a folder is read with (".txt"); "*" reads every regular file.
  std::vector<std::string> extensions{".txt"};
  Utf8Errors errors = Utf8Errors::kStrict;
};

struct TextCorpus {
  std::u32string text;             // the files' characters, concatenated in path order
  std::vector<std::string> files;  // what was read, in order
  int64_t bytes = 0;               // UTF-8 bytes read
  int64_t replaced = 0;            // invalid sequences replaced (--utf8-errors replace)
};

// The name of the corpus a character-level model reads by default, and where it is.
inline constexpr const char* kDefaultTextCorpus = "common-licenses";
inline constexpr const char* kCommonLicensesDir = "/usr/share/common-licenses";

// Reads `spec`: a text file; a folder (recursively, files whose extension is in
// options.extensions, in path order, each file once even when linked twice); the name
// "common-licenses" (every file of /usr/share/common-licenses, present on every Debian
// system); or a name looked up under $ZOO_DATA (default ~/.zoo/data) as NAME, NAME.txt or a
// folder NAME. Throws missing_error when nothing is there, data_error for invalid UTF-8 (strict)
// or an empty corpus.
TextCorpus read_text_corpus(const std::string& spec, const TextOptions& options);

// The characters of a corpus, in code point order; id i is chars()[i].
class Vocabulary {
 public:
  Vocabulary() = default;
  explicit Vocabulary(std::vector<char32_t> chars);
  // Every distinct character of `text`, sorted.
  static Vocabulary of_text(const std::u32string& text);

  int64_t size() const { return static_cast<int64_t>(chars_.size()); }
  const std::vector<char32_t>& chars() const { return chars_; }
  bool contains(char32_t c) const { return index_.count(c) > 0; }
  // -1 when absent.
  int64_t id(char32_t c) const;
  char32_t at(int64_t id) const { return chars_.at(static_cast<size_t>(id)); }

  // A 1-D int64 tensor of the ids of `text`. Throws data_error naming the characters (up to a
  // few, with their counts) that are not in the vocabulary; `what` says whose text it is.
  torch::Tensor encode(const std::u32string& text, const std::string& what) const;
  std::string decode(const torch::Tensor& ids) const;

  // JSON: an array of one-character strings, e.g. ["\n", " ", "a"].
  nlohmann::json to_json() const;
  // Throws data_error when an entry is not exactly one character or repeats.
  static Vocabulary from_json(const nlohmann::json& j);

 private:
  std::vector<char32_t> chars_;
  std::unordered_map<char32_t, int64_t> index_;
};

}  // namespace zoo
