// libFuzzer harness for zoo checkpoints (app/engine/checkpoint.h load_checkpoint): the input is
// a .pt file (a LibTorch serialize archive). Only the public load_checkpoint(path) is called,
// through checkpoint_shim.h (the checkpoint code is compiled by g++ there, so LibTorch's reader
// and checkpoint.cpp give no coverage feedback: this harness mutates the seeds blind, with
// ASan watching the allocations and the harness).
#include "common/error.h"
#include "fuzz/checkpoint_shim.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& dir = zoo::fuzz::scratch_dir("checkpoint");
  const std::string file = (dir / "last.pt").string();
  zoo::fuzz::write_bytes(file, data, size);
  try {
    zoo::fuzz::load_checkpoint_and_walk(file);
  } catch (const zoo::Error&) {
  }
  return 0;
}
