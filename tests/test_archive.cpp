// Archives (data/archive.h) and ImageNet preparation (data/imagenet_prepare.h). Fixture archives
// are written with libarchive's write API in a fresh temporary directory: reading, chunked
// reads, skips (seeks on an uncompressed tar), nested archives, raw .gz, extraction; refusals
// (truncated tars and gzip streams, corrupt gzip, unsafe member paths, links, size caps, write
// failures) leave nothing outside the destination and no half-written file under a final name.
// The ImageNet tests build the official archives with scripts/fixtures/imagenet_archives.py
// (skipped when /usr/bin/python3 lacks scipy or torchvision) and compare the prepared tree with
// what torchvision's parse functions make of the same archives, file by file, also after
// interrupted runs. Needs no LibTorch.
#include "temp_dir.h"
#include "common/error.h"
#include "data/archive.h"
#include "data/imagenet_prepare.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace zoo {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Helpers

using test::TempDir;

// The zoo::Error f throws (kind and message); a test failure when it throws none.
struct Thrown {
  ErrorKind kind = ErrorKind::kInternal;
  std::string message;
};
Thrown thrown(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return {e.kind(), e.what()};
  }
  ADD_FAILURE() << "no zoo::Error thrown";
  return {};
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}
std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Deterministic, poorly compressible bytes.
std::string noise(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

struct Member {
  Member(std::string p, std::string d = "", char k = 'f', std::string l = "")
      : path(std::move(p)), data(std::move(d)), kind(k), link(std::move(l)) {}
  std::string path;
  std::string data;
  char kind;         // f: file, d: directory, l: symbolic link, h: hard link
  std::string link;  // l, h: the target
};

la_ssize_t append_to_string(archive*, void* out, const void* buf, size_t n) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

// An archive's bytes: pax (restricted) or ustar tar, optionally gzipped.
std::string make_tar(const std::vector<Member>& members, bool gzip = false, bool ustar = false) {
  std::string out;
  archive* a = archive_write_new();
  if (ustar) {
    archive_write_set_format_ustar(a);
  } else {
    archive_write_set_format_pax_restricted(a);
  }
  if (gzip) archive_write_add_filter_gzip(a);
  EXPECT_EQ(archive_write_open(a, &out, nullptr, append_to_string, nullptr), ARCHIVE_OK);
  for (const Member& m : members) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, m.path.c_str());
    archive_entry_set_mtime(e, 1700000000, 0);
    switch (m.kind) {
      case 'd':
        archive_entry_set_filetype(e, AE_IFDIR);
        archive_entry_set_perm(e, 0777);
        break;
      case 'l':
        archive_entry_set_filetype(e, AE_IFLNK);
        archive_entry_set_perm(e, 0777);
        archive_entry_set_symlink(e, m.link.c_str());
        break;
      case 'h':
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_hardlink(e, m.link.c_str());
        break;
      default:
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0777);  // not trusted: files come out 0644
        archive_entry_set_size(e, static_cast<la_int64_t>(m.data.size()));
    }
    EXPECT_EQ(archive_write_header(a, e), ARCHIVE_OK) << archive_error_string(a);
    if (m.kind == 'f' && !m.data.empty()) {
      EXPECT_EQ(archive_write_data(a, m.data.data(), m.data.size()),
                static_cast<la_ssize_t>(m.data.size()));
    }
    archive_entry_free(e);
  }
  EXPECT_EQ(archive_write_close(a), ARCHIVE_OK);
  archive_write_free(a);
  return out;
}

// A plain .gz of one file (libarchive's raw format through the gzip filter).
std::string make_gz(const std::string& data) {
  std::string out;
  archive* a = archive_write_new();
  archive_write_set_format_raw(a);
  archive_write_add_filter_gzip(a);
  EXPECT_EQ(archive_write_open(a, &out, nullptr, append_to_string, nullptr), ARCHIVE_OK);
  archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, "data");
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
  EXPECT_EQ(archive_write_header(a, e), ARCHIVE_OK) << archive_error_string(a);
  EXPECT_EQ(archive_write_data(a, data.data(), data.size()), static_cast<la_ssize_t>(data.size()));
  archive_entry_free(e);
  EXPECT_EQ(archive_write_close(a), ARCHIVE_OK);
  archive_write_free(a);
  return out;
}

// Every path under root (relative, directories with a trailing '/'), sorted.
std::vector<std::string> listing(const fs::path& root) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    std::string rel = fs::relative(it->path(), root).string();
    if (it->is_directory() && !it->is_symlink()) rel += "/";
    out.push_back(rel);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Relative path -> bytes of every regular file under root (zoo's state file aside).
std::map<std::string, std::string> tree(const fs::path& root) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  if (!fs::exists(root)) return out;
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    out[fs::relative(it->path(), root).string()] = read_file(it->path().string());
  }
  return out;
}

bool has_partial_files(const fs::path& root) {
  for (const auto& p : listing(root)) {
    if (fs::path(p).filename().string().rfind(".zoo-part.", 0) == 0) return true;
  }
  return false;
}

// Bytes this process has read through read(2) so far (/proc/self/io rchar); -1 if unknown.
int64_t bytes_read_by_process() {
  std::ifstream in("/proc/self/io");
  std::string key;
  int64_t value = 0;
  while (in >> key >> value) {
    if (key == "rchar:") return value;
  }
  return -1;
}

const std::vector<Member> kSample = {
    {"top.txt", "hello\n"},    {"sub", "", 'd'},  {"sub/inner.bin", noise(300000, 1)},
    {"sub/deeper/x.txt", "x"}, {"empty.txt", ""},
};

// ---------------------------------------------------------------------------------------------
// Reading

