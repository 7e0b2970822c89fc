// Caption datasets (COCO, Flickr8k, Karpathy splits) and the word vocabulary (captions.h).
#include "data/captions.h"

#include "common/error.h"
#include "common/read_file.h"
#include "common/text.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <utility>

namespace zoo {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const char* const kSpecialWords[] = {"<pad>", "<start>", "<end>", "<unk>"};

bool is_ascii_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

bool is_ascii_punct(unsigned char c) {
  return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
         (c >= 0x7B && c <= 0x7E);
}

std::string ascii_lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

bool path_exists(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

bool path_is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

bool path_is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// The file's bytes without a UTF-8 byte order mark.
std::string read_text_bytes(const fs::path& path) {
  std::string bytes = read_file_bytes(path.string());
  if (bytes.compare(0, 3, "\xEF\xBB\xBF") == 0) bytes.erase(0, 3);
  return bytes;
}

// The lines of a text file without their line ends ("\n" or "\r\n"); line i is number i + 1.
std::vector<std::string> read_lines(const fs::path& path) {
  const std::string bytes = read_text_bytes(path);
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < bytes.size()) {
    size_t end = bytes.find('\n', start);
    if (end == std::string::npos) end = bytes.size();
    std::string line = bytes.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    start = end + 1;
  }
  return lines;
}

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && is_ascii_space(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && is_ascii_space(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// Parses a JSON file keeping only the object members named in `keep` (at any depth), which
// keeps the memory of COCO's 90 MB annotation files to what the captions need.
json read_json(const fs::path& path, const std::set<std::string>& keep, const std::string& hint) {
  const std::string bytes = read_text_bytes(path);
  json::parser_callback_t filter = [&keep](int, json::parse_event_t event, json& parsed) {
    return event != json::parse_event_t::key || keep.count(parsed.get<std::string>()) > 0;
  };
  try {
    return json::parse(bytes, filter);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number like 1e400
    std::string why = e.what();
    if (const size_t at = why.find("] "); why.rfind("[json.exception", 0) == 0 && at != std::string::npos) {
      why.erase(0, at + 2);
    }
    throw data_error("malformed JSON in " + path.string() + " (" + why + "); HINT: " + hint);
  }
}

// Typed access to a parsed JSON file with errors that name the file and the element.
struct JsonFile {
  std::string path;
  std::string hint;

  // `where` is the element's path ("images[3].id"); "" is the top level.
  Error bad(const std::string& where, const std::string& what) const {
    return data_error("malformed " + path + ": " + (where.empty() ? "the top level" : where) + " " +
                      what + "; HINT: " + hint);
  }
  static std::string join(const std::string& where, const char* key) {
    return where.empty() ? std::string(key) : where + "." + key;
  }
  const json& member(const json& obj, const std::string& where, const char* key) const {
    if (!obj.is_object()) throw bad(where, "is not a JSON object");
    auto it = obj.find(key);
    if (it == obj.end()) throw bad(where, std::string("has no \"") + key + "\"");
    return *it;
  }
  const json& array(const json& obj, const std::string& where, const char* key) const {
    const json& v = member(obj, where, key);
    if (!v.is_array()) throw bad(join(where, key), "is not an array");
    return v;
  }
  std::string string(const json& obj, const std::string& where, const char* key,
                     bool allow_empty = false) const {
    const json& v = member(obj, where, key);
    if (!v.is_string()) throw bad(join(where, key), "is not a string");
    std::string s = v.get<std::string>();
    if (s.empty() && !allow_empty) throw bad(join(where, key), "is empty");
    return s;
  }
  int64_t integer(const json& obj, const std::string& where, const char* key) const {
    const json& v = member(obj, where, key);
    if (!v.is_number_integer()) throw bad(join(where, key), "is not an integer");
    return v.get<int64_t>();
  }
};

std::string indexed(const char* name, size_t i) { return std::string(name) + "[" + std::to_string(i) + "]"; }

// Throws a data_error when any image file is missing: `listed_in` is the file that names them.
void check_images_exist(const std::vector<const CaptionImage*>& images, const std::string& listed_in,
                        const std::string& hint) {
  std::vector<std::string> missing;
  for (const CaptionImage* image : images) {
    if (!path_is_file(image->path)) missing.push_back(image->path);
  }
  if (missing.empty()) return;
  if (missing.size() == 1) {
    throw data_error("image " + missing[0] + " listed in " + listed_in + " does not exist; HINT: " + hint);
  }
  throw data_error(std::to_string(missing.size()) + " of " + std::to_string(images.size()) +
                   " images listed in " + listed_in + " are missing, e.g. " + name_list(missing, 3) +
                   "; HINT: " + hint);
}

void check_images_exist(const std::vector<CaptionImage>& images, const std::string& listed_in,
                        const std::string& hint) {
  std::vector<const CaptionImage*> all;
  for (const auto& image : images) all.push_back(&image);
  check_images_exist(all, listed_in, hint);
}

void require_split(const std::vector<CaptionImage>& split, const char* name, const std::string& source,
                   const std::string& hint) {
  if (split.empty()) {
    throw data_error("caption dataset " + source + " has no " + name + " images; HINT: " + hint);
  }
}

// --- COCO ------------------------------------------------------------------------------------

const char* const kCocoLayout =
    "the COCO layout is DIR/annotations/captions_train2017.json and captions_val2017.json "
    "(annotations_trainval2017.zip) with images in DIR/train2017 and DIR/val2017 "
    "(train2017.zip, val2017.zip); the 2014 names work too";

std::vector<CaptionImage> read_coco_file(const fs::path& file, const fs::path& image_dir) {
  const std::string hint = "the file is damaged or not a COCO captions file; " + std::string(kCocoLayout);
  const json j = read_json(file, {"images", "annotations", "id", "file_name", "image_id", "caption"}, hint);
  const JsonFile f{file.string(), hint};
  const json& images = f.array(j, "", "images");
  const json& annotations = f.array(j, "", "annotations");

  std::vector<CaptionImage> out;
  out.reserve(images.size());
  std::unordered_map<int64_t, size_t> by_id;
  for (size_t i = 0; i < images.size(); ++i) {
    const std::string where = indexed("images", i);
    const int64_t id = f.integer(images[i], where, "id");
    const std::string name = f.string(images[i], where, "file_name");
    if (!by_id.emplace(id, out.size()).second) throw f.bad(where, "repeats image id " + std::to_string(id));
    out.push_back(CaptionImage{(image_dir / name).string(), {}});
  }
  for (size_t i = 0; i < annotations.size(); ++i) {
    const std::string where = indexed("annotations", i);
    const int64_t id = f.integer(annotations[i], where, "image_id");
    const std::string caption = f.string(annotations[i], where, "caption", true);
    auto it = by_id.find(id);
    if (it == by_id.end()) {
      throw data_error(where + " in " + file.string() + " names image id " + std::to_string(id) +
                       ", which its \"images\" list lacks; HINT: " + hint);
    }
    auto tokens = tokenize_caption(caption);
    if (!tokens.empty()) out[it->second].captions.push_back(std::move(tokens));
  }
  std::vector<std::string> uncaptioned;
  for (const auto& image : out) {
    if (image.captions.empty()) uncaptioned.push_back(fs::path(image.path).filename().string());
  }
  if (!uncaptioned.empty()) {
    throw data_error(std::to_string(uncaptioned.size()) + " of " + std::to_string(out.size()) +
                     " images in " + file.string() + " have no caption, e.g. " +
                     name_list(uncaptioned, 3) + "; HINT: " + hint);
  }
  check_images_exist(out, file.string(),
                     "put the images in " + image_dir.string() + "; " + kCocoLayout);
  return out;
}

CaptionSet read_coco(const fs::path& dir, const std::string& year) {
  const char* names[] = {"train", "val"};
  fs::path files[2], image_dirs[2];
  for (int s = 0; s < 2; ++s) {
    files[s] = dir / "annotations" / ("captions_" + std::string(names[s]) + year + ".json");
    image_dirs[s] = dir / (names[s] + year);
    if (!path_is_file(files[s])) {
      throw missing_error("COCO captions file " + files[s].string() + " is missing; HINT: " + kCocoLayout);
    }
  }
  for (const auto& images : image_dirs) {
    if (!path_is_dir(images)) {
      throw missing_error("COCO image folder " + images.string() + " is missing; HINT: " + kCocoLayout);
    }
  }
  CaptionSet set;
  set.format = "coco";
  set.location = dir.string();
  set.train = read_coco_file(files[0], image_dirs[0]);
  set.val = read_coco_file(files[1], image_dirs[1]);
  require_split(set.train, "train", files[0].string(), kCocoLayout);
  require_split(set.val, "val", files[1].string(), kCocoLayout);
  return set;
}

// The COCO year of DIR/annotations' captions files: the first of 2017, 2014 with both files,
// else the first with one of them (whose missing partner read_coco reports); "" when none.
std::string coco_year(const fs::path& dir) {
  std::string partial;
  for (const std::string year : {"2017", "2014"}) {
    const bool train = path_exists(dir / "annotations" / ("captions_train" + year + ".json"));
    const bool val = path_exists(dir / "annotations" / ("captions_val" + year + ".json"));
    if (train && val) return year;
    if ((train || val) && partial.empty()) partial = year;
  }
  return partial;
}

// --- Flickr8k --------------------------------------------------------------------------------

const char* const kFlickrLayout =
    "the Flickr8k layout is DIR/Flickr8k.token.txt (lines IMAGE.jpg#N<TAB>caption, from "
    "Flickr8k_text.zip) with the images in DIR/Flicker8k_Dataset (Flickr8k_Dataset.zip), "
    "DIR/Images or DIR/images, and optionally the split files Flickr_8k.trainImages.txt, "
    "Flickr_8k.devImages.txt, Flickr_8k.testImages.txt";

// Default split sizes without split files: K test and K val images (see captions.h).
int64_t flickr_holdout(int64_t n) { return n >= 3000 ? 1000 : std::max<int64_t>(1, n / 10); }

CaptionSet read_flickr8k(const fs::path& dir) {
  const fs::path token_file = dir / "Flickr8k.token.txt";
  fs::path image_dir;
  for (const char* name : {"Flicker8k_Dataset", "Images", "images"}) {
    if (path_is_dir(dir / name)) {
      image_dir = dir / name;
      break;
    }
  }
  if (image_dir.empty()) {
    throw missing_error("Flickr8k image folder missing: none of " + (dir / "Flicker8k_Dataset").string() +
                        ", " + (dir / "Images").string() + ", " + (dir / "images").string() +
                        " exists; HINT: " + kFlickrLayout);
  }

  // Captions by image name, in name order.
  std::map<std::string, std::vector<std::vector<std::string>>> captions;
  const std::vector<std::string> lines = read_lines(token_file);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (trim(lines[i]).empty()) continue;
    const size_t tab = lines[i].find('\t');
    const std::string key = tab == std::string::npos ? "" : lines[i].substr(0, tab);
    const size_t hash = key.rfind('#');
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    const bool numbered = hash != std::string::npos && hash > 0 && hash + 1 < key.size() &&
                          std::all_of(key.begin() + hash + 1, key.end(), digit);
    if (!numbered) {
      throw data_error("line " + std::to_string(i + 1) + " of " + token_file.string() +
                       " is not IMAGE#N<TAB>caption; HINT: the file is damaged or not " +
                       "Flickr8k.token.txt (Flickr8k.lemma.token.txt is not read)");
    }
    auto tokens = tokenize_caption(lines[i].substr(tab + 1));
    auto& list = captions[key.substr(0, hash)];
    if (!tokens.empty()) list.push_back(std::move(tokens));
  }
  if (captions.empty()) {
    throw data_error("Flickr8k captions file " + token_file.string() + " has no captions; HINT: " +
                     kFlickrLayout);
  }

  CaptionSet set;
  set.format = "flickr8k";
  set.location = dir.string();
  auto image_of = [&](const std::string& name) {
    return CaptionImage{(image_dir / name).string(), captions.at(name)};
  };
  auto check_captioned = [&](const std::string& name, const std::string& where) {
    auto it = captions.find(name);
    if (it == captions.end() || it->second.empty()) {
      throw data_error(where + " names " + name + ", which has no caption in " + token_file.string() +
                       "; HINT: the split files and the captions file must come from the same "
                       "Flickr8k_text.zip");
    }
  };
  auto check_not_blank = [&](const std::string& name) {
    if (captions.at(name).empty()) {
      throw data_error("every caption of " + name + " in " + token_file.string() +
                       " is blank; HINT: give it a caption or remove its lines");
    }
  };

  const fs::path train_file = dir / "Flickr_8k.trainImages.txt";
  const fs::path dev_file = dir / "Flickr_8k.devImages.txt";
  const fs::path test_file = dir / "Flickr_8k.testImages.txt";
  std::string listed_in;
  if (path_exists(train_file) || path_exists(dev_file)) {
    for (const fs::path& needed : {train_file, dev_file}) {
      if (!path_is_file(needed)) {
        throw missing_error("Flickr8k split file " + needed.string() + " is missing (" +
                            "Flickr_8k.trainImages.txt and Flickr_8k.devImages.txt go together); HINT: " +
                            kFlickrLayout);
      }
    }
    std::map<std::string, std::string> split_of;  // image name -> the split file listing it
    auto read_split = [&](const fs::path& file, std::vector<CaptionImage>& split) {
      const std::vector<std::string> names = read_lines(file);
      std::set<std::string> chosen;
      for (size_t i = 0; i < names.size(); ++i) {
        const std::string name = trim(names[i]);
        if (name.empty()) continue;
        const std::string where = "line " + std::to_string(i + 1) + " of " + file.string();
        check_captioned(name, where);
        auto [it, fresh] = split_of.emplace(name, file.filename().string());
        if (!fresh && it->second != file.filename().string()) {
          throw data_error(where + " names " + name + ", which " + it->second +
                           " lists too; HINT: an image must be in one split only");
        }
        chosen.insert(name);  // a repeat within one file is the same listing
      }
      for (const auto& name : chosen) split.push_back(image_of(name));
    };
    read_split(train_file, set.train);
    read_split(dev_file, set.val);
    if (path_exists(test_file)) read_split(test_file, set.test);
    listed_in = "the Flickr8k split files in " + dir.string();
  } else {
    std::vector<std::string> names;
    for (const auto& entry : captions) {
      const std::string& name = entry.first;
      check_not_blank(name);
      names.push_back(name);
    }
    const int64_t n = static_cast<int64_t>(names.size());
    if (n < 3) {
      throw data_error("Flickr8k captions file " + token_file.string() + " has " + std::to_string(n) +
                       " image(s), too few for a train, val and test split; HINT: give at least 3 "
                       "images, or the split files Flickr_8k.trainImages.txt and Flickr_8k.devImages.txt");
    }
    const int64_t k = flickr_holdout(n);
    for (int64_t i = 0; i < n; ++i) {
      auto& split = i < n - 2 * k ? set.train : i < n - k ? set.val : set.test;
      split.push_back(image_of(names[static_cast<size_t>(i)]));
    }
    listed_in = token_file.string();
  }
  const std::string split_hint = "list some in its split file; " + std::string(kFlickrLayout);
  require_split(set.train, "train", train_file.string(), split_hint);
  require_split(set.val, "val", dev_file.string(), split_hint);

  std::vector<const CaptionImage*> all;
  for (const auto* split : {&set.train, &set.val, &set.test}) {
    for (const auto& image : *split) all.push_back(&image);
  }
  const std::string or_split_files =
      path_exists(train_file) ? "" : "; or add the split files Flickr_8k.trainImages.txt and "
                                     "Flickr_8k.devImages.txt, and only the images they list are read";
  check_images_exist(all, listed_in,
                     "put the images in " + image_dir.string() + or_split_files + "; " + kFlickrLayout);
  return set;
}

// --- Karpathy splits -------------------------------------------------------------------------

const char* const kKarpathyFiles[] = {"dataset_coco.json", "dataset_flickr8k.json", "dataset_flickr30k.json"};

const char* const kKarpathyLayout =
    "a Karpathy split file (dataset_coco.json, dataset_flickr8k.json or dataset_flickr30k.json "
    "from caption_datasets.zip) lists {\"images\": [{\"filepath\", \"filename\", \"split\", "
    "\"sentences\": [{\"tokens\", \"raw\"}]}]}; its images go in <json dir>/<filepath>/<filename> "
    "or <json dir>/<filename>";

// The one Karpathy file of `dir` to read; "" when there is none.
fs::path find_karpathy_file(const fs::path& dir) {
  std::vector<fs::path> present;
  for (const char* name : kKarpathyFiles) {
    if (path_is_file(dir / name)) present.push_back(dir / name);
  }
  if (present.size() <= 1) return present.empty() ? fs::path() : present[0];
  // Several: the one whose dataset's own layout is beside it.
  const bool native[] = {
      !coco_year(dir).empty() || path_is_dir(dir / "train2014") || path_is_dir(dir / "val2014"),
      path_exists(dir / "Flickr8k.token.txt") || path_is_dir(dir / "Flicker8k_Dataset"),
      path_is_dir(dir / "flickr30k-images"),
  };
  std::vector<fs::path> matching;
  std::vector<std::string> names;
  for (const auto& p : present) {
    names.push_back(p.filename().string());
    for (int k = 0; k < 3; ++k) {
      if (p.filename() == kKarpathyFiles[k] && native[k]) matching.push_back(p);
    }
  }
  if (matching.size() == 1) return matching[0];
  throw usage_error("caption dataset folder " + dir.string() + " holds several Karpathy split files (" +
                    name_list(names) + "); HINT: give the one to read as the dataset path, e.g. " +
                    present[0].string());
}

CaptionSet read_karpathy(const fs::path& file, const std::string& location) {
  const std::string hint =
      "the file is damaged or not a Karpathy split file; " + std::string(kKarpathyLayout);
  const json j =
      read_json(file, {"images", "filepath", "filename", "split", "sentences", "tokens", "raw"}, hint);
  const JsonFile f{file.string(), hint};
  const json& images = f.array(j, "", "images");
  const fs::path base = file.parent_path();

  CaptionSet set;
  set.format = "karpathy";
  set.location = location;
  std::set<std::string> seen;
  for (size_t i = 0; i < images.size(); ++i) {
    const std::string where = indexed("images", i);
    const json& item = images[i];
    const std::string filename = f.string(item, where, "filename");
    std::string filepath;
    if (item.is_object() && item.contains("filepath")) filepath = f.string(item, where, "filepath", true);
    const std::string split_name = f.string(item, where, "split");
    std::vector<CaptionImage>* split = nullptr;
    if (split_name == "train" || split_name == "restval") {
      split = &set.train;
    } else if (split_name == "val") {
      split = &set.val;
    } else if (split_name == "test") {
      split = &set.test;
    } else {
      throw f.bad(where + ".split", "is \"" + split_name + "\", not train, val, test or restval");
    }

    CaptionImage image;
    const json& sentences = f.array(item, where, "sentences");
    for (size_t s = 0; s < sentences.size(); ++s) {
      const std::string swhere = where + "." + indexed("sentences", s);
      const json& sentence = sentences[s];
      if (!sentence.is_object()) throw f.bad(swhere, "is not a JSON object");
      const bool has_tokens = sentence.contains("tokens"), has_raw = sentence.contains("raw");
      if (!has_tokens && !has_raw) throw f.bad(swhere, "has neither \"tokens\" nor \"raw\"");
      std::vector<std::string> tokens;
      if (has_tokens) {
        for (const json& t : f.array(sentence, swhere, "tokens")) {
          if (!t.is_string()) throw f.bad(swhere + ".tokens", "holds " + t.dump() + ", not a string");
          if (!t.get_ref<const std::string&>().empty()) tokens.push_back(ascii_lower(t.get<std::string>()));
        }
      }
      if (tokens.empty() && has_raw) tokens = tokenize_caption(f.string(sentence, swhere, "raw", true));
      if (!tokens.empty()) image.captions.push_back(std::move(tokens));
    }
    if (image.captions.empty()) {
      throw data_error("image " + filename + " (" + where + ") in " + file.string() +
                       " has no caption; HINT: " + hint);
    }

    // The first candidate that exists; the first one names the image when none does.
    std::vector<fs::path> candidates;
    if (!filepath.empty()) candidates.push_back(base / filepath / filename);
    candidates.push_back(base / filename);
    if (!filepath.empty()) candidates.push_back(base / "images" / filepath / filename);
    for (const char* sub : {"images", "Images", "Flicker8k_Dataset", "flickr30k-images"}) {
      candidates.push_back(base / sub / filename);
    }
    image.path = candidates[0].string();
    for (const auto& c : candidates) {
      if (path_is_file(c)) {
        image.path = c.string();
        break;
      }
    }
    if (!seen.insert(image.path).second) throw f.bad(where, "repeats image " + image.path);
    split->push_back(std::move(image));
  }
  const std::string split_hint =
      "give some images the split \"train\" and some \"val\"; " + std::string(kKarpathyLayout);
  require_split(set.train, "train", file.string(), split_hint);
  require_split(set.val, "val", file.string(), split_hint);

  std::vector<const CaptionImage*> all;
  for (const auto* split : {&set.train, &set.val, &set.test}) {
    for (const auto& image : *split) all.push_back(&image);
  }
  const std::string where_images =
      base.empty() ? std::string("the current folder") : base.string();
  check_images_exist(all, file.string(),
                     "put the images where the file says, under " + where_images +
                         " (<filepath>/<filename>, <filename>, images/, Images/, "
                         "Flicker8k_Dataset/ or flickr30k-images/)");
  return set;
}

}  // namespace

std::vector<std::string> tokenize_caption(const std::string& text) {
  std::vector<std::string> tokens;
  std::string word;
  auto flush = [&] {
    if (!word.empty()) tokens.push_back(std::move(word));
    word.clear();
  };
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_ascii_space(c)) {
      flush();
    } else if (is_ascii_punct(c)) {
      flush();
      tokens.emplace_back(1, ch);
    } else {
      word += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : ch;
    }
  }
  flush();
  return tokens;
}

