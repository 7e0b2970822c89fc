// Reader for the idx format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/):
// big-endian magic 0x0000TTDD (TT = element type, only 0x08 unsigned byte is used by these
// datasets, DD = number of dimensions), DD big-endian u32 sizes, then the elements.
// Plain or gzip-compressed (.gz). Everything is validated: magic, dimensions, file size.
#pragma once

#include <torch/types.h>

#include <string>

namespace zoo {

// Reads an idx file of unsigned bytes into a uint8 tensor of the stored shape.
// Throws missing_error if the file does not exist, data_error if it is malformed or truncated.
torch::Tensor read_idx(const std::string& path);

// Writes `t` (uint8, any rank 1..4) as an idx file, gzip-compressed when path ends in ".gz".
// Used by the tests to build fixtures and by anyone exporting a subset.
void write_idx(const std::string& path, const torch::Tensor& t);

}  // namespace zoo
