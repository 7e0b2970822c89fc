// `zoo data download NAME`: the official files of the small classic datasets, fetched with
// common/download.h (resume, retries, stall timeout, lock), verified against their published
// MD5, and unpacked into $ZOO_DATA/NAME where `--data NAME` finds them:
//
//   cifar10        cifar-10-binary.tar.gz  -> cifar10/cifar-10-batches-bin/*.bin
//   cifar100       cifar-100-binary.tar.gz -> cifar100/cifar-100-binary/*.bin
//   mnist          the four idx .gz files  -> mnist/*-ubyte.gz (zoo reads .gz directly)
//   fashion-mnist  the four idx .gz files  -> fashion-mnist/*-ubyte.gz
//
// The MNIST and Fashion-MNIST digests are the ones torchvision's dataset classes carry; CIFAR
// comes as the binary version (zoo's reader; torchvision fetches the Python pickles), whose MD5
// the CIFAR page publishes. An archive is unpacked into a staging folder beside the target and
// moved into place when complete, so an interrupted unpack leaves no partial dataset under the
// name `--data` reads. `from` takes the files the user already has (a file, or a folder holding
// them by their official names): they are verified and used in place, never deleted.
#pragma once

#include "common/download.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace zoo {

struct DatasetFile {
  std::string name;     // the official file name
  std::string md5;      // its published MD5
  int64_t bytes = 0;    // its size, for messages (0: unknown)
  bool unpack = false;  // a .tar.gz to unpack; otherwise kept as it is
};

struct DatasetSource {
  std::string name;                  // what `zoo data download` and `--data` call it
  std::string folder;                // under $ZOO_DATA
  std::vector<std::string> mirrors;  // base URLs, tried in order: MIRROR/FILE
  std::vector<DatasetFile> files;
  std::string homepage;
};

// The datasets `zoo data download` knows, and one by name (nullptr when unknown).
const std::vector<DatasetSource>& dataset_sources();
const DatasetSource* find_dataset_source(const std::string& name);
std::string dataset_source_names();  // "cifar10, cifar100, mnist, fashion-mnist"

struct DatasetDownloadOptions {
  std::string root;    // the folder datasets live in ($ZOO_DATA, else ~/.zoo/data)
  std::string from;    // a file or folder holding files already downloaded; empty: the network
  std::string mirror;  // a base URL replacing the source's own (env ZOO_DATA_MIRROR)
  DownloadOptions download;
  // Called while unpacking with bytes of the archive read so far and its size.
  std::function<void(int64_t done, int64_t total)> unpack_progress;
};

struct DatasetDownloadResult {
  std::string folder;            // root/folder
  int64_t downloaded_files = 0;  // fetched over the network this time
  int64_t verified_files = 0;    // every file verified (downloaded, already there, or --from)
  int64_t unpacked_files = 0;    // files written by unpacking
};

// Fetches (or takes from `from`), verifies and unpacks `source` into root/folder. Errors:
// data_error (MD5 mismatch: a downloaded file is deleted, a `from` file is left alone; a damaged
// archive), missing_error (no such file at any mirror or in `from`), io_error (network after
// retries, disk full: nothing half-written is left under a final name), interrupted.
DatasetDownloadResult download_dataset(const DatasetSource& source, const DatasetDownloadOptions& options);

// The folder datasets live in: $ZOO_DATA, else ~/.zoo/data; usage_error when neither is set.
std::string data_root();

}  // namespace zoo
