// Archive reading and safe extraction over libarchive; see archive.h. A file is read through our
// own callbacks (read, skip, seek on a file descriptor) so that skipping a member of an
// uncompressed tar is an lseek, a read error keeps its errno, and the position in the file is
// known for progress. A nested archive reads its bytes from the parent's current member with
// archive_read_data. Output goes through directory file descriptors opened with O_NOFOLLOW.
#include "data/archive.h"

#include "common/error.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace zoo {

namespace fs = std::filesystem;

namespace {

// read() sizes for archive files: small right after a skip (the next header is all a listing
// pass needs, so most of a 100 KB member is seeked over, not read), doubling while reading
// streams on, up to the large block.
constexpr size_t kSmallBlock = 16 << 10;
constexpr size_t kFileBlock = 1 << 20;
constexpr size_t kNestedBlock = 256 << 10;  // read size from a parent archive
constexpr size_t kCopyChunk = 256 << 10;    // member data copy buffer
constexpr const char* kPartialPrefix = ".zoo-part.";

std::string damaged_hint() { return "HINT: the file is damaged or incomplete: download it again"; }
std::string unsafe_hint() {
  return "HINT: the archive is not what zoo expects: check where it came from";
}

std::string errno_text(int err) { return std::strerror(err); }

}  // namespace

std::string printable(const std::string& s) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

