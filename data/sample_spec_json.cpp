// The sample spec's JSON form; see sample_spec_json.h.
#include "data/sample_spec_json.h"

#include "common/error.h"
#include "common/json_text.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <vector>

namespace zoo {

namespace {

// Sides and resize as zoo writes them: JSON integers in a sane range (any other number, 1e300
// say, would be a conversion with undefined behaviour).
constexpr int64_t kMaxSide = 1 << 20;

bool integer_in(const nlohmann::json& v, int64_t lo, int64_t hi) {
  if (!v.is_number_integer()) return false;
  const int64_t x = v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(hi) ? hi + 1 : v.get<int64_t>();
  return lo <= x && x <= hi;
}

}  // namespace

nlohmann::json sample_spec_to_json(const SampleSpec& s) {
  return {{"input_shape", {s.channels, s.height, s.width}},
          {"normalization", {{"mean", s.mean}, {"std", s.std}}},
          {"resize", s.resize}};
}

SampleSpec sample_spec_from_json(const nlohmann::json& j) {
  const nlohmann::json& shape = j.at("input_shape");
  if (!shape.is_array() || shape.size() != 3 ||
      !std::all_of(shape.begin(), shape.end(), [](const nlohmann::json& v) { return integer_in(v, 1, kMaxSide); })) {
    throw data_error("checkpoint input_shape must be [C, H, W], three integers from 1 to " + std::to_string(kMaxSide) +
                     ", got " + json_text(shape).substr(0, 60));
  }
  SampleSpec s;
  s.channels = shape[0].get<int64_t>();
  s.height = shape[1].get<int64_t>();
  s.width = shape[2].get<int64_t>();
  s.mean = j.at("normalization").at("mean").get<std::array<double, 3>>();
  s.std = j.at("normalization").at("std").get<std::array<double, 3>>();
  const auto resize = j.find("resize");
  if (resize != j.end()) {
    if (!integer_in(*resize, 0, kMaxSide)) {
      throw data_error("checkpoint resize must be an integer from 0 to " + std::to_string(kMaxSide) + ", got " +
                       json_text(*resize).substr(0, 60));
    }
    s.resize = resize->get<int64_t>();
  }
  return s;
}

}  // namespace zoo
