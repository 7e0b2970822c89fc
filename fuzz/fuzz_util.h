// Helpers the libFuzzer harnesses share: a scratch folder per process under /dev/shm (removed
// at exit) for readers that take a path, writing the input into it, and the check that turns a
// broken property into a crash libFuzzer reports. Header-only; harnesses only.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

namespace zoo::fuzz {

// The process's scratch folder, /dev/shm/zoo-fuzz-<name>-<pid> (or under $TMPDIR when /dev/shm
// is missing), created on first use and removed at exit.
inline const std::filesystem::path& scratch_dir(const char* name = "harness") {
  static const std::filesystem::path dir = [name] {
    std::error_code ec;
    std::filesystem::path base = "/dev/shm";
    if (!std::filesystem::is_directory(base, ec)) base = std::filesystem::temp_directory_path();
    std::filesystem::path d = base / ("zoo-fuzz-" + std::string(name) + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(d, ec);
    std::filesystem::create_directories(d);
    static std::filesystem::path* at_exit = new std::filesystem::path(d);
    std::atexit([] {
      std::error_code e;
      std::filesystem::remove_all(*at_exit, e);
    });
    return d;
  }();
  return dir;
}

// Writes `size` bytes to `path` (replacing it), creating its folder.
inline void write_bytes(const std::filesystem::path& path, const uint8_t* data, size_t size) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) {
    std::fprintf(stderr, "fuzz harness: cannot write %s\n", path.c_str());
    std::abort();
  }
}

inline void write_bytes(const std::filesystem::path& path, const std::string& s) {
  write_bytes(path, reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// Empties a folder (keeps the folder itself).
inline void clear_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::filesystem::remove_all(entry.path(), ec);
  }
  std::filesystem::create_directories(dir, ec);
}

// A property every input must keep: a crash (with the message) when it does not.
#define ZOO_FUZZ_CHECK(cond, what)                                                       \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "fuzz property failed: %s (%s) at %s:%d\n", what, #cond,     \
                   __FILE__, __LINE__);                                                 \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

}  // namespace zoo::fuzz