namespace {

// Splits a member path into its normalised components; throws for unsafe ones. An empty
// result ("", ".", "./") is returned only when allow_empty.
std::string normalise_member(const std::string& member, const std::string& archive,
                             bool allow_empty) {
  auto refuse = [&](const std::string& why) -> Error {
    return data_error("archive " + printable(archive) + ": member '" + printable(member) +
                      "' has an unsafe path (" + why + "); zoo refuses to extract it; " +
                      unsafe_hint());
  };
  if (member.find('\0') != std::string::npos) throw refuse("a NUL byte");
  if (member.find('\\') != std::string::npos) throw refuse("a backslash");
  if (!member.empty() && member[0] == '/') throw refuse("absolute");
  std::string out;
  size_t start = 0;
  bool first = true;
  while (start <= member.size()) {
    size_t end = member.find('/', start);
    if (end == std::string::npos) end = member.size();
    const std::string part = member.substr(start, end - start);
    start = end + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") throw refuse("a '..' component");
    if (first && part.size() >= 2 && part[1] == ':' &&
        ((part[0] >= 'A' && part[0] <= 'Z') || (part[0] >= 'a' && part[0] <= 'z'))) {
      throw refuse("a drive letter");
    }
    first = false;
    if (!out.empty()) out += '/';
    out += part;
  }
  if (out.empty() && !allow_empty) {
    throw refuse(member.empty() ? "empty" : "it names no file");
  }
  return out;
}

std::pair<std::string, std::string> split_rel(const std::string& rel) {
  const auto slash = rel.find_last_of('/');
  if (slash == std::string::npos) return {"", rel};
  return {rel.substr(0, slash), rel.substr(slash + 1)};
}

std::string join(const std::string& a, const std::string& b) {
  if (b.empty()) return a;
  if (a.empty()) return b;
  return a.back() == '/' ? a + b : a + "/" + b;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// ArchiveReader

struct ArchiveReader::Impl {
  archive* a = nullptr;
  std::string name;
  ArchiveMember member;
  bool have_member = false;
  std::string previous;  // the last member's path, for messages about the header after it

  Impl* root = this;  // the file-backed reader at the bottom of a nesting

  // File source (root only).
  int fd = -1;
  int64_t size = 0;
  int64_t pos = 0;
  int read_errno = 0;
  size_t block = kFileBlock;
  std::vector<char> buffer;

  // Nested source.
  Impl* parent = nullptr;
  std::exception_ptr parent_error;  // a zoo::Error the parent threw inside our read callback

  ~Impl() {
    if (a != nullptr) archive_read_free(a);
    if (fd >= 0) ::close(fd);
  }

  std::string context(bool in_data) const {
    if (in_data && have_member) return " (member " + printable(member.path) + ")";
    if (!previous.empty()) return " (after member " + printable(previous) + ")";
    return " (before its first member)";
  }

  [[noreturn]] void fail(bool in_data) {
    if (parent_error) std::rethrow_exception(parent_error);
    if (root->read_errno != 0) {
      const int err = root->read_errno;
      throw io_error("cannot read archive " + printable(root->name) + ": " + errno_text(err) +
                     context(in_data) + "; HINT: check the disk and the file's permissions");
    }
    const char* msg = a != nullptr ? archive_error_string(a) : nullptr;
    throw data_error("archive " + printable(name) + ": " +
                     printable(msg != nullptr ? msg : "unknown libarchive error") +
                     context(in_data) + "; " + damaged_hint());
  }

  void create(const ArchiveOpenOptions& options) {
    a = archive_read_new();
    if (a == nullptr) throw internal_error("libarchive: archive_read_new failed (out of memory)");
    // The compressions libarchive decodes in-process (zlib, libbz2, liblzma, libzstd). Not
    // _all: that also enables filters run as external programs (lrzip, lzop, grzip), which a
    // stranger's file would then get to start.
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_bzip2(a);
    archive_read_support_filter_xz(a);
    archive_read_support_filter_lzma(a);
    archive_read_support_filter_zstd(a);
    if (options.raw) {
      archive_read_support_format_raw(a);
    } else {
      archive_read_support_format_all(a);
    }
  }

  static la_ssize_t file_read(archive*, void* data, const void** out) {
    auto* self = static_cast<Impl*>(data);
    for (;;) {
      const ssize_t n = ::read(self->fd, self->buffer.data(), self->block);
      if (n >= 0) {
        self->pos += n;
        self->block = std::min(self->block * 2, self->buffer.size());
        *out = self->buffer.data();
        return n;
      }
      if (errno == EINTR) continue;
      self->read_errno = errno;
      return -1;
    }
  }

  // Forward skips within the file (never past its end: libarchive then reads and reports the
  // truncation itself).
  static la_int64_t file_skip(archive*, void* data, la_int64_t request) {
    auto* self = static_cast<Impl*>(data);
    const int64_t left = self->size > self->pos ? self->size - self->pos : 0;
    const int64_t n = request < left ? request : left;
    if (n <= 0) return 0;
    const off_t got = ::lseek(self->fd, static_cast<off_t>(n), SEEK_CUR);
    if (got < 0) return 0;  // let libarchive read and discard instead
    self->pos = got;
    self->block = kSmallBlock;
    return n;
  }

  static la_int64_t file_seek(archive*, void* data, la_int64_t offset, int whence) {
    auto* self = static_cast<Impl*>(data);
    const off_t got = ::lseek(self->fd, static_cast<off_t>(offset), whence);
    if (got < 0) {
      self->read_errno = errno;
      return ARCHIVE_FATAL;
    }
    self->pos = got;
    self->block = kSmallBlock;
    return got;
  }

  static la_ssize_t nested_read(archive* a, void* data, const void** out) {
    auto* self = static_cast<Impl*>(data);
    try {
      const size_t n = self->parent->read_data(self->buffer.data(), self->buffer.size());
      *out = self->buffer.data();
      return static_cast<la_ssize_t>(n);
    } catch (...) {
      self->parent_error = std::current_exception();
      archive_set_error(a, EIO, "the enclosing archive could not be read");
      return -1;
    }
  }

  size_t read_data(void* out, size_t n) {
    if (!have_member || n == 0) return 0;
    const la_ssize_t got = archive_read_data(a, out, n);
    if (got < 0) fail(true);
    return static_cast<size_t>(got);
  }
};

ArchiveReader::ArchiveReader(const std::string& path, const ArchiveOpenOptions& options)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.name = path;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      throw missing_error("archive not found: " + printable(path) +
                          "; HINT: check the path, or download the file");
    }
    throw io_error("cannot open archive " + printable(path) + ": " + errno_text(err) +
                   "; HINT: check the file's permissions");
  }
  if (!S_ISREG(st.st_mode)) {
    throw data_error("archive " + printable(path) + " is not a regular file" +
                     (S_ISDIR(st.st_mode) ? " but a directory" : "") +
                     "; HINT: give the path of the archive file itself");
  }
  m.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (m.fd < 0) {
    throw io_error("cannot open archive " + printable(path) + ": " + errno_text(errno) +
                   "; HINT: check the file's permissions");
  }
  m.size = st.st_size;
  m.buffer.resize(kFileBlock);
  m.create(options);
  archive_read_set_seek_callback(m.a, &Impl::file_seek);
  if (archive_read_open2(m.a, &m, nullptr, &Impl::file_read, &Impl::file_skip, nullptr) !=
      ARCHIVE_OK) {
    m.fail(false);
  }
}

