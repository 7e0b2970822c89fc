// Devices and cores; see device.h.
#include "common/device.h"

#include "common/error.h"

#include <torch/cuda.h>

#include <algorithm>
#include <thread>

#include <sched.h>

namespace zoo {

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

c10::Device parse_device(const std::string& name) {
  if (name == "cpu") return c10::Device(c10::kCPU);
  if (name.rfind("cuda", 0) != 0) {
    throw usage_error("--device must be cpu, cuda or cuda:N, got '" + name + "'");
  }
  int index = 0;
  if (name.size() > 4) {
    const std::string rest = name.substr(4);
    if (rest.size() < 2 || rest[0] != ':' ||
        rest.find_first_not_of("0123456789", 1) != std::string::npos) {
      throw usage_error("--device must be cpu, cuda or cuda:N, got '" + name + "'");
    }
    index = std::stoi(rest.substr(1));
  }
  if (!torch::cuda::is_available()) {
    throw usage_error("--device " + name + ": this zoo has no usable CUDA device (LibTorch " +
                      "built without CUDA, or no GPU); HINT: use --device cpu, or build zoo "
                      "against a CUDA LibTorch (CMAKE_PREFIX_PATH)");
  }
  if (index >= static_cast<int>(torch::cuda::device_count())) {
    throw usage_error("--device " + name + ": only " + std::to_string(torch::cuda::device_count()) +
                      " CUDA devices; HINT: use cuda:0..cuda:" +
                      std::to_string(torch::cuda::device_count() - 1));
  }
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}

}  // namespace zoo
