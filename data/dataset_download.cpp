// Downloading the classic datasets; see dataset_download.h.
#include "data/dataset_download.h"

#include "common/error.h"
#include "data/archive.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace zoo {

namespace fs = std::filesystem;

const std::vector<DatasetSource>& dataset_sources() {
  static const std::vector<DatasetSource> sources = {
      {"cifar10", "cifar10", {"https://www.cs.toronto.edu/~kriz/"},
       {{"cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530", 170052171, true}},
       "https://www.cs.toronto.edu/~kriz/cifar.html"},
      {"cifar100", "cifar100", {"https://www.cs.toronto.edu/~kriz/"},
       {{"cifar-100-binary.tar.gz", "03b5dce01913d631647c71ecec9e9cb8", 168513733, true}},
       "https://www.cs.toronto.edu/~kriz/cifar.html"},
      {"mnist", "mnist", {"https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"},
       {{"train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873", 9912422, false},
        {"train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432", 28881, false},
        {"t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3", 1648877, false},
        {"t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", 4542, false}},
       "http://yann.lecun.com/exdb/mnist/"},
      {"fashion-mnist", "fashion-mnist", {"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"},
       {{"train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d", 26421880, false},
        {"train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe", 29515, false},
        {"t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79", 4422102, false},
        {"t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310", 5148, false}},
       "https://github.com/zalandoresearch/fashion-mnist"},
  };
  return sources;
}

