// Reading archives (libarchive) and extracting them safely. ArchiveReader reads every format
// libarchive supports (tar, pax, ustar, GNU tar, zip, cpio, 7z, ...) compressed or not with
// gzip, bzip2, xz/lzma or zstd (the decoders libarchive runs in-process; never its filters that
// start external programs) from a file, or from the current member of another archive (an ImageNet
// WNID.tar inside the train tar) without a copy on disk; with `raw`, a single compressed file
// (a plain .gz) reads as one member named "data". Members are iterated one at a time; the
// current one can be read in chunks, read whole under a size cap (checked against the declared
// size before anything is allocated) or skipped: on an uncompressed tar file, skipping seeks
// past the data instead of reading it.
//
// Every libarchive failure (truncated archive, bad gzip, damaged header) is a data_error naming
// the archive (a nested one as outer.tar:inner.tar), libarchive's message and the member; a
// failing read of the file itself (EIO) is an io_error. Limits of libarchive 3.6: a gzip
// stream's CRC-32 and length are not checked (damage shows as a deflate error most of the
// time, not always), and a .tar.gz is read only up to the tar's end marker, so a cut in its
// last bytes (compressed padding, gzip trailer) goes unnoticed; every member is whole then.
// Verify downloads by checksum.
//
// Extraction (extract_archive, DirectoryWriter) writes regular files and directories only:
// member paths go through safe_member_path, so nothing lands outside the destination; symbolic
// links, hard links and special files are REFUSED (data_error), never created or followed, and
// a symbolic link already inside the destination is never followed either (directories are
// walked with O_NOFOLLOW). A file is written to a temporary name (".zoo-part.<name>") in its
// final directory and renamed into place once complete, so no file ever sits half-written under
// its final name; a failed write (disk full) removes the temporary and throws io_error. Member
// permissions, owners and times are not applied: files get 0644, directories 0755 (less the
// umask). Not supported: writing archives (tests use libarchive's write API directly),
// encrypted members, multi-volume archives.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace zoo {

enum class MemberType { kFile, kDirectory, kSymlink, kHardlink, kOther };

struct ArchiveMember {
  std::string path;   // as stored in the archive (not normalised: see safe_member_path)
  int64_t size = -1;  // declared data size; -1 when the format does not say (raw)
  MemberType type = MemberType::kOther;
  std::string link_target;  // kSymlink, kHardlink: what it points to
};

struct ArchiveOpenOptions {
  // Read the input as one compressed (or plain) file instead of an archive: a single member
  // named "data" of unknown size. For .gz/.bz2/.xz files that are not tars.
  bool raw = false;
};

class ArchiveReader {
 public:
  // Opens an archive file. missing_error when it does not exist; data_error when it is not a
  // regular file or not in a format libarchive reads; io_error when it cannot be opened.
  explicit ArchiveReader(const std::string& path, const ArchiveOpenOptions& options = {});
  // Opens the archive held in `parent`'s current member, reading it through `parent` (no
  // temporary copy). `parent` must outlive the result and must not be advanced, read or
  // skipped while it is open. Named "<parent name>:<member path>" in messages.
  static ArchiveReader nested(ArchiveReader& parent, const ArchiveOpenOptions& options = {});
  ~ArchiveReader();
  ArchiveReader(ArchiveReader&&) noexcept;
  ArchiveReader& operator=(ArchiveReader&&) noexcept;
  ArchiveReader(const ArchiveReader&) = delete;
  ArchiveReader& operator=(const ArchiveReader&) = delete;

  // Moves to the next member, skipping what is left of the current one. False at the end.
  bool next();
  // The current member; only valid after next() returned true.
  const ArchiveMember& member() const;

  // Reads up to `size` bytes of the current member's data; 0 at its end.
  size_t read(void* buffer, size_t size);
  // The rest of the current member's data. data_error, before allocating anything, when its
  // declared size exceeds `max_bytes`; also when the data read runs past it (size undeclared).
  std::vector<uint8_t> read_all(int64_t max_bytes);
  std::string read_string(int64_t max_bytes);
  // Skips the rest of the current member (a seek for an uncompressed archive file).
  void skip();

