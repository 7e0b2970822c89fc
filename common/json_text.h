// JSON text for files and output. Paths, class names and file names need not be valid UTF-8,
// which nlohmann::json's dump refuses (type_error 316): their bad bytes become U+FFFD here.
#pragma once

#include "common/error.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace zoo {

inline std::string json_text(const nlohmann::json& value, int indent = -1) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

// `text` with the bytes that are not UTF-8 as U+FFFD, for a string value in metadata.
inline std::string valid_utf8(const std::string& text) {
  return nlohmann::json::parse(json_text(text)).get<std::string>();
}

// The integer option `key` of `j` (a checkpoint's model options): a JSON integer, as zoo writes
// them. Any other number (1e300 would be a conversion with undefined behaviour) is a data error
// naming `owner`'s option; a missing key or a value that is not a number is nlohmann's
// exception, which the checkpoint readers turn into an error naming the file.
inline int64_t integer_option(const nlohmann::json& j, const char* key, const char* owner) {
  const nlohmann::json& v = j.at(key);
  if (v.is_number() && !v.is_number_integer()) {
    throw data_error(std::string("checkpoint ") + owner + " option " + key + " must be an integer, got " + json_text(v));
  }
  return v.get<int64_t>();
}

// The same, `fallback` when `key` is absent.
inline int64_t integer_option(const nlohmann::json& j, const char* key, const char* owner, int64_t fallback) {
  return j.contains(key) ? integer_option(j, key, owner) : fallback;
}

}  // namespace zoo
