// Reading one image file (PNG, JPEG, BMP, ... through OpenCV) into a normalized C x H x W
// float tensor shaped like a model's input: decoded, converted to the model's channels,
// resized to its input size (or, when spec.resize is set, torchvision's eval geometry: shorter
// side resized, then center crop), scaled to [0,1] and normalized.
#pragma once

#include "data/dataset.h"

#include <torch/types.h>

#include <string>

namespace zoo {

// Throws missing_error when the file does not exist, data_error when it cannot be decoded.
torch::Tensor load_image_file(const std::string& path, const SampleSpec& spec);

}  // namespace zoo
