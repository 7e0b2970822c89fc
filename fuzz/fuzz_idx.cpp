// libFuzzer harness for the idx reader (data/idx.h read_idx): the input is an idx file as
// stored. It is read as written (a gzip file when it starts with the gzip magic), and an input
// that is not gzip is also read gzip-compressed: both reads must agree (same error kind or the
// same tensor).
#include "common/error.h"
#include "data/idx.h"
#include "fuzz/fuzz_util.h"

#include <torch/torch.h>
#include <zlib.h>

#include <optional>

namespace {

// The idx read of `path`: the tensor, or the kind of zoo::Error it threw.
struct Outcome {
  std::optional<torch::Tensor> tensor;
  std::optional<zoo::ErrorKind> error;
};

Outcome read(const std::string& path) {
  Outcome o;
  try {
    o.tensor = zoo::read_idx(path);
  } catch (const zoo::Error& e) {
    o.error = e.kind();
  }
  return o;
}

std::string gzip(const uint8_t* data, size_t size) {
  z_stream z{};
  if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) std::abort();
  std::string out(deflateBound(&z, size) + 32, '\0');
  z.next_in = const_cast<Bytef*>(data);
  z.avail_in = static_cast<uInt>(size);
  z.next_out = reinterpret_cast<Bytef*>(&out[0]);
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) std::abort();
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& dir = zoo::fuzz::scratch_dir("idx");
  const bool is_gzip = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
  const std::string file = (dir / (is_gzip ? "images-idx3-ubyte.gz" : "images-idx3-ubyte")).string();
  zoo::fuzz::write_bytes(file, data, size);
  const Outcome plain = read(file);
  if (plain.tensor) {
    const torch::Tensor& t = *plain.tensor;
    ZOO_FUZZ_CHECK(t.scalar_type() == torch::kUInt8 && t.dim() >= 1 && t.dim() <= 4,
                   "read_idx returns a uint8 tensor of rank 1..4");
  }
  if (is_gzip) return 0;
  const std::string gz_file = (dir / "images-idx3-ubyte.gz").string();
  zoo::fuzz::write_bytes(gz_file, gzip(data, size));
  const Outcome packed = read(gz_file);
  ZOO_FUZZ_CHECK(plain.tensor.has_value() == packed.tensor.has_value(),
                 "a plain idx file and its gzip copy read alike");
  if (plain.tensor) {
    ZOO_FUZZ_CHECK(plain.tensor->sizes() == packed.tensor->sizes() &&
                       torch::equal(*plain.tensor, *packed.tensor),
                   "a plain idx file and its gzip copy hold the same tensor");
  } else {
    ZOO_FUZZ_CHECK(plain.error == packed.error, "a plain idx file and its gzip copy fail alike");
  }
  return 0;
}
