// The catalogue's names, JSON form and user entries; the built-in table is catalogue.cpp.
#include "weights/catalogue.h"

#include "common/error.h"
#include "common/json_text.h"
#include "common/text.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits>
#include <set>

namespace zoo {

std::vector<WeightsEntry> builtin_weights_catalogue();  // catalogue.cpp

std::string WeightsEntry::source() const { return name.substr(0, name.find(':')); }

std::string WeightsEntry::file_name() const {
  const size_t slash = url.find_last_of('/');
  return slash == std::string::npos ? url : url.substr(slash + 1);
}

std::string hash_prefix_of(const std::string& file_name) {
  const size_t dot = file_name.find('.');
  const std::string stem = file_name.substr(0, dot);
  const size_t dash = stem.find_last_of('-');
  if (dash == std::string::npos) return "";
  const std::string digits = stem.substr(dash + 1);
  if (digits.empty()) return "";
  for (char c : digits) {
    if (!std::isxdigit(static_cast<unsigned char>(c)) || std::isupper(static_cast<unsigned char>(c))) return "";
  }
  return digits;
}

std::string WeightsEntry::hash_prefix() const { return hash_prefix_of(file_name()); }

namespace {

// JSON has no NaN: an accuracy torchvision reports as nan is null.
nlohmann::json number_or_null(double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); }

// The integer field `key` of entry `j` (`fallback` when absent): a JSON integer, or a number
// with no fraction, that fits an int64. Anything else is a data error naming the file and the
// entry (1e300 would otherwise be a conversion with undefined behaviour).
int64_t integer_field(const nlohmann::json& j, const char* key, int64_t fallback, const std::string& where,
                      const std::string& name) {
  const auto it = j.find(key);
  if (it == j.end()) return fallback;
  const nlohmann::json& v = *it;
  if (v.is_number_unsigned() && v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return static_cast<int64_t>(v.get<uint64_t>());
  }
  if (v.is_number_integer() && !v.is_number_unsigned()) return v.get<int64_t>();
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::trunc(d) == d && d >= -0x1p63 && d < 0x1p63) return static_cast<int64_t>(d);
  }
  throw data_error(where + ": " + name + " has " + key + " " + json_text(v).substr(0, 60) +
                   ", not a whole number in range");
}

}  // namespace

nlohmann::json to_json(const WeightsEntry& e) {
  return {{"name", e.name},
          {"model", e.model},
          {"version", e.version},
          {"enum", e.enum_name},
          {"default", e.is_default},
          {"url", e.url},
          {"file", e.file_name()},
          {"sha256", e.sha256},
          {"size_mb", e.size_mb},
          {"categories", e.categories},
          {"crop", e.crop},
          {"resize", e.resize},
          {"mean", e.mean},
          {"std", e.std},
          {"interpolation", e.interpolation},
          {"transform_input", e.transform_input},
          {"num_params", e.num_params},
          {"acc1", number_or_null(e.acc1)},
          {"acc5", number_or_null(e.acc5)},
          {"gflops", e.gflops},
          {"recipe", e.recipe}};
}

WeightsEntry weights_entry_from_json(const nlohmann::json& j, const std::string& where) {
  WeightsEntry e;
  try {
    e.name = j.at("name").get<std::string>();
    e.model = j.at("model").get<std::string>();
    e.url = j.at("url").get<std::string>();
    e.version = j.value("version", e.name.substr(e.name.find_last_of('.') + 1));
    e.enum_name = j.value("enum", "");
    e.is_default = j.value("default", false);
    e.sha256 = j.value("sha256", "");
    e.size_mb = j.value("size_mb", 0.0);
    e.categories = j.value("categories", "");
    e.crop = integer_field(j, "crop", e.crop, where, e.name);
    e.resize = integer_field(j, "resize", e.resize, where, e.name);
    e.mean = j.value("mean", e.mean);
    e.std = j.value("std", e.std);
    e.interpolation = j.value("interpolation", e.interpolation);
    e.transform_input = j.value("transform_input", false);
    e.num_params = integer_field(j, "num_params", 0, where, e.name);
    const auto metric = [&](const char* key) {
      return j.contains(key) && j[key].is_number() ? j[key].get<double>() : std::numeric_limits<double>::quiet_NaN();
    };
    e.acc1 = metric("acc1");
    e.acc5 = metric("acc5");
    e.gflops = j.value("gflops", 0.0);
    e.recipe = j.value("recipe", "");
  } catch (const nlohmann::json::exception& ex) {
    throw data_error(where + ": a weights entry is malformed (" + ex.what() +
                     "); HINT: each entry needs at least name, model and url");
  }
  const size_t colon = e.name.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == e.name.size()) {
    throw data_error(where + ": weights name '" + e.name + "' is not SOURCE:MODEL.VERSION");
  }
  if (e.interpolation != "bilinear") {
    throw data_error(where + ": " + e.name + " asks for " + e.interpolation +
                     " interpolation; zoo's image pipeline resizes bilinearly");
  }
  if (!e.sha256.empty() && e.sha256.size() != 64) {
    throw data_error(where + ": " + e.name + " has a sha256 of " + std::to_string(e.sha256.size()) +
                     " characters, not 64");
  }
  return e;
}

