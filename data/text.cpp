// Text corpora: UTF-8 decoding, corpus reading and the character vocabulary (text.h).
#include "data/text.h"

#include "common/error.h"
#include "common/read_file.h"
#include "common/text.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace zoo {

namespace fs = std::filesystem;

Utf8Errors parse_utf8_errors(const std::string& name) {
  if (name == "strict") return Utf8Errors::kStrict;
  if (name == "replace") return Utf8Errors::kReplace;
  throw usage_error("--utf8-errors must be strict or replace, got '" + name + "'");
}

namespace {

std::string hex_byte(unsigned char b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", b);
  return buf;
}

}  // namespace

std::u32string decode_utf8(std::string_view bytes, Utf8Errors errors, const std::string& where,
                           int64_t* replaced) {
  std::u32string out;
  out.reserve(bytes.size());
  const size_t n = bytes.size();
  size_t i = 0;
  if (n >= 3 && bytes.substr(0, 3) == "\xEF\xBB\xBF") i = 3;  // byte order mark
  auto invalid = [&](size_t at, size_t consumed, const char* why) {
    if (errors == Utf8Errors::kStrict) {
      throw data_error("invalid UTF-8 in " + where + " at byte " + std::to_string(at) + " (" +
                       hex_byte(static_cast<unsigned char>(bytes[at])) + ": " + why +
                       "); HINT: convert the file to UTF-8 (iconv -f LATIN1 -t UTF-8), or pass "
                       "--utf8-errors replace to read such bytes as U+FFFD");
    }
    out.push_back(U'\uFFFD');
    if (replaced) ++*replaced;
    i = at + std::max<size_t>(consumed, 1);
  };
  while (i < n) {
    const auto b0 = static_cast<unsigned char>(bytes[i]);
    if (b0 < 0x80) {
      out.push_back(b0);
      ++i;
      continue;
    }
    int need = 0;
    char32_t cp = 0;
    unsigned char lower = 0x80, upper = 0xBF;  // the second byte's range (Unicode table 3-7)
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      need = 1, cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      need = 2, cp = b0 & 0x0F;
      if (b0 == 0xE0) lower = 0xA0;  // overlong
      if (b0 == 0xED) upper = 0x9F;  // surrogates
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      need = 3, cp = b0 & 0x07;
      if (b0 == 0xF0) lower = 0x90;  // overlong
      if (b0 == 0xF4) upper = 0x8F;  // above U+10FFFF
    } else {
      invalid(i, 1, b0 < 0xC0 ? "a continuation byte without a lead byte" : "not a UTF-8 lead byte");
      continue;
    }
    size_t j = i + 1;
    bool ok = true;
    for (int k = 0; k < need; ++k, ++j) {
      if (j >= n) {
        invalid(i, j - i, "a sequence cut short by the end of the file");
        ok = false;
        break;
      }
      const auto b = static_cast<unsigned char>(bytes[j]);
      if (b < (k == 0 ? lower : 0x80) || b > (k == 0 ? upper : 0xBF)) {
        invalid(i, j - i, "a malformed multi-byte sequence");
        ok = false;
        break;
      }
      cp = (cp << 6) | (b & 0x3F);
    }
    if (!ok) continue;
    out.push_back(cp);
    i = j;
  }
  return out;
}

std::string encode_utf8(char32_t c) {
  std::string s;
  if (c < 0x80) {
    s += static_cast<char>(c);
  } else if (c < 0x800) {
    s += static_cast<char>(0xC0 | (c >> 6));
    s += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    s += static_cast<char>(0xE0 | (c >> 12));
    s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (c >> 18));
    s += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (c & 0x3F));
  }
  return s;
}

std::string encode_utf8(const std::u32string& text) {
  std::string s;
  s.reserve(text.size());
  for (char32_t c : text) s += encode_utf8(c);
  return s;
}

std::string describe_char(char32_t c) {
  char code[16];
  std::snprintf(code, sizeof code, "U+%04X", static_cast<unsigned>(c));
  if (c == U'\n') return "'\\n' (U+000A)";
  if (c == U'\t') return "'\\t' (U+0009)";
  if (c > 0x20 && c < 0x7F) return "'" + encode_utf8(c) + "'";
  if (c >= 0xA0) return "'" + encode_utf8(c) + "' (" + code + ")";
  return code;
}

namespace {

bool extension_matches(const fs::path& path, const std::vector<std::string>& extensions) {
  const std::string ext = path.extension().string();
  for (const auto& e : extensions) {
    if (e == "*" || e == ext || (e.rfind('.', 0) != 0 && "." + e == ext)) return true;
  }
  return false;
}

// The files of a folder zoo reads, in path order, each once (links resolved).
std::vector<fs::path> corpus_files(const fs::path& dir, const std::vector<std::string>& extensions) {
  std::map<std::string, fs::path> by_path;
  std::set<fs::path> seen;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec) || !extension_matches(it->path(), extensions)) continue;
    by_path.emplace(it->path().string(), it->path());
  }
  if (ec) throw io_error("cannot list " + dir.string() + ": " + ec.message());
  std::vector<fs::path> files;
  for (const auto& [name, path] : by_path) {
    if (seen.insert(fs::canonical(path, ec)).second) files.push_back(path);
  }
  return files;
}