ArchiveReader ArchiveReader::nested(ArchiveReader& parent, const ArchiveOpenOptions& options) {
  return ArchiveReader(NestedTag{}, parent, options);
}

ArchiveReader::ArchiveReader(NestedTag, ArchiveReader& parent, const ArchiveOpenOptions& options)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  Impl& p = *parent.impl_;
  if (!p.have_member) {
    throw internal_error("ArchiveReader: nested archive opened with no current member in " +
                         p.name);
  }
  m.parent = &p;
  m.root = p.root;
  m.name = p.name + ":" + p.member.path;
  m.buffer.resize(kNestedBlock);
  m.create(options);
  if (archive_read_open2(m.a, &m, nullptr, &Impl::nested_read, nullptr, nullptr) != ARCHIVE_OK) {
    m.fail(false);
  }
}

ArchiveReader::~ArchiveReader() = default;
ArchiveReader::ArchiveReader(ArchiveReader&&) noexcept = default;
ArchiveReader& ArchiveReader::operator=(ArchiveReader&&) noexcept = default;

bool ArchiveReader::next() {
  Impl& m = *impl_;
  if (m.have_member) m.previous = m.member.path;
  m.have_member = false;
  archive_entry* e = nullptr;
  const int r = archive_read_next_header(m.a, &e);
  if (r == ARCHIVE_EOF) return false;
  if (r != ARCHIVE_OK && r != ARCHIVE_WARN) m.fail(false);
  ArchiveMember& mem = m.member;
  const char* p = archive_entry_pathname(e);
  if (p == nullptr) p = archive_entry_pathname_utf8(e);
  mem.path = p != nullptr ? p : "";
  mem.size = archive_entry_size_is_set(e) ? archive_entry_size(e) : -1;
  mem.link_target.clear();
  if (const char* hl = archive_entry_hardlink(e)) {
    mem.type = MemberType::kHardlink;
    mem.link_target = hl;
  } else {
    switch (archive_entry_filetype(e)) {
      case AE_IFREG: mem.type = MemberType::kFile; break;
      case AE_IFDIR: mem.type = MemberType::kDirectory; break;
      case AE_IFLNK: {
        mem.type = MemberType::kSymlink;
        const char* t = archive_entry_symlink(e);
        mem.link_target = t != nullptr ? t : "";
        break;
      }
      default: mem.type = MemberType::kOther; break;
    }
  }
  m.have_member = true;
  return true;
}

const ArchiveMember& ArchiveReader::member() const {
  if (!impl_->have_member) {
    throw internal_error("ArchiveReader::member() called with no current member in " + impl_->name);
  }
  return impl_->member;
}

size_t ArchiveReader::read(void* buffer, size_t size) { return impl_->read_data(buffer, size); }

std::vector<uint8_t> ArchiveReader::read_all(int64_t max_bytes) {
  Impl& m = *impl_;
  std::vector<uint8_t> out;
  if (!m.have_member) return out;
  auto too_big = [&](const std::string& size_text) {
    return data_error("archive " + printable(m.name) + ": member " + printable(m.member.path) +
                      " holds " + size_text + ", more than the " + std::to_string(max_bytes) +
                      " bytes zoo reads into memory for it; HINT: this is not the file expected "
                      "here: check the archive");
  };
  if (m.member.size > max_bytes) throw too_big(std::to_string(m.member.size) + " bytes");
  if (m.member.size > 0) out.reserve(static_cast<size_t>(m.member.size));
  size_t used = 0;
  for (;;) {
    const size_t room = out.capacity() > used ? out.capacity() - used : 0;
    const size_t want = room >= 4096 ? room : kCopyChunk;
    out.resize(used + want);
    const size_t got = m.read_data(out.data() + used, want);
    used += got;
    out.resize(used);
    if (got == 0) break;
    if (static_cast<int64_t>(used) > max_bytes) throw too_big("more than that");
  }
  return out;
}

std::string ArchiveReader::read_string(int64_t max_bytes) {
  const std::vector<uint8_t> bytes = read_all(max_bytes);
  return std::string(bytes.begin(), bytes.end());
}

void ArchiveReader::skip() {
  Impl& m = *impl_;
  if (!m.have_member) return;
  if (archive_read_data_skip(m.a) != ARCHIVE_OK) m.fail(true);
}

const std::string& ArchiveReader::name() const { return impl_->name; }
int64_t ArchiveReader::file_position() const { return impl_->root->pos; }
int64_t ArchiveReader::file_size() const { return impl_->root->size; }

