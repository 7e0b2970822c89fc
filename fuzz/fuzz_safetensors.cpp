// libFuzzer harness for the safetensors reader (weights/weights_io.h read_safetensors): the
// input is a .safetensors file. What reads is checked (every tensor defined and readable) and
// written back with write_safetensors, which must read back the same.
#include "fuzz/fuzz_weights_check.h"

#include <map>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& dir = zoo::fuzz::scratch_dir("safetensors");
  const std::string file = (dir / "model.safetensors").string();
  zoo::fuzz::write_bytes(file, data, size);
  zoo::StateDict sd;
  std::map<std::string, std::string> metadata;
  try {
    sd = zoo::read_safetensors(file, &metadata);
  } catch (const zoo::Error&) {
    return 0;
  }
  zoo::fuzz::check_state_dict(sd);
  zoo::fuzz::check_round_trip(sd, (dir / "copy.safetensors").string());
  return 0;
}
