// The ILSVRC2012 devkit's meta.mat and validation ground truth; see imagenet_devkit.h.
// torchvision (datasets/imagenet.py, parse_devkit_archive) does the same with
// scipy.io.loadmat(squeeze_me=True): leaves are the synsets whose num_children is 0, in file
// order; a ground-truth line is int(line); idx_to_wnid is a dict, so of two leaves with one id
// the later wins, here too. Differences, all on files torchvision cannot read either or reads
// by accident: fields are found by name (torchvision takes them by position: 0, 1, 2 and 4,
// which is the real file's order), a ground-truth line is digits with optional blanks around
// them (int() takes more: "+5", "1_000", other Unicode digits), an empty line is an error
// wherever it is, and the last line's newline is optional.
#include "data/imagenet_devkit.h"

#include "common/error.h"
#include "common/text.h"
#include "data/matfile.h"

#include <cmath>
#include <unordered_map>

namespace zoo {

namespace {

const char kMetaHint[] =
    "HINT: meta.mat is ILSVRC2012_devkit_t12/data/meta.mat from ILSVRC2012_devkit_t12.tar.gz; "
    "re-download the devkit";
const char kTruthHint[] =
    "HINT: the file is ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt, one "
    "ILSVRC2012_ID (1 to 1000) per line; re-download the devkit";

// `s` cut to 40 characters with control characters shown as '?', to quote in one line.
std::string quote(const std::string& s) {
  std::string out;
  for (char c : s.substr(0, 40)) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) ? '?' : c;
  return "'" + out + (s.size() > 40 ? "...'" : "'");
}

}  // namespace

std::vector<ImagenetSynset> parse_imagenet_meta(const std::vector<uint8_t>& mat_bytes,
                                                const std::string& source) {
  const std::map<std::string, MatArray> vars = read_mat(mat_bytes, source);
  const auto it = vars.find("synsets");
  if (it == vars.end()) {
    std::vector<std::string> names;
    for (const auto& [name, var] : vars) names.push_back(name);
    throw data_error("ImageNet devkit meta " + source + " has no variable 'synsets' (it holds: " +
                     (names.empty() ? std::string("nothing") : name_list(names)) + "); " + kMetaHint);
  }
  const MatArray& synsets = it->second;
  if (synsets.kind != MatArray::Kind::kStruct) {
    throw data_error("ImageNet devkit meta " + source + ": 'synsets' is a " + synsets.describe() +
                     ", expected a struct array; " + kMetaHint);
  }
  for (const char* name : {"ILSVRC2012_ID", "WNID", "words", "num_children"}) {
    if (synsets.field_index(name) < 0) {
      throw data_error("ImageNet devkit meta " + source + ": 'synsets' has no field '" + name +
                       "' (its fields: " + name_list(synsets.field_names) + "); " + kMetaHint);
    }
  }
  const auto bad = [&](int64_t i, const std::string& field, const MatArray& a, const std::string& expected) {
    return data_error("ImageNet devkit meta " + source + ": synsets(" + std::to_string(i + 1) + ")." + field +
                      " is a " + a.describe() + ", expected " + expected + "; " + kMetaHint);
  };
  const auto numeric_scalar = [&](int64_t i, const std::string& field) {
    const MatArray& a = synsets.field(i, field);
    if (a.kind != MatArray::Kind::kNumeric || a.numbers.size() != 1) throw bad(i, field, a, "a number");
    return a.numbers[0];
  };
  const auto text_of = [&](int64_t i, const std::string& field) {
    const MatArray& a = synsets.field(i, field);
    if (a.kind != MatArray::Kind::kChar || a.rows.size() > 1) throw bad(i, field, a, "a string");
    return a.text();
  };

  std::vector<ImagenetSynset> leaves;
  for (int64_t i = 0; i < synsets.count(); ++i) {
    if (numeric_scalar(i, "num_children") != 0) continue;  // NaN, too, is not 0
    const double id = numeric_scalar(i, "ILSVRC2012_ID");
    if (!(std::fabs(id) <= 9007199254740992.0) || std::trunc(id) != id) {
      throw data_error("ImageNet devkit meta " + source + ": synsets(" + std::to_string(i + 1) +
                       ").ILSVRC2012_ID is not an integer; " + kMetaHint);
    }
    ImagenetSynset s;
    s.id = static_cast<int64_t>(id);
    s.wnid = text_of(i, "WNID");
    s.words = text_of(i, "words");
    leaves.push_back(std::move(s));
  }
  return leaves;
}

std::vector<int64_t> parse_ground_truth(const std::string& text, const std::string& source) {
  std::vector<int64_t> ids;
  size_t pos = 0;
  for (int64_t line = 1; pos < text.size(); ++line) {
    const size_t nl = text.find('\n', pos);
    const size_t stop = nl == std::string::npos ? text.size() : nl;
    std::string s = text.substr(pos, stop - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    if (!s.empty() && s.back() == '\r') s.pop_back();
    // Blanks around the number are allowed: Python's int() strips them.
    const size_t first = s.find_first_not_of(" \t");
    const size_t last = s.find_last_not_of(" \t");
    const std::string digits = first == std::string::npos ? std::string() : s.substr(first, last - first + 1);
    bool ok = !digits.empty() && digits.size() <= 18 && digits.find_first_not_of("0123456789") == std::string::npos;
    const int64_t id = ok ? std::stoll(digits) : 0;
    if (!ok || id <= 0) {
      throw data_error("ImageNet ground truth " + source + " line " + std::to_string(line) + ": " +
                       (s.empty() ? std::string("the line is empty") : quote(s) + " is not a positive integer") +
                       "; " + kTruthHint);
    }
    ids.push_back(id);
  }
  return ids;
}

std::vector<std::string> ground_truth_wnids(const std::vector<ImagenetSynset>& leaves,
                                            const std::vector<int64_t>& ids, const std::string& source) {
  std::unordered_map<int64_t, const std::string*> wnid_of;
  for (const ImagenetSynset& s : leaves) wnid_of[s.id] = &s.wnid;  // the later wins, as in a dict
  std::vector<std::string> wnids;
  wnids.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto it = wnid_of.find(ids[i]);
    if (it == wnid_of.end()) {
      throw data_error("ImageNet ground truth " + source + " line " + std::to_string(i + 1) +
                       " gives ILSVRC2012_ID " + std::to_string(ids[i]) + ", which is no leaf synset's (" +
                       std::to_string(leaves.size()) +
                       " leaves); HINT: the ground truth and meta.mat must come from the same devkit");
    }
    wnids.push_back(*it->second);
  }
  return wnids;
}

}  // namespace zoo
