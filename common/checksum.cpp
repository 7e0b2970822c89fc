// XXH3 checksums of bytes and tensors; see checksum.h.
#include "common/checksum.h"

#include "common/error.h"

#include <cstdio>
#include <vector>

#include <xxhash.h>

namespace zoo {

namespace {

std::string hex64(XXH64_hash_t h) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

struct StateDeleter {
  void operator()(XXH3_state_t* s) const { XXH3_freeState(s); }
};

}  // namespace

std::string checksum_hex(std::string_view bytes) { return hex64(XXH3_64bits(bytes.data(), bytes.size())); }

std::string tensor_checksum(const torch::Tensor& t) {
  const torch::Tensor c = t.device().is_cpu() ? t.contiguous() : t.to(torch::kCPU).contiguous();
  std::unique_ptr<XXH3_state_t, StateDeleter> state(XXH3_createState());
  if (!state || XXH3_64bits_reset(state.get()) != XXH_OK) throw internal_error("cannot start an XXH3 checksum");
  const std::string dtype(c10::toString(c.scalar_type()));
  const std::vector<int64_t> sizes = c.sizes().vec();
  XXH3_64bits_update(state.get(), dtype.data(), dtype.size() + 1);  // with its NUL: a separator
  XXH3_64bits_update(state.get(), sizes.data(), sizes.size() * sizeof(int64_t));
  if (c.numel() > 0) XXH3_64bits_update(state.get(), c.data_ptr(), c.nbytes());
  return hex64(XXH3_64bits_digest(state.get()));
}

}  // namespace zoo
