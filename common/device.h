// Where computation runs: the cores this process may use and the device a `--device` flag
// names. Leaves out: device selection by memory or load, and MPS/XLA devices.
#pragma once

#include <c10/core/Device.h>

#include <string>

namespace zoo {

// The number of cores this process may use, at least 1: the CPUs it may run on
// (sched_getaffinity), capped by its cgroup's CPU quota when it has one (a container started
// with --cpus 2 on a 64-core host gets 2).
int available_cores();

// The CPU quota, in cores rounded up, of the cgroup that `proc_cgroup` (the text of
// /proc/self/cgroup) names under `cgroup_root`: cgroup v2's cpu.max, else v1's
// cpu.cfs_quota_us / cpu.cfs_period_us, the smallest of the cgroup and its ancestors; 0 when
// no quota is set or nothing can be read.
int cgroup_cpu_quota(const std::string& proc_cgroup, const std::string& cgroup_root);

// "cpu", "cuda", "cuda:N"; throws usage_error when the name is malformed or CUDA is not there.
c10::Device parse_device(const std::string& name);

}  // namespace zoo
