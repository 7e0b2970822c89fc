// libFuzzer harness for `zoo train --config FILE` (app/engine/train_config.h): the input is the
// JSON file. It goes the way the CLI takes it: parsed (invalid JSON is a data error), required
// to be an object, every key checked against TrainConfig's, merged over the defaults (a run's
// "resolved" block ignored), read with train_config_from_json (a value of the wrong type or out
// of its field's range is a zoo::Error naming the flag) and validated. A config that
// validates must survive to_json -> train_config_from_json unchanged.
#include "app/engine/train_config.h"
#include "common/error.h"
#include "fuzz/fuzz_util.h"

#include <nlohmann/json.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json file;
  try {
    file = nlohmann::json::parse(data, data + size);
  } catch (const nlohmann::json::exception&) {
    return 0;  // the CLI: "config file F is not valid JSON"
  }
  if (!file.is_object()) return 0;
  const nlohmann::json defaults = zoo::to_json(zoo::TrainConfig{});
  nlohmann::json merged = defaults;
  for (const auto& item : file.items()) {
    if (item.key() == "resolved") continue;
    if (!defaults.contains(item.key())) return 0;  // the CLI: unknown option
    merged[item.key()] = item.value();
  }
  zoo::TrainConfig config;
  try {
    config = zoo::train_config_from_json(merged);
  } catch (const nlohmann::json::exception&) {
    return 0;  // the CLI: "has a value of the wrong type"
  } catch (const zoo::Error&) {
    return 0;  // a value of the wrong type or range, named by its flag
  }
  try {
    zoo::validate(config);
  } catch (const zoo::Error&) {
    return 0;
  }
  const nlohmann::json once = zoo::to_json(config);
  const nlohmann::json twice = zoo::to_json(zoo::train_config_from_json(once));
  ZOO_FUZZ_CHECK(once == twice, "a valid config survives to_json and back");
  (void)zoo::flag_of("batch_size");
  return 0;
}
