// libFuzzer harness for the weights catalogue a user adds with $ZOO_WEIGHTS_CATALOG
// (weights/catalogue.h parse_weights_catalogue): the input is the catalogue file's text. It
// goes the way weights_catalogue() takes the file once it has read it: parsed (invalid JSON is
// a data error naming the file), required to be a list, each entry read with
// weights_entry_from_json after the built-in rows, a name already in the catalogue refused.
// (weights_catalogue() itself reads $ZOO_WEIGHTS_CATALOG once per process and keeps the
// result, so the harness calls the function it reads the file's text with.) A catalogue that
// reads keeps the built-in rows first, holds every name once as SOURCE:REST, and each entry
// survives to_json -> weights_entry_from_json unchanged.
#include "common/error.h"
#include "fuzz/fuzz_util.h"
#include "weights/catalogue.h"

#include <set>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const size_t builtin = zoo::parse_weights_catalogue("[]", "builtin.json").size();
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<zoo::WeightsEntry> entries;
  try {
    entries = zoo::parse_weights_catalogue(text, "catalogue.json");
  } catch (const zoo::Error&) {
    return 0;
  }
  ZOO_FUZZ_CHECK(entries.size() >= builtin, "the built-in rows come first");
  std::set<std::string> names;
  for (const auto& e : entries) {
    ZOO_FUZZ_CHECK(names.insert(e.name).second, "no name is in the catalogue twice");
    const size_t colon = e.name.find(':');
    ZOO_FUZZ_CHECK(colon != std::string::npos && colon > 0 && colon + 1 < e.name.size(),
                   "every name is SOURCE:REST");
    ZOO_FUZZ_CHECK(!e.source().empty(), "every entry has a source");
    ZOO_FUZZ_CHECK(e.sha256.empty() || e.sha256.size() == 64, "a sha256 is 64 characters");
    const std::string prefix = e.hash_prefix();
    ZOO_FUZZ_CHECK(prefix.size() <= e.file_name().size(), "the hash prefix is part of the file name");
  }
  for (size_t i = builtin; i < entries.size(); ++i) {
    const nlohmann::json once = zoo::to_json(entries[i]);
    const nlohmann::json twice = zoo::to_json(zoo::weights_entry_from_json(once, "catalogue.json"));
    ZOO_FUZZ_CHECK(once == twice, "an entry survives to_json and back");
  }
  return 0;
}
