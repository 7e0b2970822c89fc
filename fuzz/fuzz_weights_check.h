// What the weights harnesses check of every state dict a reader returns, and the write-read
// round trip through zoo's writers (the interchange formats must carry names, dtypes, shapes
// and bytes unchanged). Harnesses only.
#pragma once

#include "common/error.h"
#include "fuzz/fuzz_util.h"
#include "weights/state_dict.h"
#include "weights/weights_io.h"

#include <cstring>
#include <string>

namespace zoo::fuzz {

inline void check_state_dict(const StateDict& sd) {
  for (const auto& kv : sd) {
    ZOO_FUZZ_CHECK(kv.second.defined(), "every tensor read is defined");
    // Touching every element finds a tensor whose view runs past its storage.
    const torch::Tensor c = kv.second.contiguous();
    volatile uint8_t sink = 0;
    const auto* p = static_cast<const uint8_t*>(c.data_ptr());
    for (size_t i = 0; p && i < c.nbytes(); ++i) sink = sink ^ p[i];
    (void)sink;
  }
}

inline bool same_bytes(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  const torch::Tensor ca = a.contiguous(), cb = b.contiguous();
  return ca.nbytes() == cb.nbytes() &&
         (ca.nbytes() == 0 || std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.nbytes()) == 0);
}

// Writes `sd` to `path` (by its extension) and reads it back: same names, order, dtypes,
// shapes and bytes. A state dict the writer refuses (usage_error: a dtype the format lacks;
// internal_error: a repeated key, which .pth readers may return) is left alone.
inline void check_round_trip(const StateDict& sd, const std::string& path) {
  try {
    write_state_dict(path, sd);
  } catch (const Error& e) {
    ZOO_FUZZ_CHECK(e.kind() == ErrorKind::kUsage || e.kind() == ErrorKind::kInternal,
                   "the writer refuses only what it cannot represent");
    return;
  }
  const StateDict back = read_state_dict(path);
  ZOO_FUZZ_CHECK(back.size() == sd.size(), "a written state dict reads back whole");
  for (size_t i = 0; i < sd.size(); ++i) {
    ZOO_FUZZ_CHECK(back[i].first == sd[i].first, "names and order survive a round trip");
    ZOO_FUZZ_CHECK(same_bytes(back[i].second, sd[i].second), "tensors survive a round trip");
  }
}

}  // namespace zoo::fuzz
