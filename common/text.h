// Small text helpers for messages. Header-only.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace zoo {

// "a, b, c" for at most `max` items; longer lists end in ", ... (N in all)".
inline std::string name_list(const std::vector<std::string>& items, size_t max = 12) {
  std::string out;
  for (size_t i = 0; i < items.size() && i < max; ++i) out += (i ? ", " : "") + items[i];
  if (items.size() > max) out += ", ... (" + std::to_string(items.size()) + " in all)";
  return out;
}

}  // namespace zoo
