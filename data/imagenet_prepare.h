// Preparing ImageNet (ILSVRC2012) from its official archives into the folder tree torchvision's
// datasets.ImageNet builds (parse_train_archive, parse_val_archive), which ImageFolder reads:
//
//   OUT/train/<WNID>/<member>    each WNID.tar inside ILSVRC2012_img_train.tar, read nested
//                                (never unpacked to a temporary copy)
//   OUT/val/<WNID>/<file>        ILSVRC2012_img_val.tar's flat files, sorted by name, the i-th
//                                in the class of the devkit's i-th ground-truth line
//
// The devkit (ILSVRC2012_devkit_t12.tar.gz: data/meta.mat and
// data/ILSVRC2012_validation_ground_truth.txt) is read into memory and parsed by
// imagenet_devkit.h; it is required for the val split, and when given, every inner train
// archive must be named <WNID>.tar for one of its 1,000 leaf WNIDs (without it, any name of the
// form n<8 digits>.tar is accepted). torchvision's meta.bin is not written.
//
// The val split is done first (it is short, and pairing its files with the ground truth checks
// the devkit early), then the train split.
//
// Resumable: every file is written to a temporary name and renamed into place; each finished
// unit (one train class, the whole val split) is flushed to disk (syncfs) and then recorded in
// OUT/.zoo-prepare (one line per unit, appended and fsynced). A rerun after an interruption
// (even kill -9) removes leftover temporary files, skips recorded units whose folder still
// holds at least the recorded number of files (for a class, a seek past its inner tar) and
// redoes the rest, so it ends with the same tree. A redone unit rewrites every file, even one
// already there with the right size: after a power loss a file's size does not prove its
// bytes, and only finished units are known to be on disk. To redo a unit, delete its line (or
// the file). A line recorded for an archive of another size does not count. The output
// directory is locked (flock) while a prepare runs in it.
//
// Errors: no split given, or val without the devkit -> usage_error (before anything is read);
// a missing archive -> missing_error (all are checked before work starts); not an archive,
// truncated, an unsafe member path, a link member, a bad or repeated inner archive name, a val
// file count that differs from the ground truth, a train archive holding fewer classes than
// the devkit lists (reported after preparing those it holds) -> data_error; a failed write, or
// another prepare running in OUT -> io_error.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace zoo {

struct ImagenetArchives {
  std::string train_tar;  // ILSVRC2012_img_train.tar; empty: skip the train split
  std::string val_tar;    // ILSVRC2012_img_val.tar; empty: skip the val split
  std::string devkit;     // ILSVRC2012_devkit_t12.tar.gz; required with val_tar
};

struct PrepareProgress {
  std::string split;          // "train" or "val"
  std::string unit;           // the class WNID (train) or "val"
  bool unit_done = false;     // false: a tick inside the unit (every few hundred files)
  bool unit_skipped = false;  // with unit_done: recorded by an earlier run, not rewritten
  int64_t units_done = 0;     // units of this split finished so far, skipped ones included
  int64_t units_total = 0;    // train: the devkit's class count (0 without it); val: 1
  int64_t files_written = 0;  // in this run, all splits
  int64_t bytes_written = 0;
  int64_t archive_position = 0;  // bytes of this split's archive consumed, and its size
  int64_t archive_size = 0;
};
using PrepareProgressFn = std::function<void(const PrepareProgress&)>;

struct PrepareOptions {
  PrepareProgressFn progress;    // may throw (e.g. zoo::Error kInterrupted) to stop
  bool fsync_each_file = false;  // fsync every file; by default one syncfs per unit
};

struct PrepareSummary {
  int64_t classes = 0;        // train classes in the tree (written now or before)
  int64_t train_files = 0;    // files in OUT/train (written now or before)
  int64_t val_files = 0;      // files in OUT/val (written now or before)
  int64_t files_written = 0;  // in this run
  int64_t bytes_written = 0;  // in this run
  int64_t units_skipped = 0;  // recorded as done by an earlier run
};

PrepareSummary prepare_imagenet(const ImagenetArchives& archives, const std::string& out_dir,
                                const PrepareOptions& options = {});

// The state file under out_dir.
inline constexpr const char* kImagenetPrepareState = ".zoo-prepare";

}  // namespace zoo