// ---------------------------------------------------------------------------------------------
// Paths and temporary files

std::string safe_member_path(const std::string& member, const std::string& archive) {
  return normalise_member(member, archive, false);
}

std::string partial_name(const std::string& file_name) {
  if (file_name.size() <= 200) return kPartialPrefix + file_name;
  uint64_t h = 1469598103934665603ull;  // FNV-1a: a long name gets a short, stable stand-in
  for (unsigned char c : file_name) h = (h ^ c) * 1099511628211ull;
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (int i = 60; i >= 0; i -= 4) s += hex[(h >> i) & 15];
  return kPartialPrefix + s;
}

bool is_partial_name(const std::string& file_name) {
  return file_name.compare(0, std::strlen(kPartialPrefix), kPartialPrefix) == 0;
}

int64_t remove_partial_files(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  std::vector<fs::path> doomed;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (is_partial_name(it->path().filename().string()) && !it->is_directory(ec)) {
      doomed.push_back(it->path());
    }
  }
  if (ec) {
    throw io_error("cannot list " + printable(dir) + ": " + ec.message() +
                   "; HINT: check the directory's permissions");
  }
  for (const auto& p : doomed) {
    if (!fs::remove(p, ec) && ec) {
      throw io_error("cannot remove the temporary file " + printable(p.string()) + ": " +
                     ec.message() + "; HINT: check the directory's permissions");
    }
  }
  return static_cast<int64_t>(doomed.size());
}

// ---------------------------------------------------------------------------------------------
// DirectoryWriter

DirectoryWriter::DirectoryWriter(const std::string& root) : root_(root) {
  std::error_code ec;
  fs::create_directories(root_, ec);
  if (ec) {
    throw io_error("cannot create directory " + printable(root_) + ": " + ec.message() +
                   "; HINT: check the path and its permissions");
  }
  root_fd_ = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root_fd_ < 0) {
    throw io_error("cannot open directory " + printable(root_) + ": " + errno_text(errno) +
                   "; HINT: check the path and its permissions");
  }
}

DirectoryWriter::~DirectoryWriter() {
  if (cached_fd_ >= 0) ::close(cached_fd_);
  if (root_fd_ >= 0) ::close(root_fd_);
}

