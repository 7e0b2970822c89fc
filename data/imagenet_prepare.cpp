// ImageNet preparation from the official archives; see imagenet_prepare.h. Reading goes through
// ArchiveReader (the train tar's inner WNID.tar archives are read nested), writing through
// DirectoryWriter (temporary name, rename). The state file holds one line per finished unit:
//
//   zoo-prepare 1
//   val <files> <bytes> <val archive size>
//   train <wnid> <files> <bytes> <train archive size>
//
// A line whose archive size differs from the archive given now does not count, so a different
// archive is prepared again. A torn last line (kill -9 during the append) is dropped and the
// file rewritten before anything is appended.
#include "data/imagenet_prepare.h"

#include "common/atomic_file.h"
#include "common/error.h"
#include "data/archive.h"
#include "data/imagenet_devkit.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <unordered_map>
#include <vector>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace zoo {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kDevkitCap = 64 << 20;  // meta.mat is ~2 MB, the ground truth ~250 KB
constexpr int64_t kTickEvery = 256;       // files between progress ticks
const char* const kDevkitMeta = "ILSVRC2012_devkit_t12/data/meta.mat";
const char* const kDevkitTruth =
    "ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt";
const char* const kStateHeader = "zoo-prepare 1";

std::string damaged_hint() { return "HINT: the file is damaged or incomplete: download it again"; }

bool is_wnid(const std::string& s) {
  if (s.size() != 9 || s[0] != 'n') return false;
  return std::all_of(s.begin() + 1, s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int64_t file_size_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : -1;
}

void require_file(const std::string& path, const std::string& what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw missing_error(what + " not found: " + path +
                        "; HINT: check the path (ImageNet's archives come from image-net.org "
                        "after registration)");
  }
  if (!S_ISREG(st.st_mode)) {
    throw missing_error(what + " " + path + " is not a file" + (S_ISDIR(st.st_mode) ? " but a folder" : "") +
                        "; HINT: give the archive itself, or the folder holding the archives as --from");
  }
}

// An archive that cannot be read, or holds nothing, is refused before anything is written:
// its format and first member's header are read here.
void require_archive(const std::string& path, const std::string& what) {
  require_file(path, what);
  ArchiveReader reader(path);
  if (!reader.next()) {
    throw data_error(what + " " + printable(path) + " holds no files; HINT: the download is incomplete: "
                     "fetch it again from image-net.org");
  }
}

// Regular files under dir, after removing zoo's temporary files from it (a killed run's); -1
// when dir cannot be listed.
int64_t tidy_and_count_files(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  int64_t n = 0;
  std::vector<fs::path> partial;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
    if (is_partial_name(it->path().filename().string())) {
      partial.push_back(it->path());
    } else {
      ++n;
    }
  }
  if (ec) return -1;
  for (const auto& p : partial) fs::remove(p, ec);
  return n;
}

// ---------------------------------------------------------------------------------------------
// The devkit

struct Devkit {
  std::vector<ImagenetSynset> leaves;
  std::vector<std::string> val_wnids;  // per ground-truth line
};

Devkit read_devkit(const std::string& path) {
  ArchiveReader reader(path);
  std::vector<uint8_t> meta;
  std::string truth;
  bool have_meta = false, have_truth = false;
  while (reader.next()) {
    const ArchiveMember& m = reader.member();
    if (m.type != MemberType::kFile) continue;
    std::string rel;
    try {
      rel = safe_member_path(m.path, path);
    } catch (const Error&) {
      continue;  // never extracted: an odd name is just not one of ours
    }
    if (rel == kDevkitMeta) {
      meta = reader.read_all(kDevkitCap);
      have_meta = true;
    } else if (rel == kDevkitTruth) {
      truth = reader.read_string(kDevkitCap);
      have_truth = true;
    }
  }
  for (const auto& [found, member] :
       {std::pair<bool, const char*>{have_meta, kDevkitMeta}, {have_truth, kDevkitTruth}}) {
    if (!found) {
      throw data_error("devkit archive " + path + " holds no " + member +
                       "; HINT: give ILSVRC2012_devkit_t12.tar.gz, the devkit of tasks 1 and 2 "
                       "(download it again if that is what this is)");
    }
  }
  Devkit d;
  d.leaves = parse_imagenet_meta(meta, path + ":" + kDevkitMeta);
  const std::string truth_name = path + ":" + kDevkitTruth;
  d.val_wnids = ground_truth_wnids(d.leaves, parse_ground_truth(truth, truth_name), truth_name);
  return d;
}

