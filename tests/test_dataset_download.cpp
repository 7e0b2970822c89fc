// `zoo data download`: the classic datasets fetched from a loopback HTTP server (tests/
// http_server.h) or taken from files the user has, verified by MD5, unpacked into $ZOO_DATA
// where `--data NAME` opens them; a wrong checksum deletes a downloaded file (exit 65) but
// never the user's own; a damaged or path-escaping archive leaves no dataset behind; the
// official table holds torchvision's digests.
#include "common/error.h"
#include "data/dataset_download.h"
#include "data/datasets.h"
#include "http_server.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <fstream>

namespace zoo {
namespace {

namespace fs = std::filesystem;
using test::kind_of;
using test::run_zoo;
using test::TempDir;

// cifar-10-batches-bin/ with `per_batch` records in each of the six batches, packed by tar.
void write_cifar10_tgz(const fs::path& work, const fs::path& archive, int per_batch) {
  const fs::path dir = work / "cifar-10-batches-bin";
  fs::create_directories(dir);
  auto batch = [&](const std::string& name, int seed) {
    std::string bytes;
    for (int i = 0; i < per_batch; ++i) {
      bytes += char((i + seed) % 10);
      for (int p = 0; p < 3072; ++p) bytes += char((p * 7 + i * 13 + seed) & 0xFF);
    }
    test::write_file((dir / name).string(), bytes);
  };
  for (int b = 1; b <= 5; ++b) batch("data_batch_" + std::to_string(b) + ".bin", b);
  batch("test_batch.bin", 9);
  test::write_file((dir / "batches.meta.txt").string(),
                   "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n");
  const std::string cmd = "tar -czf " + archive.string() + " -C " + work.string() + " cifar-10-batches-bin";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
}

DatasetSource cifar_like(const std::string& url, const std::string& md5) {
  return {"cifar10", "cifar10", {url + "/"}, {{"cifar-10-binary.tar.gz", md5, 0, true}}, ""};
}

DatasetDownloadOptions quiet_options(const fs::path& root) {
  DatasetDownloadOptions o;
  o.root = root.string();
  o.download.retries = 0;
  o.download.stall_timeout_s = 5;
  return o;
}

TEST(DatasetDownload, OfficialTableHasTorchvisionDigests) {
  EXPECT_EQ(dataset_source_names(), "cifar10, cifar100, mnist, fashion-mnist");
  const DatasetSource* mnist = find_dataset_source("mnist");
  ASSERT_NE(mnist, nullptr);
  ASSERT_EQ(mnist->files.size(), 4u);
  EXPECT_EQ(mnist->files[0].name, "train-images-idx3-ubyte.gz");
  EXPECT_EQ(mnist->files[0].md5, "f68b3c2dcbeaaa9fbdd348bbdeb94873");  // torchvision.datasets.MNIST
  EXPECT_EQ(find_dataset_source("fashion-mnist")->files[3].md5, "bb300cfdad3c16e7a12a480ee83cd310");
  EXPECT_EQ(find_dataset_source("cifar10")->files[0].md5, "c32a1d4ab5d03f1284b67883e8d87530");
  EXPECT_EQ(find_dataset_source("imagenet"), nullptr);
  for (const auto& s : dataset_sources()) {
    for (const auto& f : s.files) {
      EXPECT_EQ(f.md5.size(), 32u) << f.name;
      EXPECT_EQ(f.md5.find_first_not_of("0123456789abcdef"), std::string::npos) << f.name;
    }
  }
}

TEST(DatasetDownload, FetchesVerifiesUnpacksAndOpens) {
  TempDir tmp;
  fs::create_directories(tmp.path() / "served");
  write_cifar10_tgz(tmp.path() / "work", tmp.path() / "served/cifar-10-binary.tar.gz", 3);
  const std::string md5 = file_digest(tmp / "served/cifar-10-binary.tar.gz", DigestKind::kMd5);
  test::LoopbackServer server(tmp.path() / "served");
  const DatasetSource source = cifar_like(server.url(), md5);
  DatasetDownloadResult r = download_dataset(source, quiet_options(tmp.path() / "data"));
  EXPECT_EQ(r.folder, tmp / "data/cifar10");
  EXPECT_EQ(r.downloaded_files, 1);
  EXPECT_EQ(r.verified_files, 1);
  EXPECT_EQ(r.unpacked_files, 7);
  EXPECT_TRUE(fs::is_regular_file(tmp / "data/cifar10/cifar-10-batches-bin/data_batch_5.bin"));
  for (const auto& e : fs::directory_iterator(tmp.path() / "data/cifar10")) {
    EXPECT_EQ(e.path().filename().string().find(".unpacking"), std::string::npos) << e.path();
  }
  ::setenv("ZOO_DATA", (tmp / "data").c_str(), 1);
  DataOptions o;
  o.sample.channels = 3;
  o.sample.height = o.sample.width = 224;
  const DataSplits splits = open_dataset("cifar10", o);
  ::unsetenv("ZOO_DATA");
  EXPECT_EQ(splits.train->size(), 15u);
  EXPECT_EQ(splits.val->size(), 3u);
  EXPECT_EQ(splits.train->spec().height, 32);  // native size, not the model's 224

  // A second run finds the verified archive and the unpacked files: nothing fetched or written.
  const size_t requests = server.requests().size();
  r = download_dataset(source, quiet_options(tmp.path() / "data"));
  EXPECT_EQ(r.downloaded_files, 0);
  EXPECT_EQ(r.unpacked_files, 0);
  EXPECT_EQ(server.requests().size(), requests);
  // A damaged unpacked copy (a batch deleted) is unpacked again.
  fs::remove(tmp / "data/cifar10/cifar-10-batches-bin/data_batch_3.bin");
  EXPECT_THROW(open_dataset(tmp / "data/cifar10", DataOptions{}), Error);
  r = download_dataset(source, quiet_options(tmp.path() / "data"));
  EXPECT_EQ(r.unpacked_files, 7);
}

TEST(DatasetDownload, IdxFilesAreKeptAsTheyAreAndOpen) {
  TempDir tmp;
  test::write_synthetic_idx(tmp.path() / "served", 50, 20, 10);  // the four .gz files
  test::LoopbackServer server(tmp.path() / "served");
  DatasetSource mnist = *find_dataset_source("mnist");
  for (auto& f : mnist.files) f.md5 = file_digest(tmp / ("served/" + f.name), DigestKind::kMd5);
  DatasetDownloadOptions o = quiet_options(tmp.path() / "data");
  o.mirror = server.url();
  const DatasetDownloadResult r = download_dataset(mnist, o);
  EXPECT_EQ(r.downloaded_files, 4);
  EXPECT_EQ(r.unpacked_files, 0);
  for (const auto& f : mnist.files) {
    EXPECT_EQ(test::read_file(tmp / ("data/mnist/" + f.name)), test::read_file(tmp / ("served/" + f.name))) << f.name;
  }
  ::setenv("ZOO_DATA", (tmp / "data").c_str(), 1);
  DataOptions d;
  d.sample.channels = 1;
  d.sample.height = d.sample.width = 28;
  const DataSplits splits = open_dataset("mnist", d);
  ::unsetenv("ZOO_DATA");
  EXPECT_EQ(splits.train->size(), 50u);
  EXPECT_EQ(splits.val->size(), 20u);
  // One file damaged on the server: that one fails (and is deleted), the verified ones stay.
  fs::remove(tmp / "data/mnist/t10k-labels-idx1-ubyte.gz");
  test::write_file(tmp / "served/t10k-labels-idx1-ubyte.gz", "damaged");
  EXPECT_EQ(kind_of([&] { download_dataset(mnist, o); }), ErrorKind::kBadData);
  EXPECT_FALSE(fs::exists(tmp / "data/mnist/t10k-labels-idx1-ubyte.gz"));
  EXPECT_TRUE(fs::exists(tmp / "data/mnist/train-images-idx3-ubyte.gz"));
}

TEST(DatasetDownload, WrongChecksumDeletesTheDownloadButNeverTheUsersFile) {
  TempDir tmp;
  fs::create_directories(tmp.path() / "served");
  write_cifar10_tgz(tmp.path() / "work", tmp.path() / "served/cifar-10-binary.tar.gz", 2);
  test::LoopbackServer server(tmp.path() / "served");
  const DatasetSource wrong = cifar_like(server.url(), std::string(32, '0'));
  EXPECT_EQ(kind_of([&] { download_dataset(wrong, quiet_options(tmp.path() / "data")); }), ErrorKind::kBadData);
  EXPECT_FALSE(fs::exists(tmp / "data/cifar10/cifar-10-binary.tar.gz"));
  EXPECT_FALSE(fs::exists(tmp / "data/cifar10/cifar-10-binary.tar.gz.partial"));
  EXPECT_FALSE(fs::exists(tmp / "data/cifar10/cifar-10-batches-bin"));

  DatasetDownloadOptions from = quiet_options(tmp.path() / "data");
  from.from = tmp / "served/cifar-10-binary.tar.gz";
  EXPECT_EQ(kind_of([&] { download_dataset(wrong, from); }), ErrorKind::kBadData);
  EXPECT_TRUE(fs::exists(from.from));  // the user's file stays
  // The right digest: used in place (not copied), unpacked.
  const std::string md5 = file_digest(from.from, DigestKind::kMd5);
  const DatasetDownloadResult r = download_dataset(cifar_like(server.url(), md5), from);
  EXPECT_EQ(r.downloaded_files, 0);
  EXPECT_EQ(r.verified_files, 1);
  EXPECT_FALSE(fs::exists(tmp / "data/cifar10/cifar-10-binary.tar.gz"));
  EXPECT_TRUE(fs::exists(tmp / "data/cifar10/cifar-10-batches-bin/test_batch.bin"));
  from.from = tmp / "nowhere.tar.gz";
  EXPECT_EQ(kind_of([&] { download_dataset(cifar_like(server.url(), md5), from); }), ErrorKind::kMissingInput);
}

TEST(DatasetDownload, DamagedOrEscapingArchivesLeaveNoDataset) {
  TempDir tmp;
  fs::create_directories(tmp.path() / "served");
  write_cifar10_tgz(tmp.path() / "work", tmp.path() / "whole.tar.gz", 4);
  const std::string whole = test::read_file(tmp / "whole.tar.gz");
  test::write_file(tmp / "served/cifar-10-binary.tar.gz", whole.substr(0, whole.size() * 2 / 3));
  test::LoopbackServer server(tmp.path() / "served");
  // The checksum matches the truncated file, so the archive reader is what notices.
  const std::string md5 = file_digest(tmp / "served/cifar-10-binary.tar.gz", DigestKind::kMd5);
  EXPECT_EQ(kind_of([&] { download_dataset(cifar_like(server.url(), md5), quiet_options(tmp.path() / "data")); }),
            ErrorKind::kBadData);
  EXPECT_FALSE(fs::exists(tmp / "data/cifar10/cifar-10-batches-bin"));
  for (const auto& e : fs::directory_iterator(tmp.path() / "data/cifar10")) {
    EXPECT_EQ(e.path().filename().string().find(".unpacking"), std::string::npos) << e.path();
  }

  // A member that climbs out of the target folder is refused, and nothing lands outside it.
  fs::create_directories(tmp.path() / "evil/a");
  test::write_file(tmp / "evil/escaped.txt", "x");
  const std::string cmd = "tar -czf " + tmp / "served/evil.tar.gz" + " -C " + tmp / "evil/a" +
                          " --absolute-names ../escaped.txt 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  fs::remove(tmp / "evil/escaped.txt");
  const std::string evil_md5 = file_digest(tmp / "served/evil.tar.gz", DigestKind::kMd5);
  const DatasetSource evil{"evil", "evil", {server.url() + "/"}, {{"evil.tar.gz", evil_md5, 0, true}}, ""};
  EXPECT_EQ(kind_of([&] { download_dataset(evil, quiet_options(tmp.path() / "data")); }), ErrorKind::kBadData);
  EXPECT_FALSE(fs::exists(tmp / "data/escaped.txt"));
  EXPECT_FALSE(fs::exists(tmp / "data/evil/escaped.txt"));
}

TEST(DatasetDownloadCli, MirrorChecksumAndNames) {
  TempDir tmp;
  fs::create_directories(tmp.path() / "served");
  for (const char* f : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                        "t10k-labels-idx1-ubyte.gz"}) {
    test::write_file((tmp.path() / "served" / f).string(), "not the official file");
  }
  test::LoopbackServer server(tmp.path() / "served");
  const std::string env = "ZOO_DATA=" + tmp / "data" + " ZOO_DOWNLOAD_RETRIES=0";
  auto r = run_zoo("data download mnist --mirror " + server.url(), env);
  EXPECT_EQ(r.exit_code, 65) << r.err;
  EXPECT_NE(r.err.find("MD5"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp / "data/mnist/train-images-idx3-ubyte.gz"));
  r = run_zoo("data download mnist", env + " ZOO_DATA_MIRROR=" + server.url());
  EXPECT_EQ(r.exit_code, 65) << r.err;
  r = run_zoo("data download mnist --from " + tmp / "served", env);
  EXPECT_EQ(r.exit_code, 65) << r.err;
  EXPECT_TRUE(fs::exists(tmp / "served/train-images-idx3-ubyte.gz"));
  r = run_zoo("data download imagenet", env);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("zoo data prepare imagenet"), std::string::npos) << r.err;
  r = run_zoo("data download cifar10 --from " + tmp / "none.tar.gz", env);
  EXPECT_EQ(r.exit_code, 66) << r.err;
  r = run_zoo("train resnet18 --data cifar10", env);
  EXPECT_EQ(r.exit_code, 66);
  EXPECT_NE(r.err.find("zoo data download cifar10"), std::string::npos) << r.err;
  r = run_zoo("data download mnist", env + " ZOO_OFFLINE=1");
  EXPECT_EQ(r.exit_code, 66) << r.err;
}

