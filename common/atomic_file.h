// AtomicFile: write a file so that readers only ever see the old version or the complete new
// one. Bytes go to a temporary file in the destination's directory; commit() flushes, fsyncs
// and renames it over the destination (then fsyncs the directory). Destroying an uncommitted
// AtomicFile, or any failure, removes the temporary and leaves the previous file untouched.
// Failures throw zoo::Error of kind kIO naming the path. POSIX only; no locking between writers.
#pragma once

#include <cstddef>
#include <string>

namespace zoo {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);  // creates the temporary; throws io_error on failure
  ~AtomicFile();                          // removes the temporary unless committed
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t size);  // throws io_error (disk full, ...)
  void commit();                              // flush, fsync, rename; throws io_error

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }

 private:
  [[noreturn]] void fail(const std::string& what, int err);
  void discard() noexcept;

  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace zoo
