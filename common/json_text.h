// JSON text for files and output. Paths, class names and file names need not be valid UTF-8,
// which nlohmann::json's dump refuses (type_error 316): their bad bytes become U+FFFD here.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace zoo {

inline std::string json_text(const nlohmann::json& value, int indent = -1) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

// `text` with the bytes that are not UTF-8 as U+FFFD, for a string value in metadata.
inline std::string valid_utf8(const std::string& text) {
  return nlohmann::json::parse(json_text(text)).get<std::string>();
}

}  // namespace zoo
