// Where computation runs: the cores this process may use and the device a `--device` flag
// names. Leaves out: device selection by memory or load, and MPS/XLA devices.
#pragma once

#include <c10/core/Device.h>

#include <string>

namespace zoo {

// The number of cores this process may run on (sched_getaffinity), at least 1.
int available_cores();

// "cpu", "cuda", "cuda:N"; throws usage_error when the name is malformed or CUDA is not there.
c10::Device parse_device(const std::string& name);

}  // namespace zoo
