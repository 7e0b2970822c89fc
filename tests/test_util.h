// Shared test helpers: temporary directories, a tiny synthetic idx dataset written in the real
// MNIST layout, the kind of a thrown zoo::Error, and running the zoo binary as a child process.
#pragma once

#include "common/error.h"
#include "data/idx.h"
#include "temp_dir.h"

#include <gtest/gtest.h>

#include <torch/types.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

namespace zoo::test {


// Writes an MNIST-layout folder of n_train + n_test 28x28 images in `classes` classes. Class
// k is a bright horizontal bar at rows 2+2.5k plus noise, so a small CNN separates them fast.
inline void write_synthetic_idx(const std::filesystem::path& dir, int64_t n_train, int64_t n_test,
                                int64_t classes = 10, bool gz = true, uint64_t seed = 1) {
  std::filesystem::create_directories(dir);
  std::mt19937_64 rng(seed);
  auto make = [&](int64_t n, const std::string& images, const std::string& labels) {
    auto x = torch::zeros({n, 28, 28}, torch::kUInt8);
    auto y = torch::zeros({n}, torch::kUInt8);
    auto xa = x.accessor<uint8_t, 3>();
    for (int64_t i = 0; i < n; ++i) {
      const int64_t k = static_cast<int64_t>(rng() % classes);
      y[i] = k;
      const int64_t row = 2 + (k * 5) / 2;
      for (int64_t r = 0; r < 28; ++r) {
        for (int64_t c = 0; c < 28; ++c) {
          int v = static_cast<int>(rng() % 60);
          if (r >= row && r < row + 2 && c >= 4 && c < 24) v += 180;
          xa[i][r][c] = static_cast<uint8_t>(std::min(v, 255));
        }
      }
    }
    const std::string ext = gz ? ".gz" : "";
    write_idx((dir / (images + ext)).string(), x);
    write_idx((dir / (labels + ext)).string(), y);
  };
  make(n_train, "train-images-idx3-ubyte", "train-labels-idx1-ubyte");
  make(n_test, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte");
}

// Mounts made by a test, undone (lazily, in reverse order) at the end of its scope.
class Mounts {
 public:
  ~Mounts() {
    for (auto it = mounted_.rbegin(); it != mounted_.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
  }
  // A tmpfs of `kib` KiB at `dir`.
  bool tmpfs(const std::string& dir, int kib) {
    std::filesystem::create_directories(dir);
    return add(dir, ::mount("zoo-test", dir.c_str(), "tmpfs", 0, ("size=" + std::to_string(kib) + "k").c_str()));
  }
  // `dir` bound onto itself read-only: every path under it resolves to the read-only mount from
  // now on, while files already open for writing (a running zoo's train.log) stay open.
  bool read_only(const std::string& dir) {
    std::filesystem::create_directories(dir);
    if (!add(dir, ::mount(dir.c_str(), dir.c_str(), nullptr, MS_BIND, nullptr))) return false;
    return ::mount(nullptr, dir.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) == 0;
  }
  // Undoes the latest mount.
  void pop() {
    ::umount2(mounted_.back().c_str(), MNT_DETACH);
    mounted_.pop_back();
  }

 private:
  bool add(const std::string& dir, int rc) {
    if (rc == 0) mounted_.push_back(dir);
    return rc == 0;
  }
  std::vector<std::string> mounted_;
};

struct RunResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs `ZOO_BINARY args` through the shell with stdout and stderr captured.
inline RunResult run_zoo(const std::string& args, const std::string& env = "") {
  TempDir tmp;
  const std::string out = tmp / "out", err = tmp / "err";
  const std::string cmd =
      env + " " + std::string(ZOO_BINARY) + " " + args + " >" + out + " 2>" + err;
  RunResult r;
  const int status = std::system(cmd.c_str());
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  auto slurp = [](const std::string& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

// The kind of the zoo::Error that f throws (a test failure when it throws none).
inline ErrorKind kind_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.kind();
  }
  ADD_FAILURE() << "no zoo::Error thrown";
  return ErrorKind::kInternal;
}

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace zoo::test