const DatasetSource* find_dataset_source(const std::string& name) {
  for (const auto& s : dataset_sources()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::string dataset_source_names() {
  std::string names;
  for (const auto& s : dataset_sources()) names += (names.empty() ? "" : ", ") + s.name;
  return names;
}

std::string data_root() {
  if (const char* env = std::getenv("ZOO_DATA"); env && *env) return env;
  if (const char* home = std::getenv("HOME"); home && *home) return (fs::path(home) / ".zoo" / "data").string();
  throw usage_error("neither $ZOO_DATA nor $HOME is set, so zoo has no data folder; HINT: set ZOO_DATA");
}

namespace {

std::vector<ExpectedDigest> md5_of(const DatasetFile& f) {
  return {{DigestKind::kMd5, f.md5, false, "the published MD5 of " + f.name}};
}

// Copies `from` to `to` through a temporary name, so `to` is whole or absent.
void copy_whole(const fs::path& from, const fs::path& to) {
  const fs::path tmp = to.string() + ".partial";
  std::error_code ec;
  fs::copy_file(from, tmp, fs::copy_options::overwrite_existing, ec);
  if (!ec) fs::rename(tmp, to, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw io_error("cannot copy " + from.string() + " to " + to.string() + ": " + ec.message() +
                   "; HINT: check the free space and permissions of " + to.parent_path().string());
  }
}

// The user's copy of `f` in `from` (a folder holding it, or the file itself), or "".
fs::path user_copy(const std::string& from, const DatasetFile& f, bool single) {
  std::error_code ec;
  if (fs::is_directory(from, ec)) {
    const fs::path p = fs::path(from) / f.name;
    return fs::is_regular_file(p, ec) ? p : fs::path();
  }
  if (fs::is_regular_file(from, ec) && (single || fs::path(from).filename() == f.name)) return from;
  return {};
}

// The user's copy of `f` named by --from, verified against its published MD5.
fs::path verified_user_copy(const DatasetSource& source, const DatasetFile& f, const std::string& from) {
  const fs::path mine = user_copy(from, f, source.files.size() == 1);
  if (mine.empty()) {
    throw missing_error("--from " + from + " does not hold " + f.name + "; HINT: give the file, or a folder "
                        "holding " + std::to_string(source.files.size()) + " file(s) by their official names");
  }
  const std::string problem = digest_problem(mine.string(), md5_of(f));
  if (!problem.empty()) {
    throw data_error(mine.string() + " is not the official " + f.name + ": " + problem +
                     "; HINT: the file is damaged or another version: download it again (it was left in place)");
  }
  return mine;
}

// The file `f` verified at a local path: the user's copy `mine` (already verified; empty when
// there is none), the one already in `folder`, or a download from the mirrors.
fs::path obtain(const DatasetSource& source, const DatasetFile& f, const fs::path& mine, const fs::path& folder,
                const DatasetDownloadOptions& o, DatasetDownloadResult& result) {
  std::error_code ec;
  if (!mine.empty()) {
    ++result.verified_files;
    if (f.unpack) return mine;  // read where it is
    const fs::path dest = folder / f.name;
    if (!fs::exists(dest, ec) || !fs::equivalent(mine, dest, ec)) copy_whole(mine, dest);
    return dest;
  }
  const fs::path dest = folder / f.name;
  std::vector<std::string> mirrors = source.mirrors;
  if (!o.mirror.empty()) mirrors = {o.mirror + (o.mirror.back() == '/' ? "" : "/")};
  for (size_t i = 0; i < mirrors.size(); ++i) {
    try {
      if (fetch_file(mirrors[i] + f.name, dest.string(), md5_of(f), o.download) == FetchResult::kDownloaded) {
        ++result.downloaded_files;
      }
      ++result.verified_files;
      return dest;
    } catch (const Error& e) {
      // Offline, every mirror gives the same answer: the first one is the error.
      const bool next = i + 1 < mirrors.size() && !o.download.offline &&
                        (e.kind() == ErrorKind::kMissingInput || e.kind() == ErrorKind::kIO);
      if (!next) throw;
      spdlog::warn("{}; trying the next mirror", e.what());
    }
  }
  throw internal_error("no mirror for " + f.name);
}

// Unpacks `archive` into `folder`: into a staging folder first, then each top-level entry moved
// into place, replacing an older copy. A marker records the archive's MD5 and the files it
// gave, so a second run with the same archive does not unpack again while they are all there.
int64_t unpack(const fs::path& archive, const DatasetFile& f, const fs::path& folder, const DatasetDownloadOptions& o) {
  std::error_code ec;
  const fs::path marker = folder / (".unpacked-" + f.name);
  {
    std::ifstream in(marker);
    std::string md5;
    if (std::getline(in, md5) && md5 == f.md5) {
      bool all = true;
      for (std::string entry; std::getline(in, entry);) all = all && (entry.empty() || fs::exists(folder / entry, ec));
      if (all) return 0;
    }
  }
  const fs::path staging = folder / (".unpacking-" + f.name);
  fs::remove_all(staging, ec);  // what an interrupted run left
  ExtractOptions eo;
  eo.progress = o.unpack_progress;
  ExtractSummary summary;
  try {
    summary = extract_archive(archive.string(), staging.string(), eo);
  } catch (...) {
    fs::remove_all(staging, ec);
    throw;
  }
  std::vector<std::string> entries, files;
  for (const auto& entry : fs::directory_iterator(staging)) entries.push_back(entry.path().filename().string());
  for (const auto& entry : fs::recursive_directory_iterator(staging)) {
    if (entry.is_regular_file()) files.push_back(fs::relative(entry.path(), staging).string());
  }
  for (const auto& name : entries) {
    fs::remove_all(folder / name, ec);
    fs::rename(staging / name, folder / name, ec);
    if (ec) throw io_error("cannot move " + (staging / name).string() + " into " + folder.string() + ": " + ec.message());
  }
  fs::remove_all(staging, ec);
  std::string text = f.md5 + "\n";
  for (const auto& name : files) text += name + "\n";
  std::ofstream(marker) << text;
  return summary.files;
}

}  // namespace

DatasetDownloadResult download_dataset(const DatasetSource& source, const DatasetDownloadOptions& o) {
  DatasetDownloadResult result;
  const fs::path folder = fs::path(o.root) / source.folder;
  result.folder = folder.string();
  // Every input is checked before anything is written: the user's copies, or, offline, that
  // the files are already there (fetch_file refuses a missing one and creates nothing).
  std::vector<fs::path> mine(source.files.size());
  if (!o.from.empty()) {
    for (size_t i = 0; i < source.files.size(); ++i) mine[i] = verified_user_copy(source, source.files[i], o.from);
  }
  std::error_code ec;
  if (!o.download.offline || !o.from.empty()) {
    fs::create_directories(folder, ec);
    if (ec) {
      throw io_error("cannot create " + folder.string() + ": " + ec.message() +
                     "; HINT: set $ZOO_DATA to a writable folder");
    }
  }
  for (size_t i = 0; i < source.files.size(); ++i) {
    const DatasetFile& f = source.files[i];
    const fs::path local = obtain(source, f, mine[i], folder, o, result);
    if (f.unpack) result.unpacked_files += unpack(local, f, folder, o);
  }
  return result;
}

}  // namespace zoo