CaptionSet read_caption_set(const std::string& dir) {
  const fs::path path(dir);
  if (!path_exists(path)) {
    throw missing_error("caption dataset path " + dir + " does not exist; HINT: give a COCO, Flickr8k "
                        "or Karpathy-split dataset folder, or a Karpathy split .json file");
  }
  if (!path_is_dir(path)) {
    if (path.extension() == ".json") return read_karpathy(path, dir);
    throw data_error("caption dataset path " + dir + " is a file but not a .json file; HINT: give a "
                     "dataset folder or a Karpathy split .json file");
  }
  if (const fs::path karpathy = find_karpathy_file(path); !karpathy.empty()) {
    return read_karpathy(karpathy, dir);
  }
  if (const std::string year = coco_year(path); !year.empty()) return read_coco(path, year);
  if (path_exists(path / "Flickr8k.token.txt")) return read_flickr8k(path);
  if (path_is_dir(path / "annotations")) {
    throw missing_error("COCO folder " + (path / "annotations").string() +
                        " has no captions_train2017.json or captions_train2014.json; HINT: the "
                        "captions come in annotations_trainval2017.zip; " + kCocoLayout);
  }
  throw missing_error("no caption dataset in " + dir + ": looked for dataset_coco.json, "
                      "dataset_flickr8k.json, dataset_flickr30k.json (Karpathy splits), "
                      "annotations/captions_train2017.json or captions_train2014.json (COCO) and "
                      "Flickr8k.token.txt (Flickr8k); HINT: " + kCocoLayout + "; " + kFlickrLayout +
                      "; " + kKarpathyLayout);
}

