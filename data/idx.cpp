// idx reading and writing; see idx.h. gzip goes through zlib's gz* API, which also reads
// uncompressed files transparently, so one code path serves both.
#include "data/idx.h"

#include "common/error.h"

#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

namespace zoo {

namespace {

struct GzCloser {
  void operator()(gzFile f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

constexpr uint8_t kUnsignedByte = 0x08;
constexpr int64_t kMaxDims = 4;
constexpr int64_t kMaxDeflateRatio = 1032;  // the most deflate can expand its input

std::string hint() { return "HINT: re-download the dataset or check the path"; }

// Reads exactly n bytes; false on a short read.
bool read_exact(gzFile f, void* dst, size_t n) {
  auto* p = static_cast<char*>(dst);
  while (n > 0) {
    const unsigned chunk = n > (1u << 30) ? (1u << 30) : static_cast<unsigned>(n);
    const int got = gzread(f, p, chunk);
    if (got <= 0) return false;
    p += got;
    n -= static_cast<size_t>(got);
  }
  return true;
}

uint32_t big_endian_u32(const unsigned char* b) {
  return (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | uint32_t(b[3]);
}

}  // namespace

torch::Tensor read_idx(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw missing_error("idx file not found: " + path + "; " + hint());
  }
  GzFile f(gzopen(path.c_str(), "rb"));
  if (!f) throw io_error("cannot open idx file " + path + " for reading");
  gzbuffer(f.get(), 1 << 20);

  unsigned char magic[4];
  if (!read_exact(f.get(), magic, 4)) {
    throw data_error("idx file " + path + " is empty or truncated before its magic number; " +
                     hint());
  }
  if (magic[0] != 0 || magic[1] != 0) {
    throw data_error("idx file " + path + " has a bad magic number (expected 00 00 08 0N, found " +
                     std::to_string(magic[0]) + " " + std::to_string(magic[1]) + " ...); " +
                     "it is not an idx file or it is corrupt; " + hint());
  }
  if (magic[2] != kUnsignedByte) {
    throw data_error("idx file " + path + " stores element type " + std::to_string(magic[2]) +
                     ", zoo reads unsigned-byte idx files (type 8) as MNIST uses; " + hint());
  }
  const int64_t ndim = magic[3];
  if (ndim < 1 || ndim > kMaxDims) {
    throw data_error("idx file " + path + " declares " + std::to_string(ndim) +
                     " dimensions, expected 1 to 4; " + hint());
  }
  std::vector<unsigned char> dims_raw(static_cast<size_t>(ndim) * 4);
  if (!read_exact(f.get(), dims_raw.data(), dims_raw.size())) {
    throw data_error("idx file " + path + " is truncated inside its header; " + hint());
  }
  std::vector<int64_t> sizes;
  int64_t total = 1;
  for (int64_t d = 0; d < ndim; ++d) {
    const int64_t s = big_endian_u32(dims_raw.data() + 4 * d);
    if (s == 0 || s > (int64_t(1) << 31)) {
      throw data_error("idx file " + path + " declares dimension " + std::to_string(d) +
                       " of size " + std::to_string(s) + "; " + hint());
    }
    sizes.push_back(s);
    if (total > (int64_t(1) << 34) / s) {
      throw data_error("idx file " + path + " declares more than 16 GiB of data; " + hint());
    }
    total *= s;
  }
  // The header's claim is checked against the file before anything is allocated: a plain file
  // holds the data itself, and deflate expands at most 1032-fold.
  const auto file_size = static_cast<int64_t>(std::filesystem::file_size(path, ec));
  if (ec) throw io_error("cannot read the size of idx file " + path + ": " + ec.message());
  const int64_t header_size = 4 + 4 * ndim;
  const bool plain = gzdirect(f.get()) != 0;
  const int64_t can_hold = plain ? file_size - header_size : file_size * kMaxDeflateRatio;
  if (total > can_hold) {
    throw data_error("idx file " + path + " is truncated: its header declares " + std::to_string(total) +
                     " bytes of data, more than its " + std::to_string(file_size) + (plain ? "" : " compressed") +
                     " bytes can hold; " + hint());
  }
  auto out = torch::empty(sizes, torch::kUInt8);
  if (!read_exact(f.get(), out.data_ptr<uint8_t>(), static_cast<size_t>(total))) {
    throw data_error("idx file " + path + " is truncated: its header declares " +
                     std::to_string(total) + " bytes of data; " + hint());
  }
  char extra;
  if (gzread(f.get(), &extra, 1) > 0) {
    throw data_error("idx file " + path + " has data past the " + std::to_string(total) +
                     " bytes its header declares; " + hint());
  }
  int errnum = 0;
  gzerror(f.get(), &errnum);
  if (errnum != Z_OK && errnum != Z_STREAM_END) {
    throw data_error("idx file " + path + " is a corrupt gzip stream; " + hint());
  }
  return out;
}

void write_idx(const std::string& path, const torch::Tensor& t) {
  if (t.scalar_type() != torch::kUInt8 || t.dim() < 1 || t.dim() > kMaxDims) {
    throw internal_error("write_idx takes a uint8 tensor of rank 1 to 4");
  }
  const bool gz = path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  GzFile f(gzopen(path.c_str(), gz ? "wb6" : "wbT"));
  if (!f) throw io_error("cannot open " + path + " for writing; HINT: check the directory exists");
  std::vector<unsigned char> header = {0, 0, kUnsignedByte, static_cast<unsigned char>(t.dim())};
  for (int64_t s : t.sizes()) {
    for (int shift = 24; shift >= 0; shift -= 8) header.push_back((s >> shift) & 0xff);
  }
  auto c = t.contiguous();
  const bool ok = gzwrite(f.get(), header.data(), header.size()) == int(header.size()) &&
                  (c.numel() == 0 ||
                   gzwrite(f.get(), c.data_ptr<uint8_t>(), c.numel()) == int(c.numel()));
  if (!ok || gzclose(f.release()) != Z_OK) throw io_error("failed writing idx file " + path);
}

}  // namespace zoo