// ---------------------------------------------------------------------------------------------
// The state file and the lock

struct UnitRecord {
  int64_t files = 0;
  int64_t bytes = 0;
  int64_t archive_size = -1;
};

class State {
 public:
  explicit State(const std::string& out_dir) : path_(out_dir + "/" + kImagenetPrepareState) {
    lock_fd_ = ::open(out_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (lock_fd_ < 0) {
      throw io_error("cannot open the output directory " + out_dir + ": " + std::strerror(errno) +
                     "; HINT: check its permissions");
    }
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(lock_fd_);
      if (err == EWOULDBLOCK) {
        throw io_error("another process is preparing ImageNet in " + out_dir +
                       "; HINT: wait for it to finish or stop it, then run again");
      }
      throw io_error("cannot lock the output directory " + out_dir + ": " + std::strerror(err) +
                     "; HINT: check the file system");
    }
    // AtomicFile leftovers of a killed rewrite of the state file.
    const std::string leftover = std::string(".") + kImagenetPrepareState + ".tmp.";
    std::error_code ec;
    for (fs::directory_iterator it(out_dir, ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
      if (it->path().filename().string().rfind(leftover, 0) == 0) fs::remove(it->path(), ec);
    }
    load();
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) fail("cannot open it", errno);
    struct stat st {};
    if (::fstat(fd_, &st) == 0 && st.st_size == 0) append(std::string(kStateHeader) + "\n");
  }
  ~State() {
    if (fd_ >= 0) ::close(fd_);
    if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the lock
  }
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  const UnitRecord* find(const std::string& key, int64_t archive_size) const {
    const auto it = done_.find(key);
    if (it == done_.end() || it->second.archive_size != archive_size) return nullptr;
    return &it->second;
  }

  void record(const std::string& key, const UnitRecord& r) {
    append(key + " " + std::to_string(r.files) + " " + std::to_string(r.bytes) + " " +
           std::to_string(r.archive_size) + "\n");
    done_[key] = r;
  }

 private:
  [[noreturn]] void fail(const std::string& what, int err) const {
    throw io_error("cannot write the state file " + path_ + ": " + what + ": " +
                   std::strerror(err) +
                   "; HINT: check the permissions and free space of the output directory");
  }

  void append(const std::string& line) {
    const char* p = line.data();
    size_t left = line.size();
    while (left > 0) {
      const ssize_t n = ::write(fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        fail("write failed", errno);
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
    if (::fsync(fd_) != 0) fail("fsync failed", errno);
  }

  // Reads the finished units; rewrites the file when its last line is torn or it is not ours.
  void load() {
    std::error_code ec;
    if (!fs::exists(path_, ec)) return;
    std::string text;
    {
      const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) fail("cannot read it", errno);
      char buf[1 << 16];
      for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        text.append(buf, static_cast<size_t>(n));
      }
      ::close(fd);
    }
    std::string kept;
    bool rewrite = false;
    const size_t header_end = text.find('\n');
    if (text.empty()) return;
    if (header_end == std::string::npos || text.substr(0, header_end) != kStateHeader) {
      rewrite = true;  // not a state file we can read: start over
      kept = std::string(kStateHeader) + "\n";
    } else {
      kept = text.substr(0, header_end + 1);
      size_t start = header_end + 1;
      while (start < text.size()) {
        const size_t end = text.find('\n', start);
        if (end == std::string::npos) {
          rewrite = true;  // torn last line
          break;
        }
        const std::string line = text.substr(start, end - start);
        start = end + 1;
        std::istringstream in(line);
        std::string split, wnid;
        UnitRecord r;
        in >> split;
        if (split == "train") in >> wnid;
        in >> r.files >> r.bytes >> r.archive_size;
        std::string extra;
        if (!in || (in >> extra) || (split == "train" && !is_wnid(wnid)) ||
            (split != "train" && split != "val")) {
          continue;  // not ours: ignored (and kept)
        }
        done_[split == "train" ? "train " + wnid : "val"] = r;
        kept += line + "\n";
      }
    }
    if (rewrite) {
      AtomicFile f(path_);
      f.write(kept.data(), kept.size());
      f.commit();
    }
  }