TEST(Archive, IteratesReadsAndSkipsTarAndTarGz) {
  TempDir dir;
  for (const bool gzip : {false, true}) {
    for (const bool ustar : {false, true}) {
      const std::string path =
          dir / (std::string("a") + (ustar ? "u" : "p") + ".tar" + (gzip ? ".gz" : ""));
      write_file(path, make_tar(kSample, gzip, ustar));
      ArchiveReader r(path);
      EXPECT_EQ(r.name(), path);
      EXPECT_EQ(r.file_size(), static_cast<int64_t>(fs::file_size(path)));

      ASSERT_TRUE(r.next());
      EXPECT_EQ(r.member().path, "top.txt");
      EXPECT_EQ(r.member().type, MemberType::kFile);
      EXPECT_EQ(r.member().size, 6);
      EXPECT_EQ(r.read_string(100), "hello\n");

      ASSERT_TRUE(r.next());
      EXPECT_EQ(r.member().type, MemberType::kDirectory);
      EXPECT_EQ(safe_member_path(r.member().path, path), "sub");

      ASSERT_TRUE(r.next());  // read in chunks
      EXPECT_EQ(r.member().size, 300000);
      std::string got;
      char buf[7777];
      for (size_t n; (n = r.read(buf, sizeof buf)) > 0;) got.append(buf, n);
      EXPECT_EQ(got, kSample[2].data);
      EXPECT_EQ(r.read(buf, sizeof buf), 0u);

      ASSERT_TRUE(r.next());  // skipped explicitly
      EXPECT_EQ(r.member().path, "sub/deeper/x.txt");
      r.skip();

      ASSERT_TRUE(r.next());
      EXPECT_EQ(r.member().size, 0);
      EXPECT_TRUE(r.read_all(0).empty());
      EXPECT_FALSE(r.next());
      EXPECT_EQ(r.file_position(), r.file_size());
    }
  }
  // Members left unread are skipped by next().
  ArchiveReader r(dir / "ap.tar.gz");
  int n = 0;
  while (r.next()) ++n;
  EXPECT_EQ(n, 5);
}

TEST(Archive, SkippingUncompressedTarSeeksPastData) {
  if (bytes_read_by_process() < 0) GTEST_SKIP() << "no /proc/self/io";
  TempDir dir;
  const std::string big(48 << 20, 'z');
  write_file(dir / "big.tar", make_tar({{"big.bin", big}, {"small.txt", "tail"}}));
  const int64_t before = bytes_read_by_process();
  ArchiveReader r(dir / "big.tar");
  ASSERT_TRUE(r.next());
  EXPECT_EQ(r.member().size, static_cast<int64_t>(big.size()));
  r.skip();
  ASSERT_TRUE(r.next());
  EXPECT_EQ(r.read_string(10), "tail");
  EXPECT_FALSE(r.next());
  const int64_t read = bytes_read_by_process() - before;
  EXPECT_LT(read, 8 << 20) << "the 48 MiB member was read, not seeked past";
  EXPECT_EQ(r.file_position(), r.file_size());

  // A listing pass over many ~100 KB members (ImageNet's validation archive) reads a fraction.
  std::vector<Member> many;
  for (int i = 0; i < 200; ++i)
    many.emplace_back("f" + std::to_string(i), std::string(100000, 'q'));
  write_file(dir / "many.tar", make_tar(many));
  const int64_t before2 = bytes_read_by_process();
  ArchiveReader r2(dir / "many.tar");
  int n = 0;
  for (; r2.next(); ++n) r2.skip();
  EXPECT_EQ(n, 200);
  EXPECT_LT(bytes_read_by_process() - before2, r2.file_size() / 4);
  // Reading everything still works after skips (the block grows back).
  ArchiveReader r3(dir / "many.tar");
  for (int i = 0; r3.next(); ++i) {
    if (i % 3 == 0) {
      r3.skip();
    } else {
      EXPECT_EQ(r3.read_string(100000), many[i].data);
    }
  }
}

TEST(Archive, ReadsZipThroughSeeks) {
  TempDir dir;
  std::string zip;
  archive* a = archive_write_new();
  archive_write_set_format_zip(a);
  ASSERT_EQ(archive_write_open(a, &zip, nullptr, append_to_string, nullptr), ARCHIVE_OK);
  for (const Member& m : kSample) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, m.path.c_str());
    archive_entry_set_filetype(e, m.kind == 'd' ? AE_IFDIR : AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, static_cast<la_int64_t>(m.data.size()));
    ASSERT_EQ(archive_write_header(a, e), ARCHIVE_OK);
    if (!m.data.empty()) archive_write_data(a, m.data.data(), m.data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  write_file(dir / "a.zip", zip);
  extract_archive(dir / "a.zip", dir / "out");
  EXPECT_EQ(read_file(dir / "out/sub/inner.bin"), kSample[2].data);
  EXPECT_EQ(read_file(dir / "out/top.txt"), "hello\n");
}