int DirectoryWriter::dir_fd(const std::string& rel_dir) {
  if (rel_dir.empty()) return root_fd_;
  if (cached_fd_ >= 0 && cached_dir_ == rel_dir) return cached_fd_;
  int cur = root_fd_;
  size_t start = 0;
  while (start < rel_dir.size()) {
    size_t end = rel_dir.find('/', start);
    if (end == std::string::npos) end = rel_dir.size();
    const std::string part = rel_dir.substr(start, end - start);
    const std::string shown = join(root_, rel_dir.substr(0, end));
    start = end + 1;
    if (::mkdirat(cur, part.c_str(), 0755) != 0 && errno != EEXIST) {
      const int err = errno;
      if (cur != root_fd_) ::close(cur);
      throw io_error("cannot create directory " + printable(shown) + ": " + errno_text(err) +
                     "; HINT: check the permissions and free space of " + printable(root_));
    }
    const int next = ::openat(cur, part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    const int err = errno;
    if (cur != root_fd_) ::close(cur);
    if (next < 0) {
      if (err == ELOOP || err == ENOTDIR) {
        throw io_error("cannot create directory " + printable(shown) +
                       ": something that is not a directory (a file or a symbolic link) is in "
                       "the way, and zoo does not write through links; HINT: remove it or "
                       "choose another output directory");
      }
      throw io_error("cannot open directory " + printable(shown) + ": " + errno_text(err) +
                     "; HINT: check its permissions");
    }
    cur = next;
  }
  if (cached_fd_ >= 0) ::close(cached_fd_);
  cached_fd_ = cur;
  cached_dir_ = rel_dir;
  return cur;
}

void DirectoryWriter::make_dirs(const std::string& rel) { dir_fd(rel); }

int64_t DirectoryWriter::write_member(ArchiveReader& reader, const std::string& rel,
                                      bool fsync_file,
                                      const std::function<void(int64_t)>& on_bytes) {
  const auto [dir, base] = split_rel(rel);
  const std::string final_path = join(root_, rel);
  if (base.empty()) {
    throw internal_error("DirectoryWriter::write_member: empty file name for " + final_path);
  }
  if (is_partial_name(base)) {
    throw data_error("archive " + printable(reader.name()) + ": member " +
                     printable(reader.member().path) + " is named like zoo's temporary files (" +
                     kPartialPrefix + "*); zoo refuses to extract it; " + unsafe_hint());
  }
  const int dfd = dir_fd(dir);
  const std::string tmp = partial_name(base);

  struct Temp {
    int dfd;
    const std::string& name;
    int fd = -1;
    bool done = false;
    ~Temp() {
      if (fd >= 0) ::close(fd);
      if (!done) ::unlinkat(dfd, name.c_str(), 0);
    }
  } temp{dfd, tmp};

  auto fail = [&](const std::string& what, int err) -> Error {
    if (temp.fd >= 0) ::close(temp.fd);
    temp.fd = -1;
    ::unlinkat(dfd, tmp.c_str(), 0);
    temp.done = true;
    return io_error("cannot write " + printable(final_path) + " (member " +
                    printable(reader.member().path) + " of " + printable(reader.name()) +
                    "): " + what + ": " + errno_text(err) +
                    "; the partial file was removed; HINT: free space on the disk, check the "
                    "permissions of " +
                    printable(root_) + ", then run again");
  };

  ::unlinkat(dfd, tmp.c_str(), 0);  // a leftover (even a link planted there) is never reused
  temp.fd = ::openat(dfd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (temp.fd < 0) throw fail("cannot create a temporary file", errno);

  std::vector<char> buffer(kCopyChunk);
  int64_t written = 0;
  for (;;) {
    const size_t got = reader.read(buffer.data(), buffer.size());
    if (got == 0) break;
    const char* p = buffer.data();
    size_t left = got;
    while (left > 0) {
      const ssize_t n = ::write(temp.fd, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw fail("write failed", errno);
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
    written += static_cast<int64_t>(got);
    if (on_bytes) on_bytes(written);
  }
  if (fsync_file && ::fsync(temp.fd) != 0) throw fail("fsync failed", errno);
  const int fd = temp.fd;
  temp.fd = -1;
  if (::close(fd) != 0) throw fail("close failed", errno);
  if (::renameat(dfd, tmp.c_str(), dfd, base.c_str()) != 0) throw fail("rename failed", errno);
  temp.done = true;
  return written;
}

void DirectoryWriter::sync() {
  if (::syncfs(root_fd_) != 0) {
    throw io_error("cannot flush the files written under " + printable(root_) +
                   " to disk: " + errno_text(errno) + "; HINT: check the disk");
  }
}

// ---------------------------------------------------------------------------------------------
// extract_archive

ExtractSummary extract_archive(const std::string& archive, const std::string& dest_dir,
                               const ExtractOptions& options) {
  ArchiveOpenOptions open;
  open.raw = options.raw;
  ArchiveReader reader(archive, open);
  DirectoryWriter writer(dest_dir);
  ExtractSummary summary;
  constexpr int64_t kProgressEvery = 4 << 20;
  int64_t last_report = 0;
  auto report = [&](bool force) {
    if (!options.progress) return;
    const int64_t pos = reader.file_position();
    if (force || pos - last_report >= kProgressEvery) {
      last_report = pos;
      options.progress(pos, reader.file_size());
    }
  };
  while (reader.next()) {
    const ArchiveMember& m = reader.member();
    switch (m.type) {
      case MemberType::kDirectory: {
        const std::string rel = normalise_member(m.path, reader.name(), true);
        if (!rel.empty()) writer.make_dirs(rel);
        ++summary.directories;
        break;
      }
      case MemberType::kFile: {
        const std::string rel = safe_member_path(m.path, reader.name());
        summary.bytes += writer.write_member(reader, rel, options.fsync_each_file,
                                             [&](int64_t) { report(false); });
        ++summary.files;
        break;
      }
      case MemberType::kSymlink:
      case MemberType::kHardlink:
      case MemberType::kOther: {
        const std::string what = m.type == MemberType::kSymlink    ? "a symbolic link"
                                 : m.type == MemberType::kHardlink ? "a hard link"
                                                                   : "a special file";
        throw data_error("archive " + printable(reader.name()) + ": member " + printable(m.path) +
                         " is " + what +
                         (m.link_target.empty() ? "" : " to " + printable(m.link_target)) +
                         "; zoo extracts regular files and directories only and creates no "
                         "links; " +
                         unsafe_hint());
      }
    }
    report(false);
  }
  writer.sync();
  report(true);
  return summary;
}

}  // namespace zoo