  std::string path_;
  int lock_fd_ = -1;
  int fd_ = -1;
  std::map<std::string, UnitRecord> done_;
};

// ---------------------------------------------------------------------------------------------
// The splits

struct Run {
  const PrepareOptions& options;
  PrepareSummary summary;
  PrepareProgress progress;

  void report(int64_t position, int64_t size) {
    if (!options.progress) return;
    progress.files_written = summary.files_written;
    progress.bytes_written = summary.bytes_written;
    progress.archive_position = position;
    progress.archive_size = size;
    options.progress(progress);
  }

  void unit_done(const std::string& unit, bool skipped, int64_t position, int64_t size) {
    progress.unit = unit;
    progress.unit_done = true;
    progress.unit_skipped = skipped;
    ++progress.units_done;
    report(position, size);
  }

  void file_done(const std::string& unit, const ArchiveReader& reader) {
    ++summary.files_written;
    if (summary.files_written % kTickEvery == 0) {
      progress.unit = unit;
      progress.unit_done = false;
      progress.unit_skipped = false;
      report(reader.file_position(), reader.file_size());
    }
  }
};

std::string member_kind(MemberType t) {
  switch (t) {
    case MemberType::kFile: return "a file";
    case MemberType::kDirectory: return "a directory";
    case MemberType::kSymlink: return "a symbolic link";
    case MemberType::kHardlink: return "a hard link";
    case MemberType::kOther: return "a special file";
  }
  return "a special file";
}

// A directory member that names nothing ("./") is harmless; the caller decides about others.
bool is_root_directory(const ArchiveMember& m) {
  if (m.type != MemberType::kDirectory) return false;
  return std::all_of(m.path.begin(), m.path.end(), [](char c) { return c == '.' || c == '/'; }) &&
         m.path.find("..") == std::string::npos;
}

void prepare_val(const std::string& val_tar, const std::vector<std::string>& truth,
                 const std::string& out_dir, State& state, Run& run) {
  run.progress = PrepareProgress{};
  run.progress.split = "val";
  run.progress.units_total = 1;
  const std::string val_dir = out_dir + "/val";
  const int64_t archive_size = file_size_of(val_tar);
  if (const UnitRecord* r = state.find("val", archive_size)) {
    if (tidy_and_count_files(val_dir) >= r->files) {
      run.summary.val_files = r->files;
      ++run.summary.units_skipped;
      run.unit_done("val", true, archive_size, archive_size);
      return;
    }
  }
  remove_partial_files(val_dir);

  // Pass 1: the names, data skipped (seeks on the uncompressed tar).
  std::vector<std::string> names;
  {
    ArchiveReader reader(val_tar);
    while (reader.next()) {
      const ArchiveMember& m = reader.member();
      if (is_root_directory(m)) continue;
      if (m.type != MemberType::kFile) {
        throw data_error("archive " + val_tar + ": member " + printable(m.path) + " is " +
                         member_kind(m.type) +
                         "; the validation archive holds image files only, "
                         "side by side; HINT: give ILSVRC2012_img_val.tar");
      }
      std::string rel = safe_member_path(m.path, val_tar);
      if (rel.find('/') != std::string::npos) {
        throw data_error("archive " + val_tar + ": member " + printable(m.path) +
                         " is in a folder; the validation archive holds image files only, side "
                         "by side; HINT: give ILSVRC2012_img_val.tar");
      }
      names.push_back(std::move(rel));
      reader.skip();
    }
  }
  std::sort(names.begin(), names.end());  // torchvision: sorted(os.listdir(val_root))
  const auto dup = std::adjacent_find(names.begin(), names.end());
  if (dup != names.end()) {
    throw data_error("archive " + val_tar + " holds " + printable(*dup) + " twice; " +
                     damaged_hint());
  }
  if (names.size() != truth.size()) {
    throw data_error("archive " + val_tar + " holds " + std::to_string(names.size()) +
                     " validation files but the devkit's ground truth has " +
                     std::to_string(truth.size()) +
                     " lines; HINT: give the ILSVRC2012_img_val.tar and devkit of the same "
                     "release (or download the incomplete one again)");
  }
  std::unordered_map<std::string, const std::string*> wnid_of;
  wnid_of.reserve(names.size());
  for (size_t i = 0; i < names.size(); ++i) wnid_of.emplace(names[i], &truth[i]);

  // Pass 2: the data, each file into its class folder.
  DirectoryWriter writer(val_dir);
  ArchiveReader reader(val_tar);
  UnitRecord rec;
  rec.archive_size = archive_size;
  std::set<std::string> written;
  while (reader.next()) {
    const ArchiveMember& m = reader.member();
    if (m.type != MemberType::kFile) continue;  // checked in pass 1
    const std::string rel = safe_member_path(m.path, val_tar);
    const auto it = wnid_of.find(rel);
    if (it == wnid_of.end()) {
      throw data_error("archive " + val_tar + " changed while it was read (member " +
                       printable(rel) +
                       " is new); HINT: let whatever writes it finish, then run again");
    }
    const int64_t b =
        writer.write_member(reader, *it->second + "/" + rel, run.options.fsync_each_file);
    rec.bytes += b;
    run.summary.bytes_written += b;
    written.insert(rel);
    run.file_done("val", reader);
  }
  if (written.size() != names.size()) {
    throw data_error("archive " + val_tar + " changed while it was read (" +
                     std::to_string(names.size()) + " files, then " +
                     std::to_string(written.size()) +
                     "); HINT: let whatever writes it finish, then run again");
  }
  writer.sync();
  rec.files = static_cast<int64_t>(written.size());
  state.record("val", rec);
  run.summary.val_files = rec.files;
  run.unit_done("val", false, reader.file_position(), reader.file_size());
}