  // The name used in messages: the file path, or "outer:inner" for a nested archive.
  const std::string& name() const;
  // Bytes of the outermost archive file consumed so far (seeks included) and its size: a
  // progress measure, also for nested readers.
  int64_t file_position() const;
  int64_t file_size() const;

 private:
  struct Impl;
  struct NestedTag {};
  ArchiveReader(NestedTag, ArchiveReader& parent, const ArchiveOpenOptions& options);
  std::unique_ptr<Impl> impl_;
};

// The normalised relative path of a member (components joined by '/', "." and empty components
// dropped: "./a//b" -> "a/b"). data_error naming `archive` for any path that could escape the
// destination or that names nothing: empty, absolute ("/x"), any ".." component, a NUL byte, a
// backslash anywhere, or a first component that starts with a drive ("C:", "C:x").
std::string safe_member_path(const std::string& member, const std::string& archive);

// `s` fit for a one-line message: control bytes become \xNN.
std::string printable(const std::string& s);

// Temporary files: ".zoo-part.<name>" (a hash for long names) beside the final file.
std::string partial_name(const std::string& file_name);
bool is_partial_name(const std::string& file_name);
// Removes the temporary files left under `dir` (recursively) by a killed writer; returns how
// many. A missing `dir` is not an error.
int64_t remove_partial_files(const std::string& dir);

// Writes files and directories under one destination directory (created if missing), with
// the guarantees described at the top of this file. Paths given to it are relative and must
// come from safe_member_path. One writer per destination at a time.
class DirectoryWriter {
 public:
  explicit DirectoryWriter(const std::string& root);  // io_error when root cannot be created
  ~DirectoryWriter();
  DirectoryWriter(const DirectoryWriter&) = delete;
  DirectoryWriter& operator=(const DirectoryWriter&) = delete;

  // Creates root/rel and its parents (0755). io_error when something that is not a directory
  // (a file, a symbolic link) is in the way.
  void make_dirs(const std::string& rel);
  // Writes the reader's current member to root/rel through a temporary file in the same
  // directory, fsyncing it before the rename when `fsync_file`. `on_bytes` is called after
  // each chunk with the bytes written so far. Returns the bytes written. io_error naming the
  // file and the errno text on a write failure, after removing the temporary; the reader's
  // errors (data_error) also remove it. data_error for a file named like a temporary file.
  int64_t write_member(ArchiveReader& reader, const std::string& rel, bool fsync_file,
                       const std::function<void(int64_t)>& on_bytes = {});
  // Flushes everything written so far to disk (syncfs on the root's file system).
  void sync();
  const std::string& root() const { return root_; }

 private:
  int dir_fd(const std::string& rel_dir);  // cached; "" is the root

  std::string root_;
  int root_fd_ = -1;
  std::string cached_dir_;
  int cached_fd_ = -1;
};

struct ExtractOptions {
  bool raw = false;             // see ArchiveOpenOptions
  bool fsync_each_file = true;  // fsync every file before its rename
  // Called every few MiB and at the end: bytes of the archive file consumed and its size.
  std::function<void(int64_t done, int64_t total)> progress;
};

struct ExtractSummary {
  int64_t files = 0;
  int64_t directories = 0;  // directory members
  int64_t bytes = 0;        // data bytes written
};

// Extracts every regular file and directory of `archive` into `dest_dir` (created if missing):
// missing_error for a missing archive, data_error for a damaged one or an unsafe member
// (path, symbolic link, hard link, special file: nothing is written for it or after it; what
// was extracted before stays), io_error for write failures. Files already there with a
// member's name are replaced.
ExtractSummary extract_archive(const std::string& archive, const std::string& dest_dir,
                               const ExtractOptions& options = {});

}  // namespace zoo