// zoo data prepare imagenet through the binary, on the miniature official archives the fixture
// script writes: the class folders torchvision builds, a rerun that skips what is done, then
// training on the result.
TEST(DatasetPrepareCli, ImagenetFromArchives) {
  if (std::system("/usr/bin/python3 -c 'import scipy, torchvision' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "/usr/bin/python3 lacks scipy or torchvision (apt-get install python3-scipy python3-torchvision)";
  }
  TempDir tmp;
  const std::string script = std::string(ZOO_SOURCE_DIR) + "/scripts/fixtures/imagenet_archives.py";
  ASSERT_EQ(std::system(("/usr/bin/python3 " + script + " " + tmp.path().string() + " >/dev/null").c_str()), 0);
  const std::string out = tmp / "prepared";
  auto r = run_zoo("data prepare imagenet --from " + tmp / "archives" + " --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("imagenet ready in " + out + ": 3 classes, 12 train and 9 val files"), std::string::npos) << r.out;
  // File for file what torchvision's parse functions built.
  size_t compared = 0;
  for (const auto& e : fs::recursive_directory_iterator(tmp.path() / "torchvision")) {
    if (!e.is_regular_file()) continue;
    const fs::path rel = fs::relative(e.path(), tmp.path() / "torchvision");
    EXPECT_EQ(test::read_file(e.path().string()), test::read_file((fs::path(out) / rel).string())) << rel;
    ++compared;
  }
  EXPECT_EQ(compared, 21u);
  r = run_zoo("data prepare imagenet --from " + tmp / "archives" + " --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("0 written now"), std::string::npos) << r.out;
  r = run_zoo("train resnet18 --data " + out + " --epochs 1 --limit-batches 1 --batch-size 4 --input-size 32 --name in "
              "--runs-dir " + tmp / "runs");
  EXPECT_EQ(r.exit_code, 0) << r.err;

  EXPECT_EQ(run_zoo("data prepare cifar10 --from " + tmp / "archives").exit_code, 2);
  EXPECT_EQ(run_zoo("data prepare imagenet").exit_code, 2);
  EXPECT_EQ(run_zoo("data prepare imagenet --from " + tmp / "nowhere").exit_code, 66);
  r = run_zoo("data prepare imagenet --val-tar " + tmp / "archives/ILSVRC2012_img_val.tar" + " --out " + tmp / "x");
  EXPECT_EQ(r.exit_code, 66);
  EXPECT_NE(r.err.find("devkit"), std::string::npos) << r.err;
  // A damaged archive: one error line, exit 65.
  const std::string val = test::read_file(tmp / "archives/ILSVRC2012_img_val.tar");
  test::write_file(tmp / "cut.tar", val.substr(0, val.size() / 3));
  r = run_zoo("data prepare imagenet --val-tar " + tmp / "cut.tar" + " --devkit " +
              tmp / "archives/ILSVRC2012_devkit_t12.tar.gz" + " --out " + tmp / "y");
  EXPECT_EQ(r.exit_code, 65) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

}  // namespace
}  // namespace zoo