void prepare_train(const std::string& train_tar, const Devkit* devkit, const std::string& out_dir,
                   State& state, Run& run) {
  run.progress = PrepareProgress{};
  run.progress.split = "train";
  run.progress.units_total = devkit != nullptr ? static_cast<int64_t>(devkit->leaves.size()) : 0;
  const std::string train_dir = out_dir + "/train";
  const int64_t archive_size = file_size_of(train_tar);
  std::set<std::string> leaves;
  if (devkit != nullptr) {
    for (const auto& s : devkit->leaves) leaves.insert(s.wnid);
  }
  const std::string expected =
      devkit != nullptr
          ? "<WNID>.tar for one of the devkit's " + std::to_string(leaves.size()) + " class WNIDs"
          : "<WNID>.tar with a WNID of the form n01440764";
  auto refuse = [&](const std::string& member, const std::string& why) {
    return data_error("archive " + printable(train_tar) + ": member " + printable(member) + " " +
                      why + "; the training archive holds one " + expected +
                      " per class; HINT: give ILSVRC2012_img_train.tar" +
                      (devkit != nullptr ? " and the devkit of the same release" : ""));
  };

  DirectoryWriter writer(train_dir);
  {
    std::error_code ec;  // class folders are tidied when reached; this is the level above them
    for (fs::directory_iterator it(train_dir, ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
      if (is_partial_name(it->path().filename().string())) fs::remove(it->path(), ec);
    }
  }
  ArchiveReader outer(train_tar);
  std::set<std::string> seen;
  while (outer.next()) {
    const ArchiveMember& m = outer.member();
    if (is_root_directory(m)) continue;
    if (m.type != MemberType::kFile) throw refuse(m.path, "is " + member_kind(m.type));
    const std::string name = safe_member_path(m.path, train_tar);
    const std::string suffix = ".tar";
    if (name.find('/') != std::string::npos || name.size() <= suffix.size() ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
      throw refuse(name, "is not a class archive");
    }
    const std::string wnid = name.substr(0, name.size() - suffix.size());
    if (devkit != nullptr ? leaves.count(wnid) == 0 : !is_wnid(wnid)) {
      throw refuse(name, "is not named " + expected);
    }
    if (!seen.insert(wnid).second) throw refuse(name, "appears twice");
    ++run.summary.classes;

    const std::string key = "train " + wnid;
    const std::string class_dir = train_dir + "/" + wnid;
    if (const UnitRecord* r = state.find(key, archive_size)) {
      if (tidy_and_count_files(class_dir) >= r->files) {
        outer.skip();
        run.summary.train_files += r->files;
        ++run.summary.units_skipped;
        run.unit_done(wnid, true, outer.file_position(), outer.file_size());
        continue;
      }
    }
    remove_partial_files(class_dir);
    writer.make_dirs(wnid);  // torchvision makes the folder even for an empty class archive
    UnitRecord rec;
    rec.archive_size = archive_size;
    std::set<std::string> written;
    {
      ArchiveReader inner = ArchiveReader::nested(outer);
      while (inner.next()) {
        const ArchiveMember& im = inner.member();
        if (im.type == MemberType::kDirectory) {
          if (is_root_directory(im)) continue;
          writer.make_dirs(wnid + "/" + safe_member_path(im.path, inner.name()));
          continue;
        }
        if (im.type != MemberType::kFile) {
          throw data_error("archive " + printable(inner.name()) + ": member " + printable(im.path) +
                           " is " + member_kind(im.type) +
                           "; zoo extracts image files only and creates "
                           "no links; HINT: give ILSVRC2012_img_train.tar");
        }
        const std::string rel = safe_member_path(im.path, inner.name());
        const int64_t b = writer.write_member(inner, wnid + "/" + rel, run.options.fsync_each_file);
        rec.bytes += b;
        run.summary.bytes_written += b;
        written.insert(rel);
        run.file_done(wnid, outer);
      }
    }
    writer.sync();
    rec.files = static_cast<int64_t>(written.size());
    state.record(key, rec);
    run.summary.train_files += rec.files;
    run.unit_done(wnid, false, outer.file_position(), outer.file_size());
  }
  if (seen.empty()) {
    throw data_error("archive " + train_tar + " holds no class archives (one " + expected +
                     " per class); " + damaged_hint());
  }
  if (devkit != nullptr && seen.size() != leaves.size()) {
    std::string missing;
    for (const auto& w : leaves) {
      if (seen.count(w) == 0) {
        missing = w;
        break;
      }
    }
    throw data_error("archive " + train_tar + " holds " + std::to_string(seen.size()) +
                     " class archives but the devkit lists " + std::to_string(leaves.size()) +
                     " classes (" + missing + ".tar is missing; the classes found are "
                     "prepared and a rerun skips them); " + damaged_hint());
  }
}

}  // namespace

