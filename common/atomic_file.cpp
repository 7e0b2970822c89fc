// Temp-file-then-rename writes; see atomic_file.h.
#include "common/atomic_file.h"

#include "common/error.h"

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <signal.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace zoo {

namespace {

std::string dir_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string base_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::atomic<unsigned> g_counter{0};

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  if (path_.empty() || path_.back() == '/') {
    throw io_error("cannot write '" + path_ + "': not a file path; HINT: give a file name");
  }
  const std::string prefix = dir_of(path_) + "/." + base_of(path_) + ".tmp." +
                             std::to_string(static_cast<long>(::getpid())) + ".";
  for (int attempt = 0; attempt < 100; ++attempt) {
    temp_path_ = prefix + std::to_string(g_counter.fetch_add(1));
    fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ >= 0) return;
    if (errno != EEXIST) break;
  }
  const int err = errno;
  temp_path_.clear();  // nothing of ours to remove
  fail("cannot create a temporary file in " + dir_of(path_), err);
}

AtomicFile::~AtomicFile() {
  if (!committed_) discard();
}

void AtomicFile::discard() noexcept {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!temp_path_.empty()) {
    ::unlink(temp_path_.c_str());
    temp_path_.clear();
  }
}

void AtomicFile::fail(const std::string& what, int err) {
  discard();
  throw io_error("cannot write '" + path_ + "': " + what + ": " + std::strerror(err) +
                 "; the previous file, if any, is unchanged; HINT: check that the directory "
                 "exists and is writable and that the disk has space");
}

void AtomicFile::write(const void* data, size_t size) {
  if (fd_ < 0) fail("file is already closed", EBADF);
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd_, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write failed", errno);
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
}

void AtomicFile::commit(const std::string& keep_previous) {
  if (fd_ < 0) fail("file is already closed", EBADF);
  if (::fsync(fd_) != 0) fail("fsync failed", errno);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("close failed", errno);
  struct stat st;
  if (!keep_previous.empty() && ::lstat(path_.c_str(), &st) == 0) {
    const std::string link_path = temp_path_ + ".previous";  // a temporary name too (see below)
    if (::link(path_.c_str(), link_path.c_str()) == 0) {
      if (::rename(link_path.c_str(), keep_previous.c_str()) != 0) {
        const int err = errno;
        ::unlink(link_path.c_str());
        fail("cannot keep the previous file as " + keep_previous, err);
      }
    } else if (::rename(path_.c_str(), keep_previous.c_str()) != 0) {
      fail("cannot keep the previous file as " + keep_previous, errno);
    }
  }
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) fail("rename failed", errno);
  temp_path_.clear();
  committed_ = true;
  // Make the rename itself durable; failure here does not undo a completed write.
  const int dir_fd = ::open(dir_of(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

int remove_stale_temporaries(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  int removed = 0;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const auto tmp = name.rfind(".tmp.");
    if (name.empty() || name[0] != '.' || tmp == std::string::npos) continue;
    // ".<file>.tmp.<pid>.<n>[.previous]"
    const std::string rest = name.substr(tmp + 5);
    const auto dot = rest.find('.');
    if (dot == 0 || dot == std::string::npos ||
        rest.find_first_not_of("0123456789") != dot) continue;
    const long pid = std::strtol(rest.substr(0, dot).c_str(), nullptr, 10);
    if (pid <= 0 || (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM)) continue;  // alive
    std::error_code remove_ec;
    if (fs::remove(it->path(), remove_ec)) ++removed;
  }
  return removed;
}

}  // namespace zoo
