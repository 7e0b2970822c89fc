// Checksums that zoo writes beside what it saves and checks when it reads it back: xxHash's
// XXH3 (64 bits) over bytes, or over a tensor's dtype, shape and data. Zoo checkpoints keep one
// per tensor and one of their metadata (app/engine/checkpoint.h); .safetensors files zoo writes
// keep one per tensor in "__metadata__" (weights/weights_io.h).
#pragma once

#include <torch/types.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace zoo {

// The name stored beside every checksum, so that a later zoo can change the function.
constexpr const char* kChecksumAlgorithm = "xxh3-64";

// 16 lowercase hex digits.
std::string checksum_hex(std::string_view bytes);

// Over the dtype's name, the sizes and the bytes in row-major order (the tensor is made
// contiguous on the CPU first), so that a tensor read back with another shape or dtype but the
// same bytes does not match either.
std::string tensor_checksum(const torch::Tensor& t);

}  // namespace zoo