PrepareSummary prepare_imagenet(const ImagenetArchives& archives, const std::string& out_dir,
                                const PrepareOptions& options) {
  if (archives.train_tar.empty() && archives.val_tar.empty()) {
    throw usage_error(
        "nothing to prepare: no training or validation archive given; HINT: give "
        "ILSVRC2012_img_train.tar and/or ILSVRC2012_img_val.tar");
  }
  if (!archives.val_tar.empty() && archives.devkit.empty()) {
    throw usage_error(
        "the validation split needs the devkit (its ground truth gives each "
        "image's class); HINT: give ILSVRC2012_devkit_t12.tar.gz too");
  }
  if (out_dir.empty()) {
    throw usage_error("no output directory given; HINT: give the folder to prepare ImageNet in");
  }
  // Every input is checked before hours of work start.
  if (!archives.devkit.empty()) require_file(archives.devkit, "ImageNet devkit archive");
  if (!archives.val_tar.empty()) require_archive(archives.val_tar, "ImageNet validation archive");
  if (!archives.train_tar.empty()) require_archive(archives.train_tar, "ImageNet training archive");

  std::optional<Devkit> devkit;
  if (!archives.devkit.empty()) devkit = read_devkit(archives.devkit);

  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) {
    throw io_error("cannot create the output directory " + out_dir + ": " + ec.message() +
                   "; HINT: check the path and its permissions");
  }
  State state(out_dir);
  Run run{options, {}, {}};
  if (!archives.val_tar.empty())
    prepare_val(archives.val_tar, devkit->val_wnids, out_dir, state, run);
  if (!archives.train_tar.empty()) {
    prepare_train(archives.train_tar, devkit ? &*devkit : nullptr, out_dir, state, run);
  }
  return run.summary;
}

}  // namespace zoo