TEST(Archive, NestedArchivesReadThroughTheParent) {
  TempDir dir;
  const std::string inner = make_tar({{"a.txt", "A"}, {"b/c.bin", noise(70000, 2)}});
  const std::string inner_gz = make_tar({{"z.txt", "Z"}}, true);
  write_file(dir / "outer.tar", make_tar({{"first.txt", "1"},
                                          {"inner.tar", inner},
                                          {"inner.tar.gz", inner_gz},
                                          {"last.txt", "L"}}));
  ArchiveReader outer(dir / "outer.tar");
  ASSERT_TRUE(outer.next());
  ASSERT_TRUE(outer.next());
  {
    ArchiveReader in = ArchiveReader::nested(outer);
    EXPECT_EQ(in.name(), dir / "outer.tar" + ":inner.tar");
    ASSERT_TRUE(in.next());
    EXPECT_EQ(in.member().path, "a.txt");
    EXPECT_EQ(in.read_string(10), "A");
    ASSERT_TRUE(in.next());
    EXPECT_EQ(in.member().path, "b/c.bin");
    const std::vector<uint8_t> c = in.read_all(1 << 20);
    EXPECT_EQ(std::string(c.begin(), c.end()), noise(70000, 2));
    EXPECT_FALSE(in.next());
    EXPECT_GT(in.file_position(), 0);
    EXPECT_EQ(in.file_size(), outer.file_size());
  }
  ASSERT_TRUE(outer.next());
  {
    ArchiveReader in = ArchiveReader::nested(outer);  // a nested reader abandoned before its end
    ASSERT_TRUE(in.next());
    EXPECT_EQ(in.member().path, "z.txt");
  }
  ASSERT_TRUE(outer.next());
  EXPECT_EQ(outer.member().path, "last.txt");
  EXPECT_EQ(outer.read_string(10), "L");
  EXPECT_FALSE(outer.next());

  // A damaged inner archive is named outer:inner; one that is not an archive is refused.
  write_file(dir / "outer2.tar",
             make_tar({{"inner.tar", inner.substr(0, 1024 + 100)}, {"x.jpg", noise(3000, 3)}}));
  ArchiveReader o2(dir / "outer2.tar");
  ASSERT_TRUE(o2.next());
  Thrown t = thrown([&] {
    ArchiveReader in = ArchiveReader::nested(o2);
    while (in.next()) in.read_all(1 << 20);
  });
  EXPECT_EQ(t.kind, ErrorKind::kBadData);
  EXPECT_NE(t.message.find("outer2.tar:inner.tar"), std::string::npos) << t.message;
  EXPECT_NE(t.message.find("HINT: the file is damaged or incomplete"), std::string::npos);
  ASSERT_TRUE(o2.next());
  t = thrown([&] {
    ArchiveReader in = ArchiveReader::nested(o2);
    in.next();
  });
  EXPECT_EQ(t.kind, ErrorKind::kBadData);
  EXPECT_NE(t.message.find("outer2.tar:x.jpg"), std::string::npos) << t.message;
}

TEST(Archive, RawGzipSingleFile) {
  TempDir dir;
  const std::string data = noise(123457, 4);
  write_file(dir / "f.gz", make_gz(data));
  ArchiveOpenOptions raw;
  raw.raw = true;
  ArchiveReader r(dir / "f.gz", raw);
  ASSERT_TRUE(r.next());
  EXPECT_EQ(r.member().path, "data");
  EXPECT_EQ(r.member().size, -1);  // a gzip stream does not say
  const auto bytes = r.read_all(1 << 20);
  EXPECT_EQ(std::string(bytes.begin(), bytes.end()), data);
  EXPECT_FALSE(r.next());

  // Undeclared size: the cap is enforced while reading.
  ArchiveReader r2(dir / "f.gz", raw);
  ASSERT_TRUE(r2.next());
  const Thrown t = thrown([&] { r2.read_all(100000); });
  EXPECT_EQ(t.kind, ErrorKind::kBadData);
  EXPECT_NE(t.message.find("100000 bytes"), std::string::npos) << t.message;

  // Without raw, a gzip that holds no archive is not an archive.
  EXPECT_EQ(thrown([&] {
              ArchiveReader r3(dir / "f.gz");
              r3.next();
            }).kind,
            ErrorKind::kBadData);
}

TEST(Archive, OpenErrors) {
  TempDir dir;
  EXPECT_EQ(thrown([&] { ArchiveReader r(dir / "missing.tar"); }).kind, ErrorKind::kMissingInput);
  EXPECT_EQ(thrown([&] { ArchiveReader r(dir.path().string()); }).kind, ErrorKind::kBadData);
  write_file(dir / "text.tar", std::string(3000, 'x') + "not an archive\n");
  const Thrown t = thrown([&] {
    ArchiveReader r(dir / "text.tar");
    r.next();
  });
  EXPECT_EQ(t.kind, ErrorKind::kBadData);
  EXPECT_NE(t.message.find("archive " + dir / "text.tar" + ": "), std::string::npos) << t.message;
  EXPECT_EQ(t.message.find('\n'), std::string::npos);
  // An empty file is an empty archive.
  write_file(dir / "empty.tar", "");
  ArchiveReader e(dir / "empty.tar");
  EXPECT_FALSE(e.next());
}

// ---------------------------------------------------------------------------------------------
// Damaged archives

TEST(Archive, TruncatedTarIsDataErrorAtEveryCut) {
  TempDir dir;
  const std::string tar = make_tar({{"a.bin", noise(5000, 5)}, {"b.bin", noise(9000, 6)}});
  // a.bin: header [0,512), data [512,5512) padded to 5632; b.bin: header [5632,6144), data
  // to 15144. A cut exactly between members cannot be told from the end of a tar (no format
  // records its member count), so the cuts fall inside headers and data.
  for (const size_t cut : {size_t(100), size_t(512), size_t(513), size_t(4096), size_t(5600),
                           size_t(5700), size_t(6144), size_t(9000), size_t(15000)}) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    write_file(dir / "cut.tar", tar.substr(0, cut));
    Thrown t = thrown([&] {
      ArchiveReader r(dir / "cut.tar");
      while (r.next()) r.read_all(1 << 20);
    });
    EXPECT_EQ(t.kind, ErrorKind::kBadData);
    EXPECT_NE(t.message.find("HINT: the file is damaged or incomplete: download it again"),
              std::string::npos)
        << t.message;
    EXPECT_NE(t.message.find(dir / "cut.tar"), std::string::npos) << t.message;

    // Extraction: a data_error, no half file under a final name, no temporary left.
    const std::string dest = dir / "dest";
    fs::remove_all(dest);
    t = thrown([&] { extract_archive(dir / "cut.tar", dest); });
    EXPECT_EQ(t.kind, ErrorKind::kBadData);
    if (fs::exists(dest + "/a.bin")) {
      EXPECT_EQ(read_file(dest + "/a.bin"), noise(5000, 5));
    }
    EXPECT_FALSE(fs::exists(dest + "/b.bin"));
    EXPECT_FALSE(has_partial_files(dest));
  }
}

