// Where computation runs: the cores this process may use and the device a `--device` flag
// names. Leaves out: device selection by memory or load, and MPS/XLA devices.
#pragma once

#include <c10/core/Device.h>

#include <string>
#include <vector>

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

// The idle share, in cores, of the CPUs in `cpus` between two snapshots of /proc/stat's text:
// for each `cpuN` line whose N is in `cpus`, (idle + iowait) over all ticks of the interval.
// Negative when the snapshots hold none of those CPUs or no tick passed.
double idle_cores_between(const std::string& before, const std::string& after, const std::vector<int>& cpus);

// The intra-op thread count that `--threads 0` (every command's default) means, shared among
// `local_ranks` processes of this machine, at least 1: OMP_NUM_THREADS when it is set (per
// process, as torchrun sets it), else the available cores that are idle now (sampled from
// /proc/stat for `sample_seconds`, rounded to the nearest core) divided among the ranks, so that
// a run started beside other work does not fight it for the cores.
int default_threads(int local_ranks = 1, double sample_seconds = 0.1);

// `requested` when positive, else default_threads(local_ranks).
int resolve_threads(int requested, int local_ranks = 1);

// How OpenMP threads wait for work in this process, as its environment set it:
// "OMP_WAIT_POLICY=..." or "GOMP_SPINCOUNT=..." (zoo's main() sets 10000 when neither is
// given), else "libgomp default".
std::string openmp_wait_setting();

// "cpu", "cuda", "cuda:N"; throws usage_error when the name is malformed or CUDA is not there.
c10::Device parse_device(const std::string& name);

}  // namespace zoo