std::vector<WeightsEntry> parse_weights_catalogue(const std::string& text, const std::string& name) {
  std::vector<WeightsEntry> entries = builtin_weights_catalogue();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw data_error("$ZOO_WEIGHTS_CATALOG " + name + " is not valid JSON: " + e.what());
  }
  if (!j.is_array()) throw data_error("$ZOO_WEIGHTS_CATALOG " + name + " must hold a JSON list of entries");
  std::set<std::string> names;
  for (const auto& e : entries) names.insert(e.name);
  for (const auto& item : j) {
    WeightsEntry e = weights_entry_from_json(item, name);
    if (!names.insert(e.name).second) throw data_error(name + ": weights name " + e.name + " is already in the catalogue");
    entries.push_back(std::move(e));
  }
  return entries;
}

namespace {

std::vector<WeightsEntry> load_catalogue() {
  const char* extra = std::getenv("ZOO_WEIGHTS_CATALOG");
  if (extra == nullptr || *extra == '\0') return builtin_weights_catalogue();
  std::ifstream in(extra);
  if (!in) throw missing_error(std::string("cannot read $ZOO_WEIGHTS_CATALOG ") + extra + "; HINT: unset it or fix the path");
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  return parse_weights_catalogue(text, extra);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

const std::vector<WeightsEntry>& weights_catalogue() {
  static const std::vector<WeightsEntry> entries = load_catalogue();
  return entries;
}

bool is_catalogue_name(const std::string& reference) {
  const size_t colon = reference.find(':');
  if (colon == std::string::npos || colon == 0) return false;
  const std::string source = reference.substr(0, colon);
  for (const auto& e : weights_catalogue()) {
    if (e.source() == source) return true;
  }
  return false;
}

const WeightsEntry& find_weights(const std::string& name) {
  const size_t colon = name.find(':');
  const std::string source = name.substr(0, colon);
  const std::string rest = colon == std::string::npos ? "" : name.substr(colon + 1);
  const size_t dot = rest.find('.');
  const std::string model = rest.substr(0, dot);
  const std::string version = dot == std::string::npos ? "DEFAULT" : rest.substr(dot + 1);
  std::vector<std::string> versions;
  const WeightsEntry* only = nullptr;  // SOURCE:MODEL with one version and no default marked
  for (const auto& e : weights_catalogue()) {
    if (e.source() != source) continue;
    const bool same_model = e.model == model || (!e.enum_name.empty() && lower(e.enum_name) == lower(model));
    if (!same_model) continue;
    if (version == e.version || (version == "DEFAULT" && e.is_default)) return e;
    versions.push_back(e.name);
    only = &e;
  }
  if (version == "DEFAULT" && versions.size() == 1) return *only;
  if (!versions.empty()) {
    throw usage_error("no weights " + name + "; " + model + " has " + name_list(versions) +
                      "; HINT: `zoo weights list " + model + "`");
  }
  throw usage_error("no weights named " + name + " in the catalogue; HINT: `zoo weights list` shows "
                    "every name (SOURCE:MODEL or SOURCE:MODEL.VERSION)");
}

}  // namespace zoo