TEST(Archive, TruncatedAndCorruptGzipAreDataErrors) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "line " + std::to_string(i * 7919 % 10007) + "\n";
  const std::string gz = make_tar({{"a.txt", text}, {"b.bin", noise(50000, 7)}}, true);
  auto read_everything = [&](const std::string& path) {
    ArchiveReader r(path);
    while (r.next()) r.read_all(1 << 20);
  };
  write_file(dir / "ok.tar.gz", gz);
  read_everything(dir / "ok.tar.gz");
  // libarchive 3.6 reads a .tar.gz only up to the tar's end marker, so a cut in the last few
  // bytes (the compressed zero padding and the gzip trailer) goes unnoticed; every member is
  // complete then. The cuts fall in the gzip header and in member data.
  for (const size_t cut :
       {size_t(5), size_t(20), size_t(200), gz.size() / 3, gz.size() / 2, gz.size() * 9 / 10}) {
    SCOPED_TRACE("cut at " + std::to_string(cut) + " of " + std::to_string(gz.size()));
    write_file(dir / "cut.tar.gz", gz.substr(0, cut));
    const Thrown t = thrown([&] { read_everything(dir / "cut.tar.gz"); });
    EXPECT_EQ(t.kind, ErrorKind::kBadData) << t.message;
    EXPECT_NE(t.message.find("download it again"), std::string::npos) << t.message;
  }
  // Flipped bytes inside the deflate stream.
  std::string bad = gz;
  for (size_t i = 0; i < 16; ++i) bad[gz.size() / 4 + i * 37] ^= 0x5a;
  write_file(dir / "bad.tar.gz", bad);
  EXPECT_EQ(thrown([&] { read_everything(dir / "bad.tar.gz"); }).kind, ErrorKind::kBadData);
  fs::create_directories(dir / "dest");
  EXPECT_EQ(thrown([&] { extract_archive(dir / "bad.tar.gz", dir / "dest"); }).kind,
            ErrorKind::kBadData);
  EXPECT_FALSE(has_partial_files(dir / "dest"));
}

TEST(Archive, SizeCapRefusesBeforeAllocating) {
  TempDir dir;
  // A ustar header claiming 2^62 bytes (GNU base-256 size field), checksum recomputed. Reading
  // it whole would ask for 4 EiB; the cap refuses it from the header alone.
  std::string tar = make_tar({{"huge.bin", "0123456789"}}, false, true);
  tar[124] = static_cast<char>(0x80);
  for (int i = 125; i < 136; ++i) tar[i] = 0;
  tar[128] = 0x40;  // bytes 124..135 big-endian: 0x40 at 128 = 2^62
  std::fill(tar.begin() + 148, tar.begin() + 156, ' ');
  unsigned sum = 0;
  for (int i = 0; i < 512; ++i) sum += static_cast<unsigned char>(tar[i]);
  char chk[8];
  std::snprintf(chk, sizeof chk, "%06o", sum);
  std::copy(chk, chk + 7, tar.begin() + 148);  // six digits and a NUL, then the space
  write_file(dir / "huge.tar", tar);
  ArchiveReader r(dir / "huge.tar");
  ASSERT_TRUE(r.next());
  EXPECT_EQ(r.member().size, int64_t(1) << 62);
  Thrown t = thrown([&] { r.read_all(1 << 20); });
  EXPECT_EQ(t.kind, ErrorKind::kBadData);
  EXPECT_NE(t.message.find("4611686018427387904 bytes, more than the 1048576 bytes"),
            std::string::npos)
      << t.message;

  // A real member one byte over the cap.
  write_file(dir / "over.tar", make_tar({{"m.bin", std::string(4097, 'm')}}));
  ArchiveReader r2(dir / "over.tar");
  ASSERT_TRUE(r2.next());
  t = thrown([&] { r2.read_all(4096); });
  EXPECT_EQ(t.kind, ErrorKind::kBadData);
  EXPECT_NE(t.message.find("m.bin"), std::string::npos) << t.message;
  ArchiveReader r3(dir / "over.tar");
  ASSERT_TRUE(r3.next());
  EXPECT_EQ(r3.read_all(4097).size(), 4097u);
}

// ---------------------------------------------------------------------------------------------
// Paths and extraction

TEST(Archive, SafeMemberPath) {
  EXPECT_EQ(safe_member_path("a/b.txt", "x.tar"), "a/b.txt");
  EXPECT_EQ(safe_member_path("./a//b/./c/", "x.tar"), "a/b/c");
  EXPECT_EQ(safe_member_path("n01440764_10026.JPEG", "x.tar"), "n01440764_10026.JPEG");
  EXPECT_EQ(safe_member_path("..a/b..", "x.tar"), "..a/b..");
  EXPECT_EQ(safe_member_path("a/C:", "x.tar"), "a/C:");
  for (const std::string& bad : std::vector<std::string>{
           "", ".", "./", "/", "..", "../x", "/etc/x", "a/../../x", "a/..", "x/../y", "C:x", "C:/x",
           "c:", "C:\\x", "a\\..\\..\\x", "\\\\server\\share", std::string("a\0b", 3)}) {
    const Thrown t = thrown([&] { safe_member_path(bad, "x.tar"); });
    EXPECT_EQ(t.kind, ErrorKind::kBadData) << "'" << bad << "'";
    EXPECT_NE(t.message.find("x.tar"), std::string::npos);
    EXPECT_EQ(t.message.find('\n'), std::string::npos);
  }
  const Thrown t = thrown([&] { safe_member_path("../\nx", "x.tar"); });
  EXPECT_NE(t.message.find("../\\x0ax"), std::string::npos) << t.message;
}