// --- the vocabulary --------------------------------------------------------------------------

CaptionVocabulary::CaptionVocabulary()
    : CaptionVocabulary(std::vector<std::string>(std::begin(kSpecialWords), std::end(kSpecialWords))) {}

CaptionVocabulary::CaptionVocabulary(std::vector<std::string> words) : words_(std::move(words)) {
  for (size_t i = kSpecials; i < words_.size(); ++i) index_.emplace(words_[i], static_cast<int64_t>(i));
}

CaptionVocabulary CaptionVocabulary::build(const std::vector<CaptionImage>& images, int64_t min_count) {
  if (min_count < 1) {
    throw usage_error("the minimum word count of a caption vocabulary (--min-word-count) must be "
                      "at least 1, got " + std::to_string(min_count));
  }
  std::unordered_map<std::string, int64_t> counts;
  for (const auto& image : images) {
    for (const auto& caption : image.captions) {
      for (const auto& w : caption) ++counts[w];
    }
  }
  for (const char* special : kSpecialWords) counts.erase(special);
  std::vector<std::pair<std::string, int64_t>> kept;
  for (auto& [w, n] : counts) {
    if (n >= min_count && !w.empty()) kept.emplace_back(w, n);
  }
  std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  std::vector<std::string> words(std::begin(kSpecialWords), std::end(kSpecialWords));
  for (auto& [w, n] : kept) words.push_back(std::move(w));
  return CaptionVocabulary(std::move(words));
}