fs::path find_named_corpus(const std::string& name, std::string& looked) {
  fs::path base;
  if (const char* env = std::getenv("ZOO_DATA"); env && *env) {
    base = env;
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    base = fs::path(home) / ".zoo" / "data";
  }
  std::error_code ec;
  for (const fs::path& candidate : {base / name, base / (name + ".txt")}) {
    if (fs::exists(candidate, ec)) return candidate;
    looked += (looked.empty() ? "" : ", ") + candidate.string();
  }
  return {};
}

}  // namespace

TextCorpus read_text_corpus(const std::string& spec, const TextOptions& options) {
  fs::path path;
  std::vector<std::string> extensions = options.extensions;
  std::error_code ec;
  if (spec == kDefaultTextCorpus) {
    path = kCommonLicensesDir;
    extensions = {"*"};
    if (!fs::is_directory(path, ec)) {
      throw missing_error(std::string("the default corpus ") + kCommonLicensesDir +
                          " is missing; HINT: it comes with Debian's base-files package; or "
                          "give a text file with --data");
    }
  } else if (spec.find('/') != std::string::npos || spec.rfind('.', 0) == 0 || fs::exists(spec, ec)) {
    path = spec;
    if (!fs::exists(path, ec)) {
      throw missing_error("text path " + spec + " does not exist; HINT: give a UTF-8 text file or "
                          "a folder of them");
    }
  } else {
    std::string looked;
    path = find_named_corpus(spec, looked);
    if (path.empty()) {
      throw missing_error("text corpus '" + spec + "' not found; looked in: " + looked +
                          "; HINT: give a path, or put NAME.txt (or a folder NAME) in $ZOO_DATA "
                          "($ZOO_DATA defaults to ~/.zoo/data)");
    }
  }
  std::vector<fs::path> files;
  if (fs::is_directory(path, ec)) {
    files = corpus_files(path, extensions);
    if (files.empty()) {
      std::string list;
      for (const auto& e : extensions) list += (list.empty() ? "" : ", ") + e;
      throw missing_error("no text files in " + path.string() + " (extensions: " + list +
                          "); HINT: choose them with --text-ext (e.g. --text-ext .txt,.md, or * "
                          "for every file)");
    }
  } else {
    files.push_back(path);
  }
  TextCorpus corpus;
  for (const auto& file : files) {
    const std::string bytes = read_file_bytes(file.string());
    const std::u32string text = decode_utf8(bytes, options.errors, file.string(), &corpus.replaced);
    corpus.text += text;
    corpus.bytes += static_cast<int64_t>(bytes.size());
    corpus.files.push_back(file.string());
  }
  if (corpus.text.empty()) {
    throw data_error("text corpus " + spec + " is empty; HINT: give a file with some text");
  }
  return corpus;
}

Vocabulary::Vocabulary(std::vector<char32_t> chars) : chars_(std::move(chars)) {
  for (size_t i = 0; i < chars_.size(); ++i) index_.emplace(chars_[i], static_cast<int64_t>(i));
}

Vocabulary Vocabulary::of_text(const std::u32string& text) {
  std::set<char32_t> distinct(text.begin(), text.end());
  return Vocabulary(std::vector<char32_t>(distinct.begin(), distinct.end()));
}

int64_t Vocabulary::id(char32_t c) const {
  auto it = index_.find(c);
  return it == index_.end() ? -1 : it->second;
}

torch::Tensor Vocabulary::encode(const std::u32string& text, const std::string& what) const {
  auto ids = torch::empty({static_cast<int64_t>(text.size())}, torch::kInt64);
  int64_t* p = ids.data_ptr<int64_t>();
  std::map<char32_t, int64_t> unknown;
  for (size_t i = 0; i < text.size(); ++i) {
    auto it = index_.find(text[i]);
    if (it == index_.end()) {
      ++unknown[text[i]];
      p[i] = 0;
    } else {
      p[i] = it->second;
    }
  }
  if (!unknown.empty()) {
    std::vector<std::string> names;
    for (const auto& [c, count] : unknown) {
      names.push_back(describe_char(c) + (count > 1 ? " x" + std::to_string(count) : ""));
    }
    throw data_error(what + " has " + std::to_string(unknown.size()) + " character(s) the model's "
                     "vocabulary of " + std::to_string(size()) + " lacks: " + name_list(names) +
                     "; HINT: use only characters of the text the model was trained on");
  }
  return ids;
}

std::string Vocabulary::decode(const torch::Tensor& ids) const {
  auto flat = ids.to(torch::kInt64).contiguous().view({-1});
  std::string s;
  const int64_t* p = flat.data_ptr<int64_t>();
  for (int64_t i = 0; i < flat.numel(); ++i) s += encode_utf8(at(p[i]));
  return s;
}

nlohmann::json Vocabulary::to_json() const {
  nlohmann::json j = nlohmann::json::array();
  for (char32_t c : chars_) j.push_back(encode_utf8(c));
  return j;
}

Vocabulary Vocabulary::from_json(const nlohmann::json& j) {
  if (!j.is_array()) throw data_error("vocabulary must be a JSON array of one-character strings");
  std::vector<char32_t> chars;
  std::set<char32_t> seen;
  for (const auto& item : j) {
    const std::u32string c = item.is_string()
                                 ? decode_utf8(item.get<std::string>(), Utf8Errors::kStrict, "the vocabulary")
                                 : std::u32string();
    if (c.size() != 1) throw data_error("vocabulary entry " + item.dump() + " is not one character");
    if (!seen.insert(c[0]).second) throw data_error("vocabulary repeats " + describe_char(c[0]));
    chars.push_back(c[0]);
  }
  return Vocabulary(std::move(chars));
}

}  // namespace zoo