TEST(Archive, ExtractsTarGzWithSubfolders) {
  TempDir dir;
  const mode_t old_umask = ::umask(022);
  write_file(dir / "a.tar.gz", make_tar(kSample, true));
  std::vector<std::pair<int64_t, int64_t>> progress;
  ExtractOptions opt;
  opt.progress = [&](int64_t done, int64_t total) { progress.emplace_back(done, total); };
  const ExtractSummary s = extract_archive(dir / "a.tar.gz", dir / "out/nested", opt);
  ::umask(old_umask);
  EXPECT_EQ(s.files, 4);
  EXPECT_EQ(s.directories, 1);
  EXPECT_EQ(s.bytes, 6 + 300000 + 1);
  const fs::path out = dir / "out/nested";
  EXPECT_EQ(listing(out),
            (std::vector<std::string>{"empty.txt", "sub/", "sub/deeper/", "sub/deeper/x.txt",
                                      "sub/inner.bin", "top.txt"}));
  EXPECT_EQ(read_file((out / "top.txt").string()), "hello\n");
  EXPECT_EQ(read_file((out / "sub/inner.bin").string()), kSample[2].data);
  EXPECT_EQ(read_file((out / "empty.txt").string()), "");
  struct stat st {};
  ASSERT_EQ(::stat((out / "top.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);  // the archive said 0777
  ASSERT_EQ(::stat((out / "sub/deeper").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back().first, progress.back().second);
  EXPECT_EQ(progress.back().second, static_cast<int64_t>(fs::file_size(dir / "a.tar.gz")));

  // Again over the same tree: files are replaced, nothing else appears.
  write_file((out / "top.txt").string(), "stale");
  extract_archive(dir / "a.tar.gz", out.string());
  EXPECT_EQ(read_file((out / "top.txt").string()), "hello\n");
  EXPECT_EQ(listing(out).size(), 6u);
}

TEST(Archive, UnsafeMembersAreRefusedAndNothingEscapes) {
  TempDir dir;
  const std::string escape = "/tmp/zoo-archive-escape-" + std::to_string(::getpid());
  struct Case {
    std::string what;
    std::vector<Member> members;
  };
  const std::vector<Case> cases = {
      {"dotdot", {{"ok.txt", "ok"}, {"../x", "evil"}}},
      {"absolute", {{"ok.txt", "ok"}, {escape, "evil"}}},
      {"deep dotdot", {{"ok.txt", "ok"}, {"a/../../x", "evil"}}},
      {"dotdot dir", {{"ok.txt", "ok"}, {"../d", "", 'd'}, {"../d/x", "evil"}}},
      {"symlink out", {{"ok.txt", "ok"}, {"link", "", 'l', ".."}, {"link/x", "evil"}}},
      {"absolute symlink", {{"ok.txt", "ok"}, {"link", "", 'l', "/tmp"}, {"link/x", "evil"}}},
      {"hard link", {{"ok.txt", "ok"}, {"hard", "", 'h', "/etc/passwd"}}},
      {"backslash", {{"ok.txt", "ok"}, {"..\\x", "evil"}}},
      {"temporary name", {{"ok.txt", "ok"}, {"sub/.zoo-part.y", "evil"}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    TempDir root;
    const std::string dest = root / "a/dest";
    fs::create_directories(dest);
    write_file(dir / "bad.tar", make_tar(c.members));
    const Thrown t = thrown([&] { extract_archive(dir / "bad.tar", dest); });
    EXPECT_EQ(t.kind, ErrorKind::kBadData) << t.message;
    EXPECT_NE(t.message.find("HINT:"), std::string::npos);
    // Nothing outside dest; inside, at most the good member.
    EXPECT_EQ(listing(root.path()).front(), "a/");
    for (const auto& p : listing(root.path())) {
      EXPECT_TRUE(p == "a/" || p.rfind("a/dest/", 0) == 0) << p;
    }
    for (const auto& p : listing(dest)) EXPECT_TRUE(p == "ok.txt") << p;
    EXPECT_FALSE(fs::exists(escape));
    EXPECT_FALSE(fs::exists(dir / "x"));
  }
  // Reading (not extracting) such archives is fine: the reader reports, the caller decides.
  ArchiveReader r(dir / "bad.tar");
  EXPECT_TRUE(r.next());
}

TEST(Archive, NeverWritesThroughASymlinkInTheDestination) {
  TempDir dir;
  const std::string dest = dir / "dest", outside = dir / "outside";
  fs::create_directories(dest);
  fs::create_directories(outside);
  fs::create_symlink(outside, dest + "/sub");
  write_file(dir / "a.tar", make_tar({{"sub/x.txt", "x"}}));
  const Thrown t = thrown([&] { extract_archive(dir / "a.tar", dest); });
  EXPECT_EQ(t.kind, ErrorKind::kIO) << t.message;
  EXPECT_NE(t.message.find("symbolic link"), std::string::npos) << t.message;
  EXPECT_TRUE(fs::is_empty(outside));
  // A symlink in the way of a file is replaced, not followed.
  fs::create_symlink(outside + "/target", dest + "/f.txt");
  write_file(dir / "b.tar", make_tar({{"f.txt", "f"}}));
  extract_archive(dir / "b.tar", dest);
  EXPECT_FALSE(fs::is_symlink(dest + "/f.txt"));
  EXPECT_EQ(read_file(dest + "/f.txt"), "f");
  EXPECT_TRUE(fs::is_empty(outside));
}

TEST(Archive, WriteFailureRemovesTheTemporaryAndIsIoError) {
  TempDir dir;
  const std::string small = noise(1000, 8), big = noise(1 << 20, 9);
  write_file(dir / "a.tar", make_tar({{"small.bin", small}, {"d/big.bin", big}}));
  const std::string dest = dir / "dest";
  // A file size limit (SIGXFSZ ignored: write fails with EFBIG) stands in for a full disk, in a
  // child process so that the limit binds nothing else.
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    rlimit lim{64 << 10, 64 << 10};
    ::setrlimit(RLIMIT_FSIZE, &lim);
    int code = 10;
    try {
      extract_archive(dir / "a.tar", dest);
      code = 11;
    } catch (const Error& e) {
      const std::string m = e.what();
      code = e.kind() != ErrorKind::kIO                          ? 12
             : m.find(dest + "/d/big.bin") == std::string::npos  ? 13
             : m.find(std::strerror(EFBIG)) == std::string::npos ? 14
                                                                 : 0;
    } catch (...) {
      code = 15;
    }
    ::_exit(code);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(read_file(dest + "/small.bin"), small);
  EXPECT_FALSE(fs::exists(dest + "/d/big.bin"));
  EXPECT_FALSE(has_partial_files(dest));

  // A read-only destination (only meaningful when not root: root writes anyway).
  if (::geteuid() != 0) {
    const std::string ro = dir / "ro";
    fs::create_directories(ro);
    fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec);
    const Thrown t = thrown([&] { extract_archive(dir / "a.tar", ro); });
    EXPECT_EQ(t.kind, ErrorKind::kIO) << t.message;
    fs::permissions(ro, fs::perms::owner_all);
    EXPECT_TRUE(fs::is_empty(ro));
  }
}

TEST(Archive, PartialFileHelpers) {
  TempDir dir;
  EXPECT_EQ(partial_name("x.JPEG"), ".zoo-part.x.JPEG");
  const std::string long_name(250, 'n');
  EXPECT_LE(partial_name(long_name).size(), 255u);
  EXPECT_TRUE(is_partial_name(partial_name(long_name)));
  EXPECT_FALSE(is_partial_name("x.zoo-part."));
  fs::create_directories(dir / "a/b");
  write_file(dir / "a/.zoo-part.1", "");
  write_file(dir / "a/b/.zoo-part.2", "");
  write_file(dir / "a/b/keep", "");
  EXPECT_EQ(remove_partial_files(dir / "a"), 2);
  EXPECT_EQ(listing(dir / "a"), (std::vector<std::string>{"b/", "b/keep"}));
  EXPECT_EQ(remove_partial_files(dir / "missing"), 0);
}

// ---------------------------------------------------------------------------------------------
// ImageNet

// The fixture archives and torchvision's tree from them, made once for all ImageNet tests.
class ImagenetPrepare : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string script =
        std::string(ZOO_SOURCE_DIR) + "/scripts/fixtures/imagenet_archives.py";
    if (!fs::exists(script)) {
      skip_reason_ = "scripts/fixtures/imagenet_archives.py is not there";
      return;
    }
    if (std::system("/usr/bin/python3 -c 'import scipy, torchvision' >/dev/null 2>&1") != 0) {
      skip_reason_ = "/usr/bin/python3 lacks scipy or torchvision";
      return;
    }
    fixture_ = new TempDir();
    const std::string cmd = "/usr/bin/python3 " + script + " " + fixture_->path().string() + " >" +
                            (*fixture_ / "log") + " 2>&1";
    if (std::system(cmd.c_str()) != 0) {
      failure_ = "the fixture script failed: " + read_file(*fixture_ / "log");
    }
  }
  static void TearDownTestSuite() {
    delete fixture_;
    fixture_ = nullptr;
  }
  void SetUp() override {
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
    ASSERT_TRUE(failure_.empty()) << failure_;
  }

  static ImagenetArchives archives() {
    ImagenetArchives a;
    a.train_tar = *fixture_ / "archives/ILSVRC2012_img_train.tar";
    a.val_tar = *fixture_ / "archives/ILSVRC2012_img_val.tar";
    a.devkit = *fixture_ / "archives/ILSVRC2012_devkit_t12.tar.gz";
    return a;
  }
  static std::map<std::string, std::string> expected() {
    return tree(fixture_->path() / "torchvision");
  }
  // The prepared tree (train/ and val/ only).
  static std::map<std::string, std::string> prepared(const std::string& out) {
    std::map<std::string, std::string> t;
    for (const char* split : {"train", "val"}) {
      for (auto& [k, v] : tree(fs::path(out) / split)) t[std::string(split) + "/" + k] = v;
    }
    return t;
  }
  static void expect_same_tree(const std::string& out) {
    const auto want = expected(), got = prepared(out);
    ASSERT_FALSE(want.empty());
    EXPECT_EQ(got.size(), want.size());
    for (const auto& [path, bytes] : want) {
      const auto it = got.find(path);
      if (it == got.end()) {
        ADD_FAILURE() << "missing " << path;
      } else if (it->second != bytes) {
        ADD_FAILURE() << "different bytes in " << path;
      }
    }
    for (const auto& [path, bytes] : got) {
      if (want.count(path) == 0) ADD_FAILURE() << "unexpected " << path;
    }
    // Same directories too (torchvision makes a val folder only for classes with files).
    auto dirs = [](const fs::path& root) {
      std::vector<std::string> d;
      for (const auto& p : listing(root)) {
        if (!p.empty() && p.back() == '/') d.push_back(p);
      }
      return d;
    };
    for (const char* split : {"train", "val"}) {
      EXPECT_EQ(dirs(fs::path(out) / split), dirs(fixture_->path() / "torchvision" / split))
          << split;
    }
    EXPECT_FALSE(has_partial_files(out));
  }

  // Members of an archive (path, bytes), in archive order.
  static std::vector<Member> members_of(const std::string& path) {
    std::vector<Member> out;
    ArchiveReader r(path);
    while (r.next()) {
      if (r.member().type != MemberType::kFile) continue;
      out.push_back({r.member().path, r.read_string(int64_t(1) << 30)});
    }
    return out;
  }

  static TempDir* fixture_;
  static std::string skip_reason_;
  static std::string failure_;
};
TempDir* ImagenetPrepare::fixture_ = nullptr;
std::string ImagenetPrepare::skip_reason_;
std::string ImagenetPrepare::failure_;

TEST_F(ImagenetPrepare, MatchesTorchvisionFileByFile) {
  TempDir out;
  std::vector<PrepareProgress> events;
  PrepareOptions opt;
  opt.progress = [&](const PrepareProgress& p) { events.push_back(p); };
  const PrepareSummary s = prepare_imagenet(archives(), out / "imagenet", opt);
  expect_same_tree(out / "imagenet");
  const auto want = expected();
  int64_t train = 0, val = 0, bytes = 0;
  for (const auto& [p, b] : want) {
    (p.rfind("train/", 0) == 0 ? train : val) += 1;
    bytes += static_cast<int64_t>(b.size());
  }
  EXPECT_EQ(s.train_files, train);
  EXPECT_EQ(s.val_files, val);
  EXPECT_EQ(s.files_written, train + val);
  EXPECT_EQ(s.bytes_written, bytes);
  EXPECT_EQ(s.units_skipped, 0);
  const auto classes =
      std::distance(fs::directory_iterator(out / "imagenet/train"), fs::directory_iterator());
  EXPECT_EQ(s.classes, classes);
  // One event per unit (val first), counted within its split.
  std::vector<PrepareProgress> done;
  for (const auto& e : events) {
    if (e.unit_done) done.push_back(e);
  }
  ASSERT_EQ(static_cast<int64_t>(done.size()), 1 + classes);
  EXPECT_EQ(done[0].split, "val");
  EXPECT_EQ(done[0].units_done, 1);
  EXPECT_EQ(done.back().split, "train");
  EXPECT_EQ(done.back().units_done, classes);
  EXPECT_EQ(done.back().units_total, classes);
  EXPECT_EQ(done.back().archive_position, done.back().archive_size);
  EXPECT_EQ(done.back().files_written, train + val);

  // A second run finds everything done and changes nothing.
  const PrepareSummary again = prepare_imagenet(archives(), out / "imagenet");
  EXPECT_EQ(again.units_skipped, 1 + classes);
  EXPECT_EQ(again.files_written, 0);
  EXPECT_EQ(again.train_files, train);
  EXPECT_EQ(again.val_files, val);
  expect_same_tree(out / "imagenet");

  // One split at a time works too.
  TempDir out2;
  ImagenetArchives only_val = archives();
  only_val.train_tar.clear();
  prepare_imagenet(only_val, out2 / "i");
  EXPECT_FALSE(fs::exists(out2 / "i/train"));
  ImagenetArchives only_train = archives();
  only_train.val_tar.clear();
  only_train.devkit.clear();  // without the devkit, names are checked by their form only
  prepare_imagenet(only_train, out2 / "i");
  expect_same_tree(out2 / "i");
}

TEST_F(ImagenetPrepare, ResumesAfterInterruptions) {
  TempDir out;
  const std::string o = out / "imagenet";
  // 1. Stopped by an exception from the progress callback after the second unit.
  PrepareOptions stop;
  int units = 0;
  stop.progress = [&](const PrepareProgress& p) {
    if (p.unit_done && ++units == 2) throw Error(ErrorKind::kInterrupted, "stopped", SIGINT);
  };
  EXPECT_THROW(prepare_imagenet(archives(), o, stop), std::runtime_error);
  const PrepareSummary s1 = prepare_imagenet(archives(), o);
  EXPECT_EQ(s1.units_skipped, 2);
  expect_same_tree(o);

  // 2. Killed (SIGKILL, no unwinding) in the middle of the train split, with a temporary file
  // of a half-written image left behind and the state file's last line torn.
  fs::remove_all(o);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    PrepareOptions kill;
    int n = 0;
    kill.progress = [&](const PrepareProgress& p) {
      if (p.unit_done && ++n == 3) ::kill(::getpid(), SIGKILL);
    };
    try {
      prepare_imagenet(archives(), o, kill);
    } catch (...) {
    }
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status));
  int planted = 0;
  for (const auto& e : fs::recursive_directory_iterator(o)) {
    if (e.is_directory()) {
      write_file((e.path() / ".zoo-part.x.JPEG").string(), "half");
      ++planted;
    }
  }
  ASSERT_GT(planted, 3);
  { std::ofstream(o + "/.zoo-prepare", std::ios::app) << "train n0"; }
  const PrepareSummary s2 = prepare_imagenet(archives(), o);
  EXPECT_EQ(s2.units_skipped, 3);
  expect_same_tree(o);
  const std::string state = read_file(o + "/.zoo-prepare");
  EXPECT_EQ(state.back(), '\n');
  EXPECT_EQ(state.find("train n0\n"), std::string::npos);

  // 3. A class's files deleted: its count no longer matches, so it is done again; a deleted
  // state line redoes its unit.
  std::string first_class;
  for (const auto& e : fs::directory_iterator(o + "/train")) {
    first_class = e.path().filename().string();
    break;
  }
  for (const auto& e : fs::directory_iterator(o + "/train/" + first_class)) fs::remove(e.path());
  std::string lines = read_file(o + "/.zoo-prepare"), kept;
  for (size_t start = 0, end; (end = lines.find('\n', start)) != std::string::npos;
       start = end + 1) {
    const std::string line = lines.substr(start, end - start);
    if (line.rfind("val ", 0) != 0) kept += line + "\n";
  }
  write_file(o + "/.zoo-prepare", kept);
  fs::remove_all(o + "/val");
  const PrepareSummary s3 = prepare_imagenet(archives(), o);
  EXPECT_GT(s3.files_written, 0);
  expect_same_tree(o);
}

TEST_F(ImagenetPrepare, RefusesMismatchedOrMisnamedArchives) {
  TempDir dir;
  const ImagenetArchives good = archives();

  // A val archive one file short of the ground truth.
  std::vector<Member> val = members_of(good.val_tar);
  ASSERT_GT(val.size(), 1u);
  const size_t n = val.size();
  val.pop_back();
  write_file(dir / "val.tar", make_tar(val));
  ImagenetArchives a = good;
  a.train_tar.clear();
  a.val_tar = dir / "val.tar";
  Thrown t = thrown([&] { prepare_imagenet(a, dir / "out1"); });
  EXPECT_EQ(t.kind, ErrorKind::kBadData);
  EXPECT_NE(t.message.find(std::to_string(n - 1) + " validation files"), std::string::npos)
      << t.message;
  EXPECT_NE(t.message.find("has " + std::to_string(n) + " lines"), std::string::npos) << t.message;

  // A val archive with a file in a folder, or a link.
  val = members_of(good.val_tar);
  val.push_back({"sub/extra.JPEG", "x"});
  write_file(dir / "val2.tar", make_tar(val));
  a.val_tar = dir / "val2.tar";
  EXPECT_EQ(thrown([&] { prepare_imagenet(a, dir / "out2"); }).kind, ErrorKind::kBadData);

  // Train archives whose inner archive is not a leaf WNID's, or is not WNID.tar at all.
  std::vector<Member> train = members_of(good.train_tar);
  ASSERT_FALSE(train.empty());
  a = good;
  a.val_tar.clear();
  for (const std::string& bad :
       std::vector<std::string>{"n99999999.tar", "notes.txt", "x/" + train[0].path}) {
    SCOPED_TRACE(bad);
    std::vector<Member> m = train;
    m.push_back({bad, train[0].data});
    write_file(dir / "train.tar", make_tar(m));
    a.train_tar = dir / "train.tar";
    t = thrown([&] { prepare_imagenet(a, dir / "out3"); });
    EXPECT_EQ(t.kind, ErrorKind::kBadData);
    EXPECT_NE(t.message.find(bad), std::string::npos) << t.message;
    EXPECT_NE(t.message.find("HINT:"), std::string::npos) << t.message;
  }
  // A train archive cut exactly between two class archives reads as a complete tar: the
  // devkit's class count tells.
  {
    std::vector<Member> m = train;
    m.pop_back();
    write_file(dir / "short.tar", make_tar(m));
    a.train_tar = dir / "short.tar";
    t = thrown([&] { prepare_imagenet(a, dir / "out3b"); });
    EXPECT_EQ(t.kind, ErrorKind::kBadData);
    EXPECT_NE(
        t.message.find("holds " + std::to_string(train.size() - 1) +
                       " class archives but the devkit lists " + std::to_string(train.size())),
        std::string::npos)
        << t.message;
  }
  // An inner member that escapes its class folder.
  std::vector<Member> m = train;
  m[0].data = make_tar({{"../escaped.JPEG", "x"}});
  write_file(dir / "train.tar", make_tar(m));
  a.train_tar = dir / "train.tar";
  t = thrown([&] { prepare_imagenet(a, dir / "out4"); });
  EXPECT_EQ(t.kind, ErrorKind::kBadData);
  EXPECT_NE(t.message.find(":" + train[0].path), std::string::npos) << t.message;
  EXPECT_FALSE(fs::exists(dir / "out4/train/escaped.JPEG"));
  EXPECT_FALSE(fs::exists(dir / "out4/escaped.JPEG"));

  // A truncated train archive: a data_error; classes before the cut are kept for a rerun.
  const std::string whole = read_file(good.train_tar);
  write_file(dir / "cut.tar", whole.substr(0, whole.size() * 2 / 3 + 100));
  a.train_tar = dir / "cut.tar";
  t = thrown([&] { prepare_imagenet(a, dir / "out5"); });
  EXPECT_EQ(t.kind, ErrorKind::kBadData);
  EXPECT_NE(t.message.find("download it again"), std::string::npos) << t.message;

  // Another prepare holding the output directory.
  fs::create_directories(dir / "locked");
  {
    const int fd = ::open((dir / "locked").c_str(), O_RDONLY | O_DIRECTORY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::flock(fd, LOCK_EX), 0);
    t = thrown([&] { prepare_imagenet(good, dir / "locked"); });
    EXPECT_EQ(t.kind, ErrorKind::kIO);
    EXPECT_NE(t.message.find("another process"), std::string::npos) << t.message;
    ::close(fd);
  }
  // Missing inputs and missing devkit.
  a = good;
  a.val_tar = dir / "nope.tar";
  EXPECT_EQ(thrown([&] { prepare_imagenet(a, dir / "out6"); }).kind, ErrorKind::kMissingInput);
  EXPECT_FALSE(fs::exists(dir / "out6"));
  a = good;
  a.devkit.clear();
  EXPECT_EQ(thrown([&] { prepare_imagenet(a, dir / "out7"); }).kind, ErrorKind::kUsage);
  EXPECT_EQ(thrown([&] { prepare_imagenet({}, dir / "out8"); }).kind, ErrorKind::kUsage);
}

}  // namespace
}  // namespace zoo