int64_t CaptionVocabulary::id(const std::string& word) const {
  auto it = index_.find(word);
  return it == index_.end() ? kUnk : it->second;
}

const std::string& CaptionVocabulary::word(int64_t id) const {
  if (id < 0 || id >= size()) {
    throw internal_error("caption word id " + std::to_string(id) + " is outside the vocabulary of " +
                         std::to_string(size()) + " words");
  }
  return words_[static_cast<size_t>(id)];
}

std::vector<int64_t> CaptionVocabulary::encode(const std::vector<std::string>& tokens,
                                               int64_t max_words) const {
  if (max_words < 0) {
    throw usage_error("the maximum caption length (--max-caption-len) must be positive, or 0 for "
                      "no limit, got " + std::to_string(max_words));
  }
  size_t n = tokens.size();
  if (max_words > 0) n = std::min(n, static_cast<size_t>(max_words));
  std::vector<int64_t> ids;
  ids.reserve(n + 2);
  ids.push_back(kStart);
  for (size_t i = 0; i < n; ++i) ids.push_back(id(tokens[i]));
  ids.push_back(kEnd);
  return ids;
}

std::vector<std::string> CaptionVocabulary::decode(const std::vector<int64_t>& ids) const {
  std::vector<std::string> out;
  for (int64_t i : ids) {
    if (i == kEnd) break;
    if (i == kStart || i == kPad) continue;
    out.push_back(word(i));
  }
  return out;
}

