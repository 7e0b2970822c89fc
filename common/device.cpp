// Devices and cores; see device.h.
#include "common/device.h"

#include "common/error.h"

#include <torch/cuda.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include <sched.h>

namespace zoo {

namespace {

std::string first_line(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// ceil(quota / period) of two integer texts; 0 for "max", -1 or anything unreadable.
int quota_cores(const std::string& quota, const std::string& period) {
  try {
    const long long q = std::stoll(quota), p = std::stoll(period);
    if (q <= 0 || p <= 0) return 0;
    return static_cast<int>(std::min<long long>((q + p - 1) / p, 1 << 20));
  } catch (const std::exception&) {
    return 0;
  }
}

// The smallest quota of `dir` and its ancestors up to `root` that `read` finds (0: none).
template <typename Read>
int smallest_quota(const std::filesystem::path& root, std::filesystem::path dir, Read read) {
  int best = 0;
  while (true) {
    const int cores = read(dir);
    if (cores > 0) best = best == 0 ? cores : std::min(best, cores);
    if (dir == root || !dir.has_parent_path() || dir.parent_path() == dir) break;
    dir = dir.parent_path();
  }
  return best;
}

}  // namespace

int cgroup_cpu_quota(const std::string& proc_cgroup, const std::string& cgroup_root) {
  namespace fs = std::filesystem;
  const fs::path root(cgroup_root);
  std::istringstream lines(proc_cgroup);
  std::string line;
  int v2 = 0, v1 = 0;
  while (std::getline(lines, line)) {  // "ID:CONTROLLERS:PATH"
    const size_t a = line.find(':'), b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    const fs::path relative = fs::path(path).relative_path();
    if (controllers.empty()) {  // v2: cpu.max is "QUOTA PERIOD" or "max PERIOD"
      v2 = smallest_quota(root, root / relative, [](const fs::path& dir) {
        std::istringstream max(first_line(dir / "cpu.max"));
        std::string quota, period;
        max >> quota >> period;
        return quota_cores(quota, period);
      });
      continue;
    }
    std::istringstream names(controllers);
    std::string name;
    bool cpu = false;
    while (std::getline(names, name, ',')) cpu = cpu || name == "cpu";
    if (!cpu) continue;
    for (const fs::path mount : {root / controllers, root / "cpu"}) {  // v1: "cpu,cpuacct" or "cpu"
      std::error_code ec;
      if (!fs::is_directory(mount, ec)) continue;
      v1 = smallest_quota(mount, mount / relative, [](const fs::path& dir) {
        return quota_cores(first_line(dir / "cpu.cfs_quota_us"), first_line(dir / "cpu.cfs_period_us"));
      });
      break;
    }
  }
  if (v2 > 0 && v1 > 0) return std::min(v2, v1);
  return std::max(v2, v1);
}

int available_cores() {
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) cores = std::max(1, CPU_COUNT(&set));
  std::ifstream in("/proc/self/cgroup");
  const std::string proc_cgroup((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const int quota = cgroup_cpu_quota(proc_cgroup, "/sys/fs/cgroup");
  return quota > 0 ? std::min(cores, quota) : cores;
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
