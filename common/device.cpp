// Devices and cores; see device.h.
#include "common/device.h"

#include "common/error.h"

#include <torch/cuda.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
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

std::string read_file(const char* path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The CPUs this process may run on (sched_getaffinity); empty when unknown.
std::vector<int> affinity_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  return cpus;
}

struct Ticks {
  unsigned long long idle = 0;   // idle + iowait
  unsigned long long total = 0;  // every field but guest time, which user time already counts
};

// The `cpuN user nice system idle iowait irq softirq steal ...` lines of /proc/stat.
std::map<int, Ticks> cpu_ticks(const std::string& stat) {
  std::map<int, Ticks> out;
  std::istringstream lines(stat);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.size() < 4 || line.compare(0, 3, "cpu") != 0 || !std::isdigit(static_cast<unsigned char>(line[3]))) {
      continue;
    }
    std::istringstream fields(line.substr(3));
    int cpu = -1;
    fields >> cpu;
    std::vector<unsigned long long> v;
    for (unsigned long long x = 0; v.size() < 8 && fields >> x;) v.push_back(x);
    if (cpu < 0 || v.size() < 5) continue;
    Ticks t;
    t.idle = v[3] + v[4];
    for (unsigned long long x : v) t.total += x;
    out[cpu] = t;
  }
  return out;
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
    for (const fs::path& mount : {root / controllers, root / "cpu"}) {  // v1: "cpu,cpuacct" or "cpu"
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

namespace {

// available_cores() for the affinity `cpus` (empty: unknown).
int available_cores(const std::vector<int>& cpus) {
  const int cores = cpus.empty() ? static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))
                                 : static_cast<int>(cpus.size());
  const int quota = cgroup_cpu_quota(read_file("/proc/self/cgroup"), "/sys/fs/cgroup");
  return quota > 0 ? std::min(cores, quota) : cores;
}

}  // namespace

int available_cores() { return available_cores(affinity_cpus()); }

double idle_cores_between(const std::string& before, const std::string& after, const std::vector<int>& cpus) {
  const auto a = cpu_ticks(before);
  const auto b = cpu_ticks(after);
  double idle = 0.0;
  bool any = false;
  for (int cpu : cpus) {
    const auto i = a.find(cpu);
    const auto j = b.find(cpu);
    if (i == a.end() || j == b.end() || j->second.total <= i->second.total) continue;
    const double total = double(j->second.total - i->second.total);
    const double free = double(j->second.idle - std::min(j->second.idle, i->second.idle));
    idle += std::min(1.0, free / total);
    any = true;
  }
  return any ? idle : -1.0;
}

int default_threads(int local_ranks, double sample_seconds) {
  local_ranks = std::max(1, local_ranks);
  if (const char* env = std::getenv("OMP_NUM_THREADS")) {
    // Per process, as OpenMP and torchrun mean it; the list form "4,2" starts with the outer level.
    try {
      const int n = std::stoi(env);
      if (n > 0) return n;
    } catch (const std::exception&) {
    }
  }
  const std::vector<int> cpus = affinity_cpus();
  const int cores = available_cores(cpus);
  int threads = cores;
  const std::string before = read_file("/proc/stat");
  if (!cpus.empty() && !before.empty() && sample_seconds > 0) {
    std::this_thread::sleep_for(std::chrono::duration<double>(sample_seconds));
    const double idle = idle_cores_between(before, read_file("/proc/stat"), cpus);
    if (idle >= 0) threads = std::clamp(static_cast<int>(std::lround(idle)), 1, cores);
  }
  return std::max(1, threads / local_ranks);
}

int resolve_threads(int requested, int local_ranks) {
  return requested > 0 ? requested : default_threads(local_ranks);
}

std::string openmp_wait_setting() {
  for (const char* name : {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT"}) {
    if (const char* value = std::getenv(name)) return std::string(name) + "=" + value;
  }
  return "libgomp default";
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