json CaptionVocabulary::to_json() const { return json{{"words", words_}}; }

CaptionVocabulary CaptionVocabulary::from_json(const json& j) {
  const std::string hint = "HINT: the checkpoint's caption vocabulary is damaged or was not written by zoo";
  if (!j.is_object() || !j.contains("words") || !j.at("words").is_array()) {
    throw data_error("caption vocabulary must be {\"words\": [...]}; " + hint);
  }
  const json& list = j.at("words");
  std::vector<std::string> words;
  std::set<std::string> seen;
  for (size_t i = 0; i < list.size(); ++i) {
    if (!list[i].is_string() || list[i].get_ref<const std::string&>().empty()) {
      throw data_error("caption vocabulary word " + std::to_string(i) + " is " + list[i].dump() +
                       ", not a non-empty string; " + hint);
    }
    const std::string& w = list[i].get_ref<const std::string&>();
    if (i < kSpecials && w != kSpecialWords[i]) {
      throw data_error("caption vocabulary word " + std::to_string(i) + " is \"" + w + "\", not \"" +
                       kSpecialWords[i] + "\"; " + hint);
    }
    if (!seen.insert(w).second) throw data_error("caption vocabulary repeats \"" + w + "\"; " + hint);
    words.push_back(w);
  }
  if (words.size() < static_cast<size_t>(kSpecials)) {
    throw data_error("caption vocabulary has " + std::to_string(words.size()) +
                     " words, fewer than its 4 special tokens; " + hint);
  }
  return CaptionVocabulary(std::move(words));
}

std::string join_words(const std::vector<std::string>& words) {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) out += (i ? " " : "") + words[i];
  return out;
}

}  // namespace zoo
