// libFuzzer harness for the archive reader (data/archive.h): the input is an archive file (tar,
// tar.gz, zip, cpio, ... whatever libarchive detects). Each input is
//  - iterated member by member: safe_member_path on every path, file data read whole under the
//    64 MiB cap the ImageNet devkit reader uses, or in chunks, and every file member opened as
//    a nested archive (two levels deep, as the ImageNet train tar's WNID.tar members are);
//  - read as a raw compressed file (ArchiveOpenOptions::raw);
//  - extracted with extract_archive into a scratch folder, after which nothing may exist
//    outside it and no temporary (.zoo-part.*) file may be left.
#include "common/error.h"
#include "data/archive.h"
#include "fuzz/fuzz_util.h"

#include <cctype>
#include <filesystem>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

constexpr int64_t kCap = 64 << 20;

// A relative path of plain components: not empty, no leading '/', no "." or ".." or empty
// component, no backslash or NUL, no drive ("C:") in front.
bool stays_inside(const std::string& rel) {
  if (rel.empty() || rel.find('\\') != std::string::npos || rel.find('\0') != std::string::npos) return false;
  if (rel.size() >= 2 && std::isalpha(static_cast<unsigned char>(rel[0])) && rel[1] == ':') return false;
  size_t start = 0;
  for (;;) {
    const size_t end = rel.find('/', start);
    const std::string part = rel.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (part.empty() || part == "." || part == "..") return false;
    if (end == std::string::npos) return true;
    start = end + 1;
  }
}

void iterate(zoo::ArchiveReader& reader, int depth, bool whole) {
  int members = 0;
  while (reader.next()) {
    const zoo::ArchiveMember& m = reader.member();
    ZOO_FUZZ_CHECK(m.size >= -1, "a member size is -1 or declared");
    try {
      const std::string rel = zoo::safe_member_path(m.path, reader.name());
      ZOO_FUZZ_CHECK(stays_inside(rel), "a safe member path stays inside");
    } catch (const zoo::Error&) {
    }
    (void)zoo::printable(m.path);
    if (m.type != zoo::MemberType::kFile) continue;
    if (depth < 2 && (members++ % 2 == 0)) {
      try {
        zoo::ArchiveReader inner = zoo::ArchiveReader::nested(reader);
        iterate(inner, depth + 1, !whole);
      } catch (const zoo::Error&) {
      }
      continue;  // the parent member was consumed by the nested reader
    }
    if (whole) {
      const std::vector<uint8_t> bytes = reader.read_all(kCap);
      ZOO_FUZZ_CHECK(m.size < 0 || bytes.size() <= static_cast<size_t>(m.size),
                     "read_all returns at most the declared size");
    } else {
      char buf[1000];
      size_t total = 0;
      for (size_t got; (got = reader.read(buf, sizeof buf)) > 0;) total += got;
      (void)total;
    }
  }
  (void)reader.file_position();
  (void)reader.file_size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& dir = zoo::fuzz::scratch_dir("archive");
  const fs::path file = dir / "input.tar";
  const fs::path dest = dir / "out";
  zoo::fuzz::write_bytes(file, data, size);

  try {
    zoo::ArchiveReader reader(file.string());
    iterate(reader, 0, (size & 1) == 0);
  } catch (const zoo::Error&) {
  }

  try {
    zoo::ArchiveOpenOptions raw;
    raw.raw = true;
    zoo::ArchiveReader reader(file.string(), raw);
    while (reader.next()) (void)reader.read_all(kCap);
  } catch (const zoo::Error&) {
  }

  std::error_code ec;
  fs::remove_all(dest, ec);
  try {
    zoo::ExtractOptions options;
    options.fsync_each_file = false;
    const zoo::ExtractSummary s = zoo::extract_archive(file.string(), dest.string(), options);
    ZOO_FUZZ_CHECK(s.files >= 0 && s.bytes >= 0, "extraction counts");
  } catch (const zoo::Error&) {
  }
  // Nothing but the input and the destination in the scratch folder; no temporary left.
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    ZOO_FUZZ_CHECK(entry.path() == file || entry.path() == dest, "nothing lands outside the destination");
  }
  for (auto it = fs::recursive_directory_iterator(dest, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    ZOO_FUZZ_CHECK(!zoo::is_partial_name(it->path().filename().string()), "no temporary file is left");
    ZOO_FUZZ_CHECK(!it->is_symlink(), "no symbolic link is created");
  }
  return 0;
}
