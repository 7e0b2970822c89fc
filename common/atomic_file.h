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
  // Flush, fsync, rename; throws io_error. With `keep_previous`, a file already at the
  // destination becomes `keep_previous` first (a hard link renamed over it, so that the
  // destination never disappears; a rename where links are not supported).
  void commit(const std::string& keep_previous = {});

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

// Removes the temporaries that AtomicFile left in `dir` when its process was killed (names
// ".<file>.tmp.<pid>.<n>" whose pid is no running process); returns how many it removed.
int remove_stale_temporaries(const std::string& dir);

}  // namespace zoo
