// idx files: round trips (plain and gzip), every malformed case gives a zoo::Error of the
// right kind, and dataset resolution finds, validates and names what it reads.
#include "common/error.h"
#include "data/datasets.h"
#include "data/idx.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace zoo {
namespace {

using test::kind_of;
using test::TempDir;

std::string header(uint8_t type, std::vector<uint32_t> dims) {
  std::string h = {0, 0, static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims) {
    for (int s = 24; s >= 0; s -= 8) h.push_back(static_cast<char>((d >> s) & 0xff));
  }
  return h;
}

TEST(Idx, RoundTripPlainAndGzip) {
  TempDir dir;
  auto t = torch::randint(0, 256, {5, 7, 3}).to(torch::kUInt8);
  for (const std::string name : {"a-idx3-ubyte", "a-idx3-ubyte.gz"}) {
    write_idx(dir / name, t);
    auto back = read_idx(dir / name);
    EXPECT_TRUE(torch::equal(t, back)) << name;
  }
  // The plain file is byte-exact: 4 magic + 3*4 dims + data.
  EXPECT_EQ(test::read_file(dir / "a-idx3-ubyte").size(), 16u + 105u);
  EXPECT_EQ(test::read_file(dir / "a-idx3-ubyte").substr(0, 16), header(8, {5, 7, 3}));
}

TEST(Idx, MalformedFiles) {
  TempDir dir;
  auto bad = [&](const std::string& bytes) {
    test::write_file(dir / "f", bytes);
    return kind_of([&] { read_idx(dir / "f"); });
  };
  EXPECT_EQ(bad(""), ErrorKind::kBadData);                                   // empty
  EXPECT_EQ(bad("\x01\x02\x08\x01"), ErrorKind::kBadData);                   // bad magic
  EXPECT_EQ(bad(header(0x0D, {4}) + std::string(16, 'x')), ErrorKind::kBadData);  // float type
  EXPECT_EQ(bad(header(8, {})), ErrorKind::kBadData);                        // zero dims
  EXPECT_EQ(bad(header(8, {10, 28})), ErrorKind::kBadData);                  // header only
  EXPECT_EQ(bad(header(8, {10, 28}).substr(0, 7)), ErrorKind::kBadData);     // cut in header
  EXPECT_EQ(bad(header(8, {10}) + std::string(9, 'x')), ErrorKind::kBadData);   // truncated
  EXPECT_EQ(bad(header(8, {10}) + std::string(11, 'x')), ErrorKind::kBadData);  // trailing
  EXPECT_EQ(bad(header(8, {0})), ErrorKind::kBadData);                       // zero size
  EXPECT_EQ(kind_of([&] { read_idx(dir / "missing"); }), ErrorKind::kMissingInput);

  // A gzip stream cut in half.
  write_idx(dir / "g.gz", torch::randint(0, 256, {100, 28, 28}).to(torch::kUInt8));
  const std::string gz = test::read_file(dir / "g.gz");
  test::write_file(dir / "cut.gz", gz.substr(0, gz.size() / 2));
  EXPECT_EQ(kind_of([&] { read_idx(dir / "cut.gz"); }), ErrorKind::kBadData);
  // A gzip stream with corrupted bytes in the middle.
  std::string corrupt = gz;
  for (size_t i = corrupt.size() / 3; i < corrupt.size() / 3 + 64; ++i) corrupt[i] ^= 0x5a;
  test::write_file(dir / "corrupt.gz", corrupt);
  EXPECT_EQ(kind_of([&] { read_idx(dir / "corrupt.gz"); }), ErrorKind::kBadData);
}

TEST(Datasets, OpensIdxFolderWithClassNames) {
  TempDir dir;
  test::write_synthetic_idx(dir.path() / "fashion", 50, 20);
  SampleSpec spec;
  DataSplits s = open_dataset((dir.path() / "fashion").string(), DataOptions{spec});
  EXPECT_EQ(s.train->size(), 50u);
  EXPECT_EQ(s.val->size(), 20u);
  EXPECT_EQ(s.class_names, fashion_mnist_classes());  // "fashion" in the path
  test::write_synthetic_idx(dir.path() / "digits", 10, 10, 10, /*gz=*/false);
  EXPECT_EQ(open_dataset((dir.path() / "digits").string(), DataOptions{spec}).class_names, mnist_classes());

  // Samples are normalized floats of the requested shape; 28 -> 32 pads with background.
  spec.height = spec.width = 32;
  spec.mean = {0.5, 0.5, 0.5};
  spec.std = {0.5, 0.5, 0.5};
  DataSplits padded = open_dataset((dir.path() / "digits").string(), DataOptions{spec});
  std::vector<float> sample(32 * 32);
  padded.train->load(0, sample.data(), 0);
  EXPECT_FLOAT_EQ(sample[0], -1.0f);  // a padded pixel is 0 -> (0 - 0.5) / 0.5
  for (float v : sample) {
    EXPECT_GE(v, -1.0f);
    EXPECT_LE(v, 1.0f);
  }
}

TEST(Datasets, ErrorsSayWhatAndWhere) {
  TempDir dir;
  SampleSpec spec;
  try {
    open_dataset("mnist", DataOptions{spec});  // HOME/ZOO_DATA point nowhere useful in this test
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kMissingInput);
    EXPECT_NE(std::string(e.what()).find("looked in"), std::string::npos);
  }
  EXPECT_EQ(kind_of([&] { open_dataset((dir.path() / "nope").string(), DataOptions{spec}); }),
            ErrorKind::kMissingInput);
  EXPECT_EQ(kind_of([&] { open_dataset("imagenet-21k", DataOptions{spec}); }), ErrorKind::kUsage);
  EXPECT_EQ(kind_of([&] { open_dataset(dir.path().string(), DataOptions{spec}); }), ErrorKind::kBadData);

  // Labels out of range and image/label count mismatches are caught.
  test::write_synthetic_idx(dir.path() / "d", 20, 10);
  write_idx(dir / "d/train-labels-idx1-ubyte.gz", torch::full({20}, 12, torch::kUInt8));
  EXPECT_EQ(kind_of([&] { open_dataset(dir / "d", DataOptions{spec}); }), ErrorKind::kBadData);
  write_idx(dir / "d/train-labels-idx1-ubyte.gz", torch::zeros({19}, torch::kUInt8));
  EXPECT_EQ(kind_of([&] { open_dataset(dir / "d", DataOptions{spec}); }), ErrorKind::kBadData);
  write_idx(dir / "d/train-labels-idx1-ubyte.gz", torch::zeros({20}, torch::kUInt8));
  EXPECT_NO_THROW(open_dataset(dir / "d", DataOptions{spec}));
  std::filesystem::remove(dir / "d/t10k-labels-idx1-ubyte.gz");
  EXPECT_EQ(kind_of([&] { open_dataset(dir / "d", DataOptions{spec}); }), ErrorKind::kMissingInput);
}

TEST(Datasets, NameResolvesUnderZooData) {
  TempDir dir;
  test::write_synthetic_idx(dir.path() / "mnist", 10, 10);
  ::setenv("ZOO_DATA", dir.path().c_str(), 1);
  DataSplits s = open_dataset("mnist", DataOptions{});
  ::unsetenv("ZOO_DATA");
  EXPECT_EQ(s.location, (dir.path() / "mnist").string());
  EXPECT_EQ(s.train->size(), 10u);
}

}  // namespace
}  // namespace zoo
