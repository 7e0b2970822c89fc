// libFuzzer harness for the weights-only .pth reader (weights/weights_io.h read_pth): the
// input is a .pth file, a torch.save zip (PyTorchStreamReader + zoo's unpickler) or the legacy
// pickle format. What reads is checked (every tensor defined and readable) and written back
// with write_pth, which must read back the same.
#include "fuzz/fuzz_weights_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& dir = zoo::fuzz::scratch_dir("pth");
  const std::string file = (dir / "model.pth").string();
  zoo::fuzz::write_bytes(file, data, size);
  zoo::StateDict sd;
  try {
    sd = zoo::read_pth(file);
  } catch (const zoo::Error&) {
    return 0;
  }
  zoo::fuzz::check_state_dict(sd);
  zoo::fuzz::check_round_trip(sd, (dir / "copy.pth").string());
  return 0;
}
