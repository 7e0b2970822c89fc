// A sample spec's JSON form in checkpoint metadata: "input_shape" [C, H, W], "normalization"
// {"mean", "std"} and "resize", keys of the whole metadata object.
#pragma once

#include "data/dataset.h"

#include <nlohmann/json_fwd.hpp>

namespace zoo {

nlohmann::json sample_spec_to_json(const SampleSpec& spec);
// A missing key or a value of the wrong JSON type is a nlohmann::json exception (the callers
// name the file); a shape that is not three positive integers, or a resize that is not a
// non-negative integer, is a data error.
SampleSpec sample_spec_from_json(const nlohmann::json& j);

}  // namespace zoo
